"""
STK push (M-Pesa Express): initiate, apply a result (from the callback or from STK Query), sweep the pending ones.

Exactly once, by construction rather than by checking first:
- the MPesaTransaction row is committed (status initiated) BEFORE Daraja is called, so a callback can always find it
  once its CheckoutRequestID is saved; a callback that overtakes that save is logged as an orphan and adopted right
  after the save (both sides write first and read second, so at least one of them sees the other);
- a result is applied under `select_for_update` of the transaction row; status only moves forward
  (initiated -> accepted -> succeeded | failed | cancelled | timed_out; a late definitive result may replace
  timed_out), so a duplicate or reordered callback finds nothing left to do;
- the receipt number is unique on the row and is the journal entry's reference (unique per group).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import ValidationFailed
from finance.choices import ContributionStatus
from finance.services.contributions import contribution_fail
from groups.selectors import is_official, membership_require
from mpesa_integration import gateway
from mpesa_integration.choices import (
    FINAL_STATUSES,
    PAY_IN_PURPOSES,
    PENDING_STATUSES,
    CallbackOutcome,
    Purpose,
    TransactionKind,
    TransactionStatus,
)
from mpesa_integration.daraja import DarajaError, DarajaTimeout, DarajaValidationError, normalize_msisdn
from mpesa_integration.exceptions import DuplicatePush, from_daraja
from mpesa_integration.models import CallbackLog, MPesaTransaction
from mpesa_integration.services.settlement import pay_in_target_attach, settle_pay_in

logger = logging.getLogger("mpesa_integration")

STK_MAX_AMOUNT = 250_000
CANCELLED_CODES = frozenset({"1032"})
REFERENCE_MAX = 12
DESC_MAX = 13


def stk_amount_require(value, *, field: str = "amount") -> Decimal:
    """Whole shillings, 1..250,000 (M-Pesa Express refuses cents). Returns a Decimal with 2 places."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(
            "Amount must be a number.", fields={field: ["Enter a whole number of shillings."]}
        ) from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ValidationFailed("M-Pesa takes whole shillings.", fields={field: ["Enter a whole number of shillings."]})
    if not 1 <= amount <= STK_MAX_AMOUNT:
        raise ValidationFailed(
            "Amount out of M-Pesa's range.", fields={field: [f"Must be between 1 and {STK_MAX_AMOUNT:,} shillings."]}
        )
    return amount.quantize(Decimal("0.01"))


def msisdn_require(value, *, field: str = "phone") -> str:
    try:
        return normalize_msisdn(value)
    except DarajaValidationError as exc:
        raise ValidationFailed(exc.message, fields={field: [exc.message]}) from None


def account_reference_fit(value: str | None, *, default: str) -> str:
    """Map any reference onto Daraja's AccountReference rule: letters and digits, at most 12 characters."""
    cleaned = "".join(ch for ch in (value or "") if ch.isalnum())
    return (cleaned or default)[:REFERENCE_MAX]


def transaction_desc_fit(value: str | None, *, default: str) -> str:
    cleaned = " ".join((value or "").split())
    return (cleaned or default)[:DESC_MAX].strip() or default[:DESC_MAX]


def _repeat_key(phone: str, amount: Decimal) -> str:
    return f"mpesa:stk-repeat:{phone}:{amount}"


def stk_push_initiate(
    *,
    user,
    group_id: int,
    amount,
    purpose: str = Purpose.CONTRIBUTION,
    target_id: int | None = None,
    phone: str | None = None,
    account_reference: str | None = None,
    transaction_desc: str | None = None,
) -> MPesaTransaction:
    """
    Ask M-Pesa to prompt a member's phone. Validates everything first (400 on the field, nothing written); an
    outsider gets 404 on the group. Returns the transaction, status accepted (or failed/timed_out on a Daraja error,
    which is raised as 502/503/504 after the row is saved).
    """
    membership = membership_require(user, group_id, field="group")
    amount = stk_amount_require(amount)
    if purpose not in PAY_IN_PURPOSES:
        raise ValidationFailed("Unknown purpose.", fields={"purpose": [f"One of {', '.join(PAY_IN_PURPOSES)}."]})
    group = membership.group

    with transaction.atomic():
        txn = MPesaTransaction(
            kind=TransactionKind.STK, group_id=group_id, member=user, initiated_by=user, amount=amount
        )
        pay_in_target_attach(txn, purpose=purpose, target_id=target_id, member_id=user.pk)
        if txn.member_id != user.pk and not is_official(user, group_id):
            raise ValidationFailed(
                "You can only pay your own contributions, loans and fines.",
                fields={"target_id": ["This belongs to another member."]},
            )
        payer = (
            txn.contribution.member
            if txn.contribution_id
            else (txn.loan.borrower if txn.loan_id else txn.fine.member if txn.fine_id else user)
        )
        txn.phone = msisdn_require(phone if phone else payer.phone_number)
        txn.account_reference = account_reference_fit(account_reference, default=group.code)
        txn.transaction_desc = transaction_desc_fit(transaction_desc, default=txn.get_purpose_display())
        # Daraja's rule 17: the same amount to the same phone within 2 minutes is refused. cache.add is atomic, so
        # two simultaneous pushes cannot both pass.
        window = settings.MPESA_STK_REPEAT_WINDOW_SECONDS
        if window and not cache.add(_repeat_key(txn.phone, amount), "1", timeout=window):
            raise DuplicatePush(fields={"amount": ["Wait 2 minutes before requesting the same amount again."]})
        txn.save()
    return _stk_send(txn)


