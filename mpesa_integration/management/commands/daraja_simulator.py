"""``manage.py daraja_simulator``: run the local Daraja simulator with the app's own M-Pesa settings.

The defaults come from django.conf.settings (MPESA_CONSUMER_KEY, MPESA_CONSUMER_SECRET, MPESA_SHORTCODE,
MPESA_PASSKEY, MPESA_INITIATOR_NAME, MPESA_INITIATOR_PASSWORD, MPESA_B2C_SHORTCODE, MPESA_C2B_SHORTCODE), so the
app's client and the simulator agree without extra flags. The port defaults to the one in MPESA_BASE_URL when that
points at this machine. The simulator's key pair is written to (or reused from) ``<BASE_DIR>/var/daraja-simulator``:
``cert.pem`` there is what MPESA_CERTIFICATE_PATH should name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from mpesa_integration.daraja import simulator

#: option -> (setting name, default when the setting is missing or empty)
SETTING_DEFAULTS: dict[str, tuple[str, str]] = {
    "consumer_key": ("MPESA_CONSUMER_KEY", simulator.DEFAULT_CONSUMER_KEY),
    "consumer_secret": ("MPESA_CONSUMER_SECRET", simulator.DEFAULT_CONSUMER_SECRET),
    "shortcode": ("MPESA_SHORTCODE", simulator.SANDBOX_SHORTCODE),
    "passkey": ("MPESA_PASSKEY", simulator.SANDBOX_PASSKEY),
    "initiator_name": ("MPESA_INITIATOR_NAME", simulator.DEFAULT_INITIATOR_NAME),
    "initiator_password": ("MPESA_INITIATOR_PASSWORD", simulator.DEFAULT_INITIATOR_PASSWORD),
    "b2c_shortcode": ("MPESA_B2C_SHORTCODE", simulator.DEFAULT_B2C_SHORTCODE),
    "c2b_shortcode": ("MPESA_C2B_SHORTCODE", simulator.DEFAULT_C2B_SHORTCODE),
}
DEFAULT_PORT = 8089
CREDENTIALS_SUBDIR = Path("var") / "daraja-simulator"


def defaults_from_settings(source: Any = settings) -> dict[str, Any]:
    """The command's option defaults read from ``source`` with getattr(source, NAME, default)."""
    defaults: dict[str, Any] = {}
    for option, (name, fallback) in SETTING_DEFAULTS.items():
        value = getattr(source, name, fallback)
        defaults[option] = str(value) if value not in (None, "") else fallback
    base_url = urlsplit(str(getattr(source, "MPESA_BASE_URL", "") or ""))
    local = base_url.hostname in ("127.0.0.1", "localhost") and base_url.port
    defaults["port"] = base_url.port if local else DEFAULT_PORT
    base_dir = getattr(source, "BASE_DIR", None)
    defaults["credentials_dir"] = str(Path(base_dir) / CREDENTIALS_SUBDIR if base_dir else CREDENTIALS_SUBDIR)
    return defaults


class Command(BaseCommand):
    help = "Run the local Daraja (M-Pesa) simulator, configured from the MPESA_* settings."

    server: simulator.SimulatorServer | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        simulator.add_arguments(parser, defaults_from_settings())

    def handle(self, *args: Any, **options: Any) -> None:
        """Build the server (writing or reusing the key pair), print where it listens and its certificate, serve."""
        self.server = simulator.server_from_options(options)
        simulator.serve(self.server, self.stdout.write)
