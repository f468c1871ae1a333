"""``python -m mpesa_integration.daraja.simulator``: run the simulator standalone (see cli.py)."""

import sys

from mpesa_integration.daraja.simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
