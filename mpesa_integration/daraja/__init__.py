"""A thin, dependency-free Daraja (Safaricom M-Pesa API) client and a Daraja-compatible local simulator.

Nothing in this package imports Django: the client takes its credentials as arguments and its token cache as any
object with ``get(key)`` / ``set(key, value, timeout)`` (``django.core.cache.cache`` fits).
"""

from mpesa_integration.daraja.client import (
    DarajaClient,
    InMemoryTokenCache,
    StkPushResult,
    StkQueryResult,
    normalize_msisdn,
)
from mpesa_integration.daraja.errors import (
    DarajaAuthError,
    DarajaError,
    DarajaRequestError,
    DarajaTimeout,
    DarajaUnavailable,
    DarajaValidationError,
)

__all__ = [
    "DarajaAuthError",
    "DarajaClient",
    "DarajaError",
    "DarajaRequestError",
    "DarajaTimeout",
    "DarajaUnavailable",
    "DarajaValidationError",
    "InMemoryTokenCache",
    "StkPushResult",
    "StkQueryResult",
    "normalize_msisdn",
]
