"""
Callbacks from Daraja: store first (append-only CallbackLog with the body's SHA-256), acknowledge, then process.

The views store the body and start the processing task on commit (in-process in development, a Celery worker in
production), so Daraja gets its 200 at once and a processing error can never turn into a 5xx for Daraja.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chamahub.exceptions import DomainError
from groups.choices import MembershipStatus
from groups.models import ChamaGroup, Membership
from mpesa_integration.choices import (
    CallbackOutcome,
    Purpose,
    Settlement,
    TransactionKind,
    TransactionStatus,
)
from mpesa_integration.daraja import DarajaValidationError
from mpesa_integration.daraja.results import parse_c2b, parse_stk_callback
from mpesa_integration.models import CallbackLog, MPesaTransaction
from mpesa_integration.services.settlement import pay_in_target_attach, settle_pay_in
from mpesa_integration.services.stk import stk_result_apply

logger = logging.getLogger("mpesa_integration")


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def callback_log_store(
    *,
    kind: str,
    raw: bytes,
    body: dict | None,
    remote_addr: str | None,
    correlation_id: str = "",
    outcome: str = CallbackOutcome.RECEIVED,
    detail: str = "",
) -> CallbackLog:
    """Append the callback to the log (its own committed transaction: it survives any later processing error)."""
    raw_text = "" if body is not None else raw.decode("utf-8", "replace")[:10_000]
    return CallbackLog.objects.create(
        kind=kind,
        body=body if body is not None else {},
        raw_body=raw_text,
        body_sha256=body_hash(raw),
        correlation_id=(correlation_id or "")[:64],
        remote_addr=remote_addr,
        outcome=outcome,
        detail=detail[:255],
        processed_at=timezone.now() if outcome != CallbackOutcome.RECEIVED else None,
    )


def callback_log_finish(
    log: CallbackLog, outcome: str, *, txn: MPesaTransaction | None = None, detail: str = ""
) -> str:
    """Record how a stored callback was processed (its body and hash never change). Returns the outcome."""
    log.outcome = outcome
    if txn is not None:
        log.transaction = txn
    log.detail = detail[:255]
    log.processed_at = timezone.now()
    log.save(update_fields=["outcome", "transaction", "detail", "processed_at"])
    return outcome


# ------------------------------------------------------------------------------------------------------ STK


@transaction.atomic
def stk_callback_process(*, log_id: int) -> str:
    """Apply a stored STK callback to its transaction, under the transaction's row lock. Returns the outcome."""
    log = CallbackLog.objects.select_for_update().get(pk=log_id)
    if log.outcome not in (CallbackOutcome.RECEIVED, CallbackOutcome.ORPHAN):
        return log.outcome  # already processed (a task retried after it committed)
    try:
        callback = parse_stk_callback(log.body)
    except DarajaValidationError as exc:
        callback_log_finish(log, CallbackOutcome.INVALID, detail=str(exc))
        return CallbackOutcome.INVALID
    txn = MPesaTransaction.objects.select_for_update().filter(checkout_request_id=callback.checkout_request_id).first()
    if txn is None:
        logger.warning("mpesa.orphan_callback checkout=%s log=%s", callback.checkout_request_id, log.id)
        callback_log_finish(log, CallbackOutcome.ORPHAN, detail="No transaction with this CheckoutRequestID (yet).")
        return CallbackOutcome.ORPHAN
    outcome = stk_result_apply(
        txn,
        result_code=callback.result_code,
        result_desc=callback.result_desc,
        amount=callback.amount,
        receipt=callback.receipt or None,
        phone=callback.phone or None,
        transaction_date=callback.transaction_date,
        callback_body=log.body,
    )
    callback_log_finish(log, outcome, txn=txn, detail=f"status {txn.status}")
    return outcome


# ------------------------------------------------------------------------------------------------------ C2B

_ASCII_DIGITS = re.compile(r"[0-9]{1,9}")  # str.isdigit() also accepts "²", which int() refuses


def member_for_bill_ref(bill_ref: str) -> tuple[ChamaGroup | None, Membership | None]:
    """
    Resolve a paybill account number "<group code><member number>" (e.g. DEMOUMJ007). Returns (group, membership);
    (group, None) when the group is known but the member is not; (None, None) when nothing matches.
    """
    ref = "".join((bill_ref or "").split()).upper()
    if not ref:
        return None, None
    candidates = [ref[:i] for i in range(len(ref) - 1, 0, -1) if _ASCII_DIGITS.fullmatch(ref[i:])]
    groups = {g.code.upper(): g for g in ChamaGroup.objects.filter(code__in=[*candidates, ref])}
    if ref in groups:
        return groups[ref], None
    for code in candidates:
        group = groups.get(code)
        if group is not None:
            membership = (
                Membership.objects.select_related("user")
                .filter(group=group, member_number=int(ref[len(code) :]), status=MembershipStatus.ACTIVE)
                .first()
            )
            return group, membership
    return None, None


