"""
The M-Pesa shortcodes' account balances (Daraja Account Balance): staff ask, Daraja answers asynchronously at
`…/balance/result/`, and the last answer per shortcode is kept in the cache (Redis in production) for the API to show.
Nothing here moves money; it lets staff check the B2C Utility account before approving a payout batch.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from chamahub.exceptions import PermissionDenied, ValidationFailed
from mpesa_integration import gateway
from mpesa_integration.choices import CallbackOutcome
from mpesa_integration.daraja import DarajaError, DarajaValidationError, parse_account_balance, parse_async_result
from mpesa_integration.exceptions import from_daraja
from mpesa_integration.models import CallbackLog
from mpesa_integration.services.callbacks import callback_log_finish

PENDING_TTL = 3600  # seconds a request's OriginatorConversationID is remembered


def _shortcodes() -> dict[str, str]:
    return {"b2c": settings.MPESA_B2C_SHORTCODE, "c2b": settings.MPESA_C2B_SHORTCODE, "stk": settings.MPESA_SHORTCODE}


def _staff_require(actor) -> None:
    if not getattr(actor, "is_staff", False):
        raise PermissionDenied("Only ChamaHub staff may query the M-Pesa shortcodes' balances.")


def _latest_key(shortcode: str) -> str:
    return f"mpesa:account-balance:{shortcode}"


def account_balance_request(*, actor, account: str = "b2c") -> dict:
    """Ask Daraja for a shortcode's balances (staff only). The answer arrives later; returns what was asked."""
    _staff_require(actor)
    shortcodes = _shortcodes()
    if account not in shortcodes:
        raise ValidationFailed("Unknown shortcode.", fields={"account": [f"One of {', '.join(shortcodes)}."]})
    shortcode = shortcodes[account]
    try:
        accepted = gateway.client_get().account_balance(
            result_url=gateway.callback_url("balance_result"),
            queue_timeout_url=gateway.callback_url("balance_timeout"),
            party_a=shortcode,
        )
    except (DarajaError, DarajaValidationError) as exc:
        raise from_daraja(exc) from exc
    cache.set(f"mpesa:account-balance:pending:{accepted.originator_conversation_id}", shortcode, PENDING_TTL)
    return {
        "account": account,
        "shortcode": shortcode,
        "originator_conversation_id": accepted.originator_conversation_id,
        "requested_at": timezone.now().isoformat(),
    }


def account_balance_latest(*, actor) -> list[dict]:
    """The last balances Daraja reported, per configured shortcode (staff only)."""
    _staff_require(actor)
    return [
        {"account": account, "shortcode": shortcode, **(cache.get(_latest_key(shortcode)) or {"accounts": None})}
        for account, shortcode in _shortcodes().items()
    ]


@transaction.atomic
def account_balance_result_process(*, log_id: int) -> str:
    """Store a balance Result for the shortcode we asked about; unknown ids are orphans."""
    log = CallbackLog.objects.select_for_update().get(pk=log_id)
    if log.outcome != CallbackOutcome.RECEIVED:
        return log.outcome
    try:
        result = parse_async_result(log.body)
        shortcode = cache.get(f"mpesa:account-balance:pending:{result.originator_conversation_id}")
        accounts = None
        if shortcode and result.result_code == "0":
            accounts = parse_account_balance(result.parameters.get("AccountBalance", ""))
    except DarajaValidationError as exc:
        outcome, detail = CallbackOutcome.INVALID, str(exc)
    else:
        if not shortcode:
            outcome, detail = CallbackOutcome.ORPHAN, "No balance request with this OriginatorConversationID."
        elif accounts is None:
            outcome, detail = CallbackOutcome.PROCESSED, f"refused: {result.result_code} {result.result_desc}"
        else:
            latest = {
                "accounts": {
                    name: {key: str(value) for key, value in figures.items()} for name, figures in accounts.items()
                },
                "completed_at": timezone.now().isoformat(),
                "originator_conversation_id": result.originator_conversation_id,
            }
            cache.set(_latest_key(shortcode), latest, None)
            outcome, detail = CallbackOutcome.PROCESSED, f"balances of {shortcode}"
    return callback_log_finish(log, outcome, detail=detail)
