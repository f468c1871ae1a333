"""Running the simulator standalone: ``python -m mpesa_integration.daraja.simulator`` (main) and the options it
shares with ``manage.py daraja_simulator`` (add_arguments, server_from_options, build_server, serve)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from mpesa_integration.daraja import credentials
from mpesa_integration.daraja.simulator.constants import (
    DEFAULT_B2C_SHORTCODE,
    DEFAULT_C2B_SHORTCODE,
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_INITIATOR_NAME,
    DEFAULT_INITIATOR_PASSWORD,
    SANDBOX_PASSKEY,
    SANDBOX_SHORTCODE,
)
from mpesa_integration.daraja.simulator.server import SimulatorServer


def build_server(
    host: str = "127.0.0.1",
    port: int = 8089,
    *,
    credentials_dir: str | None = None,
    **options: Any,
) -> SimulatorServer:
    """A SimulatorServer whose key pair lives in ``credentials_dir`` (created or reused there, so the app's
    MPESA_CERTIFICATE_PATH can point at ``<dir>/cert.pem``), or a per-process temporary pair without it."""
    if credentials_dir:
        cert_path, key_path = credentials.generate_simulator_credentials(credentials_dir)
        options.setdefault("certificate_path", cert_path)
        options.setdefault("private_key_path", key_path)
    return SimulatorServer((host, port), **options)


def serve(server: SimulatorServer, write: Callable[[str], Any]) -> None:
    """Announce the server through ``write`` and serve until interrupted (or until server.shutdown())."""
    host, port = server.server_address[:2]
    write(
        f"Daraja simulator listening on http://{host}:{port} (STK shortcode {server.shortcode}, "
        f"B2C {server.b2c_shortcode}, C2B {server.c2b_shortcode}, initiator {server.initiator_name})\n"
        f"Initiator certificate: {server.certificate_path}\n"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.cancel_timers()
        server.server_close()


def add_arguments(parser: argparse.ArgumentParser, defaults: dict[str, Any] | None = None) -> None:
    """The command-line options shared by ``python -m`` and ``manage.py daraja_simulator``."""
    d = {
        "host": "127.0.0.1",
        "port": 8089,
        "callback_delay": 0.5,
        "credentials_dir": None,
        "consumer_key": DEFAULT_CONSUMER_KEY,
        "consumer_secret": DEFAULT_CONSUMER_SECRET,
        "shortcode": SANDBOX_SHORTCODE,
        "passkey": SANDBOX_PASSKEY,
        "initiator_name": DEFAULT_INITIATOR_NAME,
        "initiator_password": DEFAULT_INITIATOR_PASSWORD,
        "b2c_shortcode": DEFAULT_B2C_SHORTCODE,
        "c2b_shortcode": DEFAULT_C2B_SHORTCODE,
        **(defaults or {}),
    }
    parser.add_argument("--host", default=d["host"])
    parser.add_argument("--port", type=int, default=d["port"])
    parser.add_argument("--callback-delay", type=float, default=d["callback_delay"], help="seconds before callbacks")
    parser.add_argument(
        "--credentials-dir",
        default=d["credentials_dir"],
        help="where cert.pem/key.pem are written or reused (default: a temporary pair per run)",
    )
    parser.add_argument("--consumer-key", default=d["consumer_key"])
    parser.add_argument("--consumer-secret", default=d["consumer_secret"])
    parser.add_argument("--shortcode", default=d["shortcode"], help="the STK (Express) shortcode")
    parser.add_argument("--passkey", default=d["passkey"])
    parser.add_argument("--initiator-name", default=d["initiator_name"])
    parser.add_argument("--initiator-password", default=d["initiator_password"])
    parser.add_argument("--b2c-shortcode", default=d["b2c_shortcode"])
    parser.add_argument("--c2b-shortcode", default=d["c2b_shortcode"])
    parser.add_argument("--c2b-external-validation", action="store_true", help="POST C2B validation requests")
    parser.add_argument("--duplicate-window", type=float, default=120, help="STK code-17 window, 0 disables")
    parser.add_argument("--no-control-api", dest="control_api", action="store_false", help="hide /simulator/")


def server_from_options(options: dict[str, Any]) -> SimulatorServer:
    """Build the server from parsed options (argparse namespace vars or a management command's options)."""
    return build_server(
        options["host"],
        options["port"],
        credentials_dir=options.get("credentials_dir"),
        consumer_key=options["consumer_key"],
        consumer_secret=options["consumer_secret"],
        shortcode=options["shortcode"],
        passkey=options["passkey"],
        callback_delay=options["callback_delay"],
        initiator_name=options["initiator_name"],
        initiator_password=options["initiator_password"],
        b2c_shortcode=options["b2c_shortcode"],
        c2b_shortcode=options["c2b_shortcode"],
        c2b_external_validation=options.get("c2b_external_validation", False),
        duplicate_window=options.get("duplicate_window", 120),
        control_api=options.get("control_api", True),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Daraja-compatible M-Pesa simulator (OAuth, STK, B2C, C2B, Status, Balance, Reversal)."
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = server_from_options(vars(args))

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    serve(server, write)
    return 0
