"""Typed Daraja errors.

Gateway errors arrive as ``{"requestId", "errorCode", "errorMessage"}`` with an HTTP 4xx/5xx status. Codes are kept
as strings (``"404.001.03"``, ``"500.001.1001"``), never parsed into numbers.
"""

from __future__ import annotations

INVALID_ACCESS_TOKEN = "404.001.03"
BAD_REQUEST = "400.002.02"
RESOURCE_NOT_FOUND = "404.001.01"
METHOD_NOT_ALLOWED = "405.001"
MERCHANT_ERROR = "500.001.1001"  # wrong credentials, merchant does not exist, "being processed" on STK Query
DUPLICATE_ORIGINATOR = "500.002.1001"  # B2C: this OriginatorConversationID was already used
SYSTEM_BUSY = "500.003.02"
QUOTA_VIOLATION = "500.003.03"
INTERNAL_ERROR = "500.003.1001"
OAUTH_INVALID_AUTH_TYPE = "400.008.01"
OAUTH_INVALID_GRANT_TYPE = "400.008.02"


class DarajaError(Exception):
    """Daraja answered with an error (or did not answer). All fields are strings except ``http_status``."""

    def __init__(
        self,
        request_id: str = "",
        error_code: str = "",
        error_message: str = "",
        http_status: int | None = None,
    ) -> None:
        self.request_id = str(request_id or "")
        self.error_code = str(error_code or "")
        self.error_message = str(error_message or "")
        self.http_status = http_status
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [p for p in (self.error_code, self.error_message) if p]
        text = ": ".join(parts) or self.__class__.__name__
        if self.http_status is not None:
            text += f" (HTTP {self.http_status})"
        if self.request_id:
            text += f" [requestId {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(request_id={self.request_id!r}, error_code={self.error_code!r}, "
            f"error_message={self.error_message!r}, http_status={self.http_status!r})"
        )


class DarajaAuthError(DarajaError):
    """OAuth failed (bad consumer key/secret, wrong auth or grant type) or a token was still refused after a refresh."""


class DarajaRequestError(DarajaError):
    """Daraja refused the request itself: a bad field, wrong Password ("Wrong credentials"), unknown merchant."""


class DarajaDuplicateOriginator(DarajaRequestError):
    """500.002.1001: Daraja already accepted a request with this OriginatorConversationID.

    For a B2C payout resent after a timeout with the same id, this means "already accepted": the first request's
    Result (or a Transaction Status query) tells the outcome. Never retry with a fresh id instead.
    """


class DarajaUnavailable(DarajaError):
    """Daraja could not be reached or is overloaded (spike arrest, quota, 5xx without a Daraja body)."""


class DarajaTimeout(DarajaUnavailable):
    """No answer within the timeout. For an STK push the outcome is UNKNOWN: never resend it, query it instead."""


class DarajaValidationError(ValueError):
    """Our own check failed before any HTTP call (amount, phone, reference...). ``field`` names the argument."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
