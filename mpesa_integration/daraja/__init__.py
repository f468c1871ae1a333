"""A thin, dependency-free Daraja (Safaricom M-Pesa API) client and a Daraja-compatible local simulator.

Nothing in this package imports Django: the client takes its credentials as arguments and its token cache as any
object with ``get(key)`` / ``set(key, value, timeout)`` (``django.core.cache.cache`` fits). Only ``cryptography``
(for the initiator SecurityCredential) and ``phonenumbers`` are needed besides the standard library.
"""

from mpesa_integration.daraja.client import (
    AsyncAccepted,
    DarajaClient,
    InMemoryTokenCache,
    StkPushResult,
    StkQueryResult,
    normalize_msisdn,
)
from mpesa_integration.daraja.credentials import generate_simulator_credentials
from mpesa_integration.daraja.errors import (
    DarajaAuthError,
    DarajaDuplicateOriginator,
    DarajaError,
    DarajaRequestError,
    DarajaTimeout,
    DarajaUnavailable,
    DarajaValidationError,
)
from mpesa_integration.daraja.results import (
    AsyncResult,
    C2BPayment,
    StkCallback,
    parse_account_balance,
    parse_async_result,
    parse_c2b,
    parse_stk_callback,
)

__all__ = [
    "AsyncAccepted",
    "AsyncResult",
    "C2BPayment",
    "DarajaAuthError",
    "DarajaClient",
    "DarajaDuplicateOriginator",
    "DarajaError",
    "DarajaRequestError",
    "DarajaTimeout",
    "DarajaUnavailable",
    "DarajaValidationError",
    "InMemoryTokenCache",
    "StkCallback",
    "StkPushResult",
    "StkQueryResult",
    "generate_simulator_credentials",
    "normalize_msisdn",
    "parse_account_balance",
    "parse_async_result",
    "parse_c2b",
    "parse_stk_callback",
]