def _stk_send(txn: MPesaTransaction) -> MPesaTransaction:
    """Call Daraja outside any transaction (the row is committed), then record what it said."""
    try:
        result = gateway.client_get().stk_push(
            txn.phone,
            txn.amount,
            txn.account_reference,
            txn.transaction_desc,
            gateway.callback_url("stk"),
        )
    except (DarajaError, DarajaValidationError) as exc:
        timed_out = isinstance(exc, DarajaTimeout)
        _push_failed(txn.id, exc, timed_out=timed_out)
        if not timed_out:
            cache.delete(_repeat_key(txn.phone, txn.amount))
        raise from_daraja(exc) from exc

    with transaction.atomic():
        txn = MPesaTransaction.objects.select_for_update().get(pk=txn.pk)
        txn.merchant_request_id = result.merchant_request_id or None
        txn.checkout_request_id = result.checkout_request_id or None
        txn.request_body = result.request
        txn.response_body = result.raw
        if txn.status == TransactionStatus.INITIATED:
            txn.status = TransactionStatus.ACCEPTED
        txn.save()
    stk_orphans_adopt(txn.checkout_request_id)
    txn.refresh_from_db()
    return txn


@transaction.atomic
def _push_failed(txn_id: int, exc: Exception, *, timed_out: bool) -> None:
    txn = MPesaTransaction.objects.select_for_update().get(pk=txn_id)
    txn.status = TransactionStatus.TIMED_OUT if timed_out else TransactionStatus.FAILED
    txn.result_code = str(getattr(exc, "error_code", "") or "")
    txn.result_desc = str(getattr(exc, "error_message", "") or exc)[:255]
    txn.completed_at = timezone.now()
    txn.save()
    if not timed_out:
        _contribution_release(txn)


def _contribution_release(txn: MPesaTransaction) -> None:
    """A push that will never be paid fails the PENDING contribution it was paying (push again to pay)."""
    if txn.contribution_id and txn.contribution.status == ContributionStatus.PENDING:
        contribution_fail(contribution_id=txn.contribution_id, actor=None, reason=f"M-Pesa: {txn.result_desc}")


def stk_orphans_adopt(checkout_request_id: str | None) -> int:
    """Process callbacks that arrived before their CheckoutRequestID was saved (logged as orphans)."""
    if not checkout_request_id:
        return 0
    from mpesa_integration.services.callbacks import stk_callback_process  # callbacks imports this module

    ids = list(
        CallbackLog.objects.filter(
            kind="stk", correlation_id=checkout_request_id, outcome=CallbackOutcome.ORPHAN
        ).values_list("id", flat=True)
    )
    for log_id in ids:
        stk_callback_process(log_id=log_id)
    return len(ids)


