"""C2B paybill setup: register our validation and confirmation URLs with Daraja (a one-time call per shortcode)."""

from __future__ import annotations

from mpesa_integration import gateway
from mpesa_integration.daraja import DarajaError, DarajaValidationError
from mpesa_integration.exceptions import from_daraja


def c2b_urls_register(*, response_type: str = "Completed") -> dict:
    """
    Register `/api/v1/payments/hooks/<secret>/c2b-validate/` and `…/c2b-confirm/` for MPESA_C2B_SHORTCODE.
    ``response_type`` is what Safaricom does when our validation URL cannot be reached: Completed or Cancelled.
    """
    confirmation = gateway.callback_url("c2b_confirmation")
    validation = gateway.callback_url("c2b_validation")
    try:
        reply = gateway.client_get().c2b_register_urls(
            confirmation_url=confirmation, validation_url=validation, response_type=response_type
        )
    except (DarajaError, DarajaValidationError) as exc:
        raise from_daraja(exc) from exc
    return {
        "confirmation_url": confirmation,
        "validation_url": validation,
        **{k: v for k, v in reply.items() if k != "raw"},
    }
