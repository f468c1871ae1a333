"""The initiator SecurityCredential (daraja.md §1.6) and the simulator's own key pair.

Daraja's initiator APIs (B2C, Transaction Status, Account Balance, Reversal) take the API operator's password
encrypted with RSA PKCS#1 v1.5 under the public key of Safaricom's X.509 certificate, base64-encoded (about 344
characters for a 2048-bit key). Safaricom's certificates are old, so their validity dates are deliberately not
checked. The simulator holds a key pair of its own: it decrypts the credential and compares it with the initiator
password, exactly the check Daraja performs.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from mpesa_integration.daraja.errors import DarajaValidationError

CERTIFICATE_FILENAME = "cert.pem"
PRIVATE_KEY_FILENAME = "key.pem"
KEY_SIZE = 2048


def load_certificate_public_key(path: str | os.PathLike[str]) -> rsa.RSAPublicKey:
    """The RSA public key of a PEM or DER X.509 certificate (Safaricom ships ``.cer`` files in either encoding).

    Raises DarajaValidationError("certificate_path") when the file is missing, unreadable, not a certificate or
    not RSA. The certificate's validity period is ignored on purpose (the official ones have expired).
    """
    if not path:
        raise DarajaValidationError("certificate_path", "A certificate path is required for initiator APIs.")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DarajaValidationError("certificate_path", f"Cannot read the certificate {path}: {exc}") from None
    try:
        if b"-----BEGIN" in data:
            certificate = x509.load_pem_x509_certificate(data)
        else:
            certificate = x509.load_der_x509_certificate(data)
        public_key = certificate.public_key()
    except ValueError as exc:
        raise DarajaValidationError("certificate_path", f"{path} is not an X.509 certificate: {exc}") from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise DarajaValidationError("certificate_path", f"{path} does not carry an RSA public key.")
    return public_key


def load_private_key(path: str | os.PathLike[str]) -> rsa.RSAPrivateKey:
    """An unencrypted PEM RSA private key (the simulator's)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def encrypt_security_credential(password: str, public_key: rsa.RSAPublicKey) -> str:
    """base64(RSA-PKCS#1-v1.5(password)). Random padding: two calls give different (equally valid) strings."""
    return base64.b64encode(public_key.encrypt(password.encode(), padding.PKCS1v15())).decode("ascii")


def decrypt_security_credential(credential: str, private_key: rsa.RSAPrivateKey) -> str:
    """The plaintext initiator password inside a SecurityCredential; ValueError when it cannot be decrypted."""
    try:
        ciphertext = base64.b64decode(credential, validate=True)
        return private_key.decrypt(ciphertext, padding.PKCS1v15()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"SecurityCredential cannot be decrypted: {exc}") from None


def self_signed_certificate(key: rsa.RSAPrivateKey, common_name: str = "ChamaHub Daraja simulator") -> x509.Certificate:
    """A self-signed certificate for ``key`` (valid 10 years; Daraja clients do not check validity anyway)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(tz=UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def generate_key_pair(common_name: str = "ChamaHub Daraja simulator") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh 2048-bit RSA key and a self-signed certificate for it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    return key, self_signed_certificate(key, common_name)


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so a concurrent reader never sees half a key."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _pair_matches(cert_path: Path, key_path: Path) -> bool:
    try:
        public_key = load_certificate_public_key(cert_path)
        private_key = load_private_key(key_path)
    except (DarajaValidationError, ValueError, OSError):
        return False
    return public_key.public_numbers() == private_key.public_key().public_numbers()


def generate_simulator_credentials(directory: str | os.PathLike[str]) -> tuple[str, str]:
    """``(cert_path, key_path)`` of the simulator's key pair in ``directory`` (``cert.pem``, ``key.pem``).

    Idempotent: an existing matching pair is reused, so the app (which encrypts with ``cert.pem``) and a simulator
    restarted later agree. A missing, unreadable or mismatched pair is replaced. The key file is mode 0600.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / CERTIFICATE_FILENAME, folder / PRIVATE_KEY_FILENAME
    if not (cert_path.exists() and key_path.exists() and _pair_matches(cert_path, key_path)):
        key, certificate = generate_key_pair()
        _write_atomically(key_path, private_key_pem(key), 0o600)
        _write_atomically(cert_path, certificate_pem(certificate), 0o644)
    return str(cert_path), str(key_path)
