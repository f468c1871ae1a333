"""
The Daraja client as the app uses it: configured from settings, its OAuth token shared by every worker through the
Django cache (Redis in production) and refreshed under a cache lock, so a fleet of workers fetches one token at a time
(a new token invalidates the previous one, daraja.md §1.3). Also the callback URLs we hand to Daraja.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from mpesa_integration.daraja import DarajaClient

LOCK_TIMEOUT = 15  # seconds a token fetch may hold the lock (longer than the client timeout)
LOCK_WAIT = 12.0


class CachedTokenDarajaClient(DarajaClient):
    """A DarajaClient whose token fetch is serialised across processes by a cache lock (cache.add is atomic)."""

    def get_token(self, *, force_refresh: bool = False, stale_token: str | None = None) -> str:
        if not force_refresh:
            token = self.token_cache.get(self.token_cache_key)
            if token:
                return token
        lock_key = f"{self.token_cache_key}:lock"
        deadline = time.monotonic() + LOCK_WAIT
        while not cache.add(lock_key, "1", timeout=LOCK_TIMEOUT):
            time.sleep(0.05)
            token = self.token_cache.get(self.token_cache_key)
            if token and (not force_refresh or (stale_token is not None and token != stale_token)):
                return token  # another worker refreshed it meanwhile
            if time.monotonic() > deadline:
                break  # a crashed holder: its lock expires; fetch ourselves rather than fail the payment
        try:
            return super().get_token(force_refresh=force_refresh, stale_token=stale_token)
        finally:
            cache.delete(lock_key)


def client_get(**overrides: Any) -> DarajaClient:
    """A client for the configured Daraja (the local simulator by default)."""
    options: dict[str, Any] = {
        "base_url": settings.MPESA_BASE_URL,
        "consumer_key": settings.MPESA_CONSUMER_KEY,
        "consumer_secret": settings.MPESA_CONSUMER_SECRET,
        "shortcode": settings.MPESA_SHORTCODE,
        "passkey": settings.MPESA_PASSKEY,
        "timeout": settings.MPESA_TIMEOUT,
        "token_cache": cache,
        "initiator_name": settings.MPESA_INITIATOR_NAME,
        "initiator_password": settings.MPESA_INITIATOR_PASSWORD,
        "certificate_path": settings.MPESA_CERTIFICATE_PATH,
        "b2c_shortcode": settings.MPESA_B2C_SHORTCODE,
        "c2b_shortcode": settings.MPESA_C2B_SHORTCODE,
        "c2b_version": settings.MPESA_C2B_VERSION,
    }
    options.update(overrides)
    return CachedTokenDarajaClient(**options)


CALLBACK_PATHS = {
    "stk": "mpesa/callbacks/{secret}/stk/",
    "b2c_result": "mpesa/callbacks/{secret}/b2c/result/",
    "b2c_timeout": "mpesa/callbacks/{secret}/b2c/timeout/",
    "status_result": "mpesa/callbacks/{secret}/status/result/",
    "status_timeout": "mpesa/callbacks/{secret}/status/timeout/",
    "reversal_result": "mpesa/callbacks/{secret}/reversal/result/",
    "reversal_timeout": "mpesa/callbacks/{secret}/reversal/timeout/",
    "balance_result": "mpesa/callbacks/{secret}/balance/result/",
    "balance_timeout": "mpesa/callbacks/{secret}/balance/timeout/",
    # C2B URLs may not contain "mpesa" (Safaricom refuses to register them, daraja.md §1.8): a neutral prefix.
    "c2b_validation": "payments/hooks/{secret}/c2b-validate/",
    "c2b_confirmation": "payments/hooks/{secret}/c2b-confirm/",
}


def callback_url(kind: str) -> str:
    """The absolute URL Daraja should call for `kind` (a key of CALLBACK_PATHS), carrying the current secret."""
    path = CALLBACK_PATHS[kind].format(secret=settings.MPESA_CALLBACK_SECRET)
    return f"{settings.MPESA_CALLBACK_BASE_URL.rstrip('/')}/api/v1/{path}"