def stk_result_apply(
    txn: MPesaTransaction,
    *,
    result_code: str,
    result_desc: str,
    amount: Decimal | None = None,
    receipt: str | None = None,
    phone: str | None = None,
    transaction_date=None,
    callback_body: dict | None = None,
) -> str:
    """
    Apply a definitive STK result to a LOCKED transaction row. Returns the CallbackOutcome: processed, duplicate
    (nothing left to do) or ignored (the status cannot move: a failure after a success never undoes it).
    """
    result_code = str(result_code)
    succeeded = result_code == "0"
    now = timezone.now()
    if txn.status == TransactionStatus.SUCCEEDED:
        if succeeded and receipt and not txn.receipt_number:
            txn.receipt_number = receipt  # success known from STK Query first; the callback brings the receipt
            try:
                with transaction.atomic():
                    txn.save(update_fields=["receipt_number", "updated_at"])
            except IntegrityError:  # the receipt is already on another transaction: keep ours without it
                logger.warning("mpesa.duplicate_receipt receipt=%s txn=%s", receipt, txn.id)
                txn.refresh_from_db()
                return CallbackOutcome.DUPLICATE
            return CallbackOutcome.PROCESSED
        return CallbackOutcome.DUPLICATE if succeeded else CallbackOutcome.IGNORED
    if txn.status in FINAL_STATUSES and not succeeded:
        return CallbackOutcome.DUPLICATE
    txn.result_code = result_code
    txn.result_desc = (result_desc or "")[:255]
    txn.callback_received_at = now if callback_body is not None else txn.callback_received_at
    if callback_body is not None:
        txn.callback_body = callback_body
    txn.completed_at = now
    if not succeeded:
        txn.status = TransactionStatus.CANCELLED if result_code in CANCELLED_CODES else TransactionStatus.FAILED
        txn.save()
        _contribution_release(txn)
        events.publish(
            "mpesa.payment_failed",
            {"transaction_id": txn.id, "result_code": result_code, "result_desc": txn.result_desc},
            group_id=txn.group_id,
        )
        return CallbackOutcome.PROCESSED

    previous = txn.status
    txn.status = TransactionStatus.SUCCEEDED
    txn.transaction_date = transaction_date or now
    if receipt:
        txn.receipt_number = receipt
    mismatches = []
    if amount is not None and amount != txn.amount:
        mismatches.append(f"paid KES {amount}, asked KES {txn.amount}")
        txn.amount = amount  # the money that actually arrived is what we post
    if phone and phone != txn.phone:
        mismatches.append(f"paid from {phone}, asked {txn.phone}")
    if previous in (TransactionStatus.FAILED, TransactionStatus.CANCELLED):
        mismatches.append(f"M-Pesa reported success after {previous}")
    try:
        with transaction.atomic():
            txn.save()
    except IntegrityError:  # this receipt is already recorded on another transaction: never count it twice
        logger.warning("mpesa.duplicate_receipt receipt=%s txn=%s", receipt, txn.id)
        txn.refresh_from_db()
        return CallbackOutcome.DUPLICATE
    settle_pay_in(txn, mismatch="; ".join(mismatches))
    txn.save()
    events.publish(
        "mpesa.payment_received",
        {
            "transaction_id": txn.id,
            "purpose": txn.purpose,
            "amount": str(txn.amount),
            "receipt": txn.receipt_number,
            "member_id": txn.member_id,
            "settlement": txn.settlement,
        },
        group_id=txn.group_id,
    )
    return CallbackOutcome.SUSPENSE if txn.settlement == "suspense" else CallbackOutcome.PROCESSED


def stk_query(*, transaction_id: int) -> MPesaTransaction:
    """Ask Daraja for a pending push's outcome (STK Query) and settle it when it is known."""
    txn = MPesaTransaction.objects.get(pk=transaction_id)
    if (
        txn.kind != TransactionKind.STK
        or not txn.checkout_request_id
        or txn.status
        not in (
            *PENDING_STATUSES,
            TransactionStatus.TIMED_OUT,
        )
    ):
        return txn
    try:
        result = gateway.client_get().stk_query(txn.checkout_request_id)
    except (DarajaError, DarajaValidationError) as exc:
        raise from_daraja(exc) from exc
    with transaction.atomic():
        txn = MPesaTransaction.objects.select_for_update().get(pk=transaction_id)
        txn.last_queried_at = timezone.now()
        txn.query_count += 1
        txn.save(update_fields=["last_queried_at", "query_count", "updated_at"])
        if result.pending or result.result_code is None:
            expire = timedelta(seconds=settings.MPESA_STK_EXPIRE_AFTER_SECONDS)
            if txn.status in PENDING_STATUSES and txn.created_at < timezone.now() - expire:
                txn.status = TransactionStatus.TIMED_OUT
                txn.result_desc = "No answer from the customer's phone; expired."
                txn.save(update_fields=["status", "result_desc", "updated_at"])
            return txn
        stk_result_apply(txn, result_code=result.result_code, result_desc=result.result_desc)
    return txn


def stk_pending_sweep(*, older_than_seconds: int | None = None, limit: int = 200) -> int:
    """Beat task body: STK Query every push still pending after 2 minutes (a lost callback settles here)."""
    age = settings.MPESA_STK_QUERY_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=age)
    ids = list(
        MPesaTransaction.objects.filter(
            kind=TransactionKind.STK, status__in=list(PENDING_STATUSES), created_at__lte=cutoff
        )
        .exclude(checkout_request_id=None)
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
    settled = 0
    for txn_id in ids:
        try:
            txn = stk_query(transaction_id=txn_id)
        except Exception:  # one bad row must not stop the sweep; it is retried on the next run
            logger.exception("mpesa.stk_query_failed txn=%s", txn_id)
            continue
        settled += txn.status not in PENDING_STATUSES
    return settled
