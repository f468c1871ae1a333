"""M-Pesa errors as the API shows them. Daraja's own errors (daraja.errors) are translated by `from_daraja`."""

from __future__ import annotations

from chamahub.exceptions import Conflict, DomainError, ValidationFailed
from mpesa_integration.daraja import (
    DarajaError,
    DarajaRequestError,
    DarajaTimeout,
    DarajaUnavailable,
    DarajaValidationError,
)


class MpesaGatewayError(DomainError):
    """Daraja refused or failed a call we made: not the caller's fault, so a 502 with Daraja's words."""

    code = "mpesa_error"
    status_code = 502
    default_message = "M-Pesa refused the request."


class MpesaUnavailable(MpesaGatewayError):
    code = "mpesa_unavailable"
    status_code = 503
    default_message = "M-Pesa cannot be reached right now; try again in a few minutes."


class MpesaTimeout(MpesaGatewayError):
    code = "mpesa_timeout"
    status_code = 504
    default_message = "M-Pesa did not answer in time. Do not pay again: the payment is being checked."


class DuplicatePush(Conflict):
    code = "duplicate_push"
    default_message = "The same amount was requested from this phone less than 2 minutes ago (M-Pesa rule 17)."


def from_daraja(exc: DarajaError | DarajaValidationError) -> DomainError:
    """Map a Daraja error to the API error: validation -> 400 on the field, timeout -> 504, down -> 503, else 502."""
    if isinstance(exc, DarajaValidationError):
        return ValidationFailed(exc.message, fields={exc.field: [exc.message]})
    detail = exc.error_message or str(exc)
    if exc.error_code:
        detail = f"{detail} (Daraja {exc.error_code})"
    if isinstance(exc, DarajaTimeout):
        return MpesaTimeout()
    if isinstance(exc, DarajaUnavailable):
        return MpesaUnavailable(f"M-Pesa is unavailable: {detail}")
    if isinstance(exc, DarajaRequestError):
        return MpesaGatewayError(f"M-Pesa refused the request: {detail}")
    return MpesaGatewayError(f"M-Pesa error: {detail}")