def c2b_validate(body: dict) -> tuple[str, str]:
    """Answer a C2B validation: accept a known group's account number, reject an unknown one (C2B00012)."""
    try:
        payment = parse_c2b(body)
    except DarajaValidationError:
        return "C2B00016", "Rejected"
    if payment.amount is None or payment.amount < 1:
        return "C2B00013", "Rejected"
    group, _ = member_for_bill_ref(payment.bill_ref_number)
    if group is None and settings.MPESA_C2B_REJECT_UNKNOWN_ACCOUNTS:
        return "C2B00012", "Rejected"
    return "0", "Accepted"


@transaction.atomic
def c2b_confirmation_process(*, log_id: int) -> str:
    """
    A paybill payment arrived. One MPesaTransaction per TransID (unique): a repeated confirmation is a duplicate.
    Known member -> a confirmed contribution (keyed by the receipt); known group only, a wrong shortcode or a
    contribution the ledger refuses -> the group's suspense; no group -> unallocated (staff allocate it).
    """
    log = CallbackLog.objects.select_for_update().get(pk=log_id)
    if log.outcome != CallbackOutcome.RECEIVED:
        return log.outcome
    try:
        payment = parse_c2b(log.body)
    except DarajaValidationError as exc:
        callback_log_finish(log, CallbackOutcome.INVALID, detail=str(exc))
        return CallbackOutcome.INVALID
    existing = MPesaTransaction.objects.filter(receipt_number=payment.trans_id).first()
    if existing is not None:
        callback_log_finish(log, CallbackOutcome.DUPLICATE, txn=existing)
        return CallbackOutcome.DUPLICATE
    group, membership = member_for_bill_ref(payment.bill_ref_number)
    now = timezone.now()
    txn = MPesaTransaction(
        kind=TransactionKind.C2B,
        group=group,
        member=membership.user if membership else None,
        phone=(payment.msisdn or "")[:20],
        amount=payment.amount,
        account_reference=(payment.bill_ref_number or "")[:20],
        transaction_desc=(payment.trans_type or "")[:100],
        purpose=Purpose.CONTRIBUTION if membership else Purpose.OTHER,
        receipt_number=payment.trans_id,
        status=TransactionStatus.SUCCEEDED,
        result_code="0",
        result_desc="Confirmed",
        transaction_date=payment.trans_time or now,
        callback_received_at=now,
        completed_at=now,
        callback_body=log.body,
    )
    mismatch = ""
    if str(payment.shortcode) != str(settings.MPESA_C2B_SHORTCODE):
        mismatch = f"paid to shortcode {payment.shortcode}, ours is {settings.MPESA_C2B_SHORTCODE}"
    elif group is not None and membership is None:
        mismatch = f"account number {payment.bill_ref_number!r} matches no member of {group.code}"
    try:
        with transaction.atomic():
            txn.save()
    except IntegrityError:  # the same TransID confirmed concurrently
        callback_log_finish(log, CallbackOutcome.DUPLICATE)
        return CallbackOutcome.DUPLICATE
    if membership is not None and not mismatch:
        try:
            with transaction.atomic():
                pay_in_target_attach(txn, purpose=Purpose.CONTRIBUTION, target_id=None, member_id=membership.user_id)
                txn.save()
        except DomainError as exc:
            mismatch = f"contribution refused: {exc.message}"
            txn.contribution = None
    settle_pay_in(txn, mismatch=mismatch)
    txn.save()
    outcome = {Settlement.SUSPENSE: CallbackOutcome.SUSPENSE, Settlement.UNALLOCATED: CallbackOutcome.SUSPENSE}.get(
        txn.settlement, CallbackOutcome.PROCESSED
    )
    callback_log_finish(log, outcome, txn=txn, detail=txn.settlement_note or txn.settlement)
    return outcome


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity: Python accepts them, JSON (and jsonb) do not


def parse_json_body(raw: bytes) -> dict | None:
    """
    The body as a JSON object, or None when it is not one. Refused as malformed too: NaN/Infinity, nesting deep
    enough to exhaust the parser, lone surrogates and NUL characters (neither can be stored as JSON text or jsonb).
    """
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
        text = json.dumps(body, ensure_ascii=False)
        text.encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        return None
    if "\\u0000" in text or "\x00" in text:
        return None
    return body if isinstance(body, dict) else None


__all__ = [
    "c2b_confirmation_process",
    "c2b_validate",
    "callback_log_finish",
    "callback_log_store",
    "member_for_bill_ref",
    "parse_json_body",
    "stk_callback_process",
]


def callbacks_stalled_retry(*, older_than_seconds: int = 60, limit: int = 500) -> int:
    """
    Beat: process callbacks stored more than a minute ago whose processing never ran (the broker was down when the
    view enqueued it, or a worker died). Processing is idempotent, so a callback that was only slow is safe too.
    """
    from mpesa_integration.tasks import callback_process_task

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = list(
        CallbackLog.objects.filter(outcome=CallbackOutcome.RECEIVED, received_at__lte=cutoff)
        .order_by("id")
        .values_list("id", "kind")[:limit]
    )
    for log_id, kind in stalled:
        try:
            callback_process_task.apply(args=(log_id, kind))  # in this process: the sweep is already a task
        except Exception:  # one bad callback must not stop the others; it stays RECEIVED and is logged
            logger.exception("mpesa.callback_retry_failed log=%s", log_id)
    return len(stalled)
