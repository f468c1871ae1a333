"""The simulator's default initiator key pair: generated once per process, its certificate in a temp directory."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpesa_integration.daraja import credentials

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

_default_pair_lock = threading.Lock()
_default_pair: tuple[RSAPrivateKey, str] | None = None


def write_temp_certificate(certificate: Any) -> str:
    """Write a PEM certificate to a fresh temporary directory (removed at exit); return the file's path."""
    directory = tempfile.mkdtemp(prefix="daraja-simulator-")
    atexit.register(shutil.rmtree, directory, True)
    path = Path(directory) / credentials.CERTIFICATE_FILENAME
    path.write_bytes(credentials.certificate_pem(certificate))
    return str(path)


def default_key_pair() -> tuple[RSAPrivateKey, str]:
    """One in-memory key pair per process (key generation costs ~0.1 s), its certificate in a temp directory."""
    global _default_pair
    with _default_pair_lock:
        if _default_pair is None:
            key, certificate = credentials.generate_key_pair()
            _default_pair = (key, write_temp_certificate(certificate))
        return _default_pair
