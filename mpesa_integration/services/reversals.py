"""
M-Pesa payment reversals (Daraja Reversal, daraja.md §1.11): returning a member's payment to their phone, e.g. a
contribution paid twice or money paid to the wrong paybill. Maker-checker, because the money leaves the group:

    pending_approval --(another official rejects)--> rejected
    pending_approval --(another official approves)--> sent --(Result)--> succeeded | failed
                                                       sent --(no answer / QueueTimeOut)--> timed_out --(Result)--> ...

What may be reversed: a succeeded STK or C2B payment with a receipt whose money is
- a confirmed contribution (settlement posted, or allocated from suspense, with purpose contribution): on success
  `contribution_reverse` posts the mirror of its entry (savings back down, cash back down);
- held in suspense: on success Dr SUSPENSE / Cr CASH (`suspense_release`, reference "reversal:<receipt>");
- unallocated (no group identified; staff only): no ledger has it, so nothing is posted.
Loan repayments and fine payments are refused: their allocation over fees, interest and instalments (or the fine's
settlement) cannot be undone safely here.

Exactly once, by construction:
- at most one LIVE reversal per payment (pending_approval / sent / timed_out / succeeded): a partial unique
  constraint answers a second request (409), so two officials racing cannot both get one;
- the reversal row is COMMITTED as `sent` before Daraja is called; Daraja is called once and never resent: a timeout
  (or a connection lost after sending) leaves it `timed_out` (outcome unknown), a refusal leaves it `failed`;
- Results are stored first (CallbackLog) and applied under `select_for_update` of the payment and the reversal; the
  status only moves forward, so a duplicate success posts nothing and a failure after a success is ignored;
- Daraja chooses the OriginatorConversationID of a reversal and tells us in its synchronous reply. A Result that
  overtakes that reply is matched by the receipt it reverses (OriginalTransactionID) when it carries one, otherwise
  logged as an orphan and adopted right after the reply is saved (both sides write first, then read).

Lock order (as everywhere in this app): the MPesaTransaction, then the reversal, then finance rows.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from chamahub import events
from chamahub.api.fields import ID_MAX
from chamahub.exceptions import Conflict, DomainError, NotFound, ValidationFailed
from finance.choices import ContributionStatus
from finance.exceptions import InvalidState, SelfApprovalForbidden
from finance.models import JournalEntry
from finance.services.contributions import contribution_reverse
from finance.services.payments import suspense_release
from groups.selectors import official_require
from mpesa_integration import gateway
from mpesa_integration.choices import (
    CallbackKind,
    CallbackOutcome,
    Purpose,
    ReversalStatus,
    Settlement,
    TransactionKind,
    TransactionStatus,
)
from mpesa_integration.daraja import (
    DarajaError,
    DarajaTimeout,
    DarajaUnavailable,
    DarajaValidationError,
    parse_async_result,
)
from mpesa_integration.daraja.results import AsyncResult
from mpesa_integration.exceptions import MpesaTimeout, from_daraja
from mpesa_integration.models import CallbackLog, MPesaTransaction, PaymentReversal
from mpesa_integration.services.callbacks import callback_log_finish

logger = logging.getLogger("mpesa_integration")

REASON_MIN, REASON_MAX = 2, 100  # Daraja's Remarks limits: the reason is sent as the reversal's Remarks
REVERSAL_MAX_AMOUNT = 250_000  # M-Pesa's per-transaction maximum
COMMENTS_MAX = 255
_REVERSAL_KINDS = (CallbackKind.REVERSAL_RESULT, CallbackKind.REVERSAL_TIMEOUT)

# What returning a payment undoes in the ledger.
CONTRIBUTION, SUSPENSE, UNALLOCATED = "contribution", "suspense", "unallocated"


# --------------------------------------------------------------------------------------------------- rules


def _official_or_staff_require(actor, group_id: int | None, *, not_found: str) -> None:
    """Officials of the group (outsider 404, plain member 403); for money no group was found for, staff only."""
    if group_id is None:
        if not getattr(actor, "is_staff", False):
            raise NotFound(not_found)
        return
    try:
        official_require(actor, group_id)
    except NotFound:
        raise NotFound(not_found) from None


def _reversible_as(txn: MPesaTransaction) -> str:
    """
    What reversing `txn` would undo: CONTRIBUTION, SUSPENSE or UNALLOCATED. Anything else is refused with the
    reason (400; 409 when it was already reversed).
    """
    field = "transaction"
    if txn.kind not in (TransactionKind.STK, TransactionKind.C2B):
        message = "Only money members paid in (STK push or paybill) can be reversed; a B2C payout cannot."
        raise ValidationFailed(message, fields={field: [message]})
    if txn.status != TransactionStatus.SUCCEEDED:
        message = f"Only a succeeded payment can be reversed; this one is {txn.get_status_display().lower()}."
        raise ValidationFailed(message, fields={field: [message]})
    if not txn.receipt_number:
        message = "This payment has no M-Pesa receipt yet, and M-Pesa reverses a payment by its receipt."
        raise ValidationFailed(message, fields={field: [message]})
    if txn.settlement == Settlement.REVERSED:
        message = "This payment was already returned to the payer."
        raise InvalidState(message, fields={field: [message]})
    if txn.settlement == Settlement.SUSPENSE:
        return SUSPENSE
    if txn.settlement == Settlement.UNALLOCATED:
        return UNALLOCATED
    if txn.settlement in (Settlement.POSTED, Settlement.ALLOCATED):
        if txn.purpose in (Purpose.LOAN_REPAYMENT, Purpose.FINE):
            message = (
                f"A {txn.get_purpose_display().lower()} cannot be reversed here: its allocation over fees, interest "
                "and instalments (or the fine's settlement) cannot be undone safely. Refund the member instead."
            )
            raise ValidationFailed(message, fields={field: [message]})
        if txn.purpose == Purpose.CONTRIBUTION and txn.contribution_id is not None:
            contribution_status = txn.contribution.status
            if contribution_status == ContributionStatus.CONFIRMED:
                return CONTRIBUTION
            message = (
                f"The contribution this payment confirmed is now {contribution_status}; only money still counted "
                "as a confirmed contribution can be reversed."
            )
            raise ValidationFailed(message, fields={field: [message]})
    message = f"This payment cannot be reversed: it is {txn.get_settlement_display().lower()}."
    raise ValidationFailed(message, fields={field: [message]})


def _amount_require(txn: MPesaTransaction) -> Decimal:
    """The whole payment, in whole shillings (M-Pesa reverses whole shillings up to its per-transaction maximum)."""
    amount = txn.amount
    if amount != amount.to_integral_value() or not 1 <= amount <= REVERSAL_MAX_AMOUNT:
        message = f"M-Pesa reverses whole shillings from 1 to {REVERSAL_MAX_AMOUNT:,}; this payment is KES {amount}."
        raise ValidationFailed(message, fields={"transaction": [message]})
    return amount


def _reason_require(reason: str | None) -> str:
    cleaned = " ".join((reason or "").split())
    if not REASON_MIN <= len(cleaned) <= REASON_MAX:
        message = f"Give a reason of {REASON_MIN} to {REASON_MAX} characters (it is sent to M-Pesa as the Remarks)."
        raise ValidationFailed(message, fields={"reason": [message]})
    return cleaned


# --------------------------------------------------------------------------------------------------- request


@transaction.atomic
def reversal_request(*, actor, transaction_id: int, reason: str) -> PaymentReversal:
    """
    An official of the payment's group asks for it to be returned to the payer (status pending_approval; another
    official must approve before M-Pesa is asked). Outsider 404, plain member 403; a payment that cannot be
    reversed 400; a live reversal of it already exists 409. Nothing is written on a refusal.
    """
    txn = None
    if 1 <= transaction_id <= ID_MAX:
        txn = MPesaTransaction.objects.select_for_update().filter(pk=transaction_id).first()
    if txn is None:
        raise NotFound("Transaction not found.", fields={"transaction": ["Transaction not found."]})
    _official_or_staff_require(actor, txn.group_id, not_found="Transaction not found.")
    reason = _reason_require(reason)
    target = _reversible_as(txn)
    amount = _amount_require(txn)
    try:
        with transaction.atomic():
            reversal = PaymentReversal.objects.create(
                transaction=txn, group_id=txn.group_id, amount=amount, reason=reason, requested_by=actor
            )
    except IntegrityError as exc:  # the partial unique constraint: one live reversal per payment
        message = "A reversal of this payment is already awaiting approval, in progress or done."
        raise Conflict(message, fields={"transaction": [message]}, code="reversal_exists") from exc
    events.publish(
        "mpesa.reversal_requested",
        {
            "reversal_id": reversal.id,
            "transaction_id": txn.id,
            "receipt": txn.receipt_number,
            "amount": str(amount),
            "undoes": target,
            "requested_by": actor.pk,
        },
        group_id=txn.group_id,
    )
    return reversal


# --------------------------------------------------------------------------------------------------- decide


def reversal_decide(*, actor, reversal_id: int, approved: bool, comments: str = "") -> PaymentReversal:
    """
    Another official of the group approves or rejects a pending reversal (the requester: 403; not pending: 409).
    Approval commits the reversal as `sent`, then asks M-Pesa once. Daraja refusing it (or being unreachable)
    leaves it `failed` and raises the 502/503; no answer leaves it `timed_out` (outcome unknown, never resent) and
    raises 504 — unless its Result already arrived meanwhile. Returns the reversal.

    Call it outside any transaction (as the API does): the `sent` row must be committed before M-Pesa is called.
    """
    reversal = _decision_record(actor=actor, reversal_id=reversal_id, approved=approved, comments=comments)
    if reversal.status != ReversalStatus.SENT:
        return reversal
    return _reversal_send(reversal_id=reversal.id)


@transaction.atomic
def _decision_record(*, actor, reversal_id: int, approved: bool, comments: str) -> PaymentReversal:
    if not 1 <= reversal_id <= ID_MAX:
        raise NotFound("Reversal not found.")
    found = PaymentReversal.objects.filter(pk=reversal_id).values_list("transaction_id", "group_id").first()
    if found is None:
        raise NotFound("Reversal not found.")
    transaction_id, group_id = found
    _official_or_staff_require(actor, group_id, not_found="Reversal not found.")
    txn = MPesaTransaction.objects.select_for_update().get(pk=transaction_id)
    reversal = PaymentReversal.objects.select_for_update().get(pk=reversal_id)
    if reversal.status != ReversalStatus.PENDING_APPROVAL:
        message = f"This reversal is already {reversal.status}; only one awaiting approval can be decided."
        raise InvalidState(message, fields={"status": [f"The reversal is {reversal.status}."]})
    if reversal.requested_by_id == actor.pk:
        message = "The official who requested a reversal cannot approve it"
        if not approved:
            message = "The official who requested a reversal cannot reject it; another official decides"
        raise SelfApprovalForbidden(message, fields={"approver": [message]})
    if approved:
        try:
            _reversible_as(txn)  # the payment may have changed since the request (suspense allocated, ...)
        except DomainError as exc:
            message = f"The payment changed since the reversal was requested: {exc.message}"
            raise InvalidState(message, fields={"transaction": [message]}) from None
    reversal.status = ReversalStatus.SENT if approved else ReversalStatus.REJECTED
    reversal.decided_by = actor
    reversal.decided_at = timezone.now()
    reversal.decision_comments = " ".join((comments or "").split())[:COMMENTS_MAX]
    reversal.save(update_fields=["status", "decided_by", "decided_at", "decision_comments", "updated_at"])
    if not approved:
        events.publish(
            "mpesa.reversal_rejected",
            {"reversal_id": reversal.id, "transaction_id": txn.id, "decided_by": actor.pk},
            group_id=reversal.group_id,
        )
    return reversal


def _never_reached_mpesa(exc: DarajaUnavailable) -> bool:
    """Only a refused connection or Daraja's own throttling (500.003.x) prove the request was not taken."""
    return exc.error_code.startswith("500.003") or "refused" in exc.error_message.lower()


def _reversal_send(*, reversal_id: int) -> PaymentReversal:
    """Call Daraja for a committed `sent` reversal (outside any transaction), once, and record what it said."""
    reversal = PaymentReversal.objects.select_related("transaction").get(pk=reversal_id)
    txn = reversal.transaction
    try:
        client = gateway.client_get()
        accepted = client.reversal(
            transaction_id=txn.receipt_number or "",
            amount=reversal.amount,
            result_url=gateway.callback_url("reversal_result"),
            queue_timeout_url=gateway.callback_url("reversal_timeout"),
            remarks=reversal.reason,
            receiver_party=client.c2b_shortcode if txn.kind == TransactionKind.C2B else client.shortcode,
        )
    except DarajaTimeout as exc:
        return _outcome_unknown(reversal_id, exc)
    except DarajaUnavailable as exc:
        if not _never_reached_mpesa(exc):  # reset or a bare 5xx after sending: M-Pesa may have taken it
            return _outcome_unknown(reversal_id, exc)
        _send_failed(reversal_id, code=exc.error_code or "unavailable", desc=exc.error_message or str(exc))
        raise from_daraja(exc) from exc
    except DarajaError as exc:  # refused (bad field, wrong credentials, OAuth): it never reached M-Pesa's ledger
        _send_failed(reversal_id, code=exc.error_code or "refused", desc=exc.error_message or str(exc))
        raise from_daraja(exc) from exc
    except DarajaValidationError as exc:
        _send_failed(reversal_id, code="validation", desc=f"{exc.field}: {exc.message}")
        raise from_daraja(exc) from exc
    _send_accepted(reversal_id, accepted.originator_conversation_id, accepted.conversation_id, accepted)
    try:
        reversal_orphans_adopt(accepted.originator_conversation_id)
    except Exception:  # M-Pesa accepted it: never a 5xx for that; the logs stay unprocessed for a retry
        logger.exception("mpesa.reversal orphan adoption failed reversal=%s", reversal_id)
    return PaymentReversal.objects.get(pk=reversal_id)


@transaction.atomic
def _send_accepted(reversal_id: int, originator: str, conversation_id: str, accepted) -> None:
    """Store Daraja's ids and bodies. A Result that overtook the reply may already have settled the status."""
    reversal = PaymentReversal.objects.select_for_update().get(pk=reversal_id)
    if originator and not reversal.originator_conversation_id:
        reversal.originator_conversation_id = originator
    if conversation_id and not reversal.conversation_id:
        reversal.conversation_id = conversation_id
    reversal.request_body = accepted.request
    reversal.response_body = accepted.raw
    reversal.save(
        update_fields=["originator_conversation_id", "conversation_id", "request_body", "response_body", "updated_at"]
    )


@transaction.atomic
def _send_failed(reversal_id: int, *, code: str, desc: str) -> None:
    reversal = PaymentReversal.objects.select_for_update().get(pk=reversal_id)
    if reversal.status != ReversalStatus.SENT:
        return
    reversal.status = ReversalStatus.FAILED
    reversal.result_code = str(code)[:20]
    reversal.result_desc = str(desc)[:255]
    reversal.completed_at = timezone.now()
    reversal.save(update_fields=["status", "result_code", "result_desc", "completed_at", "updated_at"])
    _failed_publish(reversal)


def _outcome_unknown(reversal_id: int, exc: DarajaError) -> PaymentReversal:
    """No (usable) answer to the request: timed_out, never resent. 504, unless its Result already settled it."""
    with transaction.atomic():
        reversal = PaymentReversal.objects.select_for_update().get(pk=reversal_id)
        if reversal.status == ReversalStatus.SENT:
            reversal.status = ReversalStatus.TIMED_OUT
            reversal.result_desc = f"No answer from M-Pesa: {exc.error_message or exc}"[:255]
            reversal.save(update_fields=["status", "result_desc", "updated_at"])
    if reversal.status in (ReversalStatus.SUCCEEDED, ReversalStatus.FAILED):
        return reversal  # the Result overtook the lost reply: the outcome is known after all
    logger.warning("mpesa.reversal_timed_out reversal=%s: %s", reversal_id, exc)
    raise MpesaTimeout(
        "M-Pesa did not answer in time. The reversal is not resent: its Result will settle it. "
        "Check the M-Pesa statement before asking again."
    ) from exc


def _failed_publish(reversal: PaymentReversal) -> None:
    events.publish(
        "mpesa.reversal_failed",
        {
            "reversal_id": reversal.id,
            "transaction_id": reversal.transaction_id,
            "result_code": reversal.result_code,
            "result_desc": reversal.result_desc,
        },
        group_id=reversal.group_id,
    )


# --------------------------------------------------------------------------------------------------- results


def reversal_orphans_adopt(originator_conversation_id: str | None) -> int:
    """
    Process the reversal Results logged under this OriginatorConversationID before we knew it (orphans), and any
    not processed yet. Called right after Daraja's reply is saved. Returns how many logs were processed.
    """
    if not originator_conversation_id:
        return 0
    ids = list(
        CallbackLog.objects.filter(
            kind__in=_REVERSAL_KINDS,
            correlation_id=originator_conversation_id,
            outcome__in=[CallbackOutcome.RECEIVED, CallbackOutcome.ORPHAN],
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    for log_id in ids:
        reversal_result_process(log_id=log_id)
    return len(ids)


def _reversal_for_result(result: AsyncResult) -> PaymentReversal | None:
    """
    The reversal a Result is about, locked (its payment first). By OriginatorConversationID; when we never heard
    Daraja's reply (timed out, or the Result overtook it), by the receipt it reversed, among the live reversals
    that have no OriginatorConversationID yet — and that id is then recorded.
    """
    row = (
        PaymentReversal.objects.filter(originator_conversation_id=result.originator_conversation_id)
        .values_list("id", "transaction_id")
        .first()
    )
    original = str(result.parameters.get("OriginalTransactionID") or "").strip()
    if row is None and original:
        row = (
            PaymentReversal.objects.filter(
                transaction__receipt_number=original,
                originator_conversation_id__isnull=True,
                status__in=[ReversalStatus.SENT, ReversalStatus.TIMED_OUT],
            )
            .values_list("id", "transaction_id")
            .first()
        )
    if row is None:
        return None
    reversal_id, transaction_id = row
    MPesaTransaction.objects.select_for_update().get(pk=transaction_id)
    reversal = PaymentReversal.objects.select_for_update().select_related("transaction").get(pk=reversal_id)
    if reversal.originator_conversation_id is None and result.originator_conversation_id:
        reversal.originator_conversation_id = result.originator_conversation_id
        reversal.save(update_fields=["originator_conversation_id", "updated_at"])
    return reversal


@transaction.atomic
def reversal_result_process(*, log_id: int) -> str:
    """
    Apply a stored reversal Result or QueueTimeOut (a CallbackLog) to its reversal. Idempotent: a log is processed
    once; a duplicate success posts nothing; a failure after a success is ignored; a QueueTimeOut only moves a
    `sent` reversal to timed_out. Returns the outcome recorded on the log.
    """
    log = CallbackLog.objects.select_for_update().filter(pk=log_id).first()
    if log is None:
        return CallbackOutcome.ORPHAN
    if log.outcome not in (CallbackOutcome.RECEIVED, CallbackOutcome.ORPHAN):
        return log.outcome  # already processed (a task retried after it committed)
    if log.kind not in _REVERSAL_KINDS:
        return callback_log_finish(log, CallbackOutcome.IGNORED, detail=f"Not a reversal result ({log.kind}).")
    try:
        result = parse_async_result(log.body)
    except DarajaValidationError as exc:
        return callback_log_finish(log, CallbackOutcome.INVALID, detail=f"{exc.field}: {exc.message}")
    reversal = _reversal_for_result(result)
    if reversal is None:
        logger.warning("mpesa.reversal orphan result log=%s originator=%s", log.id, result.originator_conversation_id)
        return callback_log_finish(
            log, CallbackOutcome.ORPHAN, detail="No reversal has this OriginatorConversationID (yet)."
        )
    txn = reversal.transaction
    code, desc = str(result.result_code), str(result.result_desc or "")

    if log.kind == CallbackKind.REVERSAL_TIMEOUT:
        if reversal.status != ReversalStatus.SENT:
            return callback_log_finish(
                log, CallbackOutcome.IGNORED, txn=txn, detail=f"The reversal is {reversal.status}."
            )
        reversal.status = ReversalStatus.TIMED_OUT
        reversal.result_code = code[:20]
        reversal.result_desc = f"Queue timeout: {desc}"[:255]
        reversal.save(update_fields=["status", "result_code", "result_desc", "updated_at"])
        return callback_log_finish(log, CallbackOutcome.PROCESSED, txn=txn, detail=desc)

    if code != "0":
        if reversal.status == ReversalStatus.SUCCEEDED:
            return callback_log_finish(
                log, CallbackOutcome.IGNORED, txn=txn, detail="A failure after a success changes nothing."
            )
        if reversal.status == ReversalStatus.FAILED:
            return callback_log_finish(log, CallbackOutcome.DUPLICATE, txn=txn, detail=desc)
        reversal.status = ReversalStatus.FAILED
        reversal.result_code = code[:20]
        reversal.result_desc = desc[:255]
        reversal.result_body = log.body
        reversal.completed_at = timezone.now()
        reversal.save(
            update_fields=["status", "result_code", "result_desc", "result_body", "completed_at", "updated_at"]
        )
        _failed_publish(reversal)
        return callback_log_finish(log, CallbackOutcome.PROCESSED, txn=txn, detail=f"{code} {desc}")

    if reversal.status == ReversalStatus.SUCCEEDED:
        return callback_log_finish(log, CallbackOutcome.DUPLICATE, txn=txn, detail="Already reversed; nothing posted.")
    outcome, detail = _reversal_succeeded(reversal, txn, result=result, body=log.body)
    return callback_log_finish(log, outcome, txn=txn, detail=detail)


def _reversal_succeeded(
    reversal: PaymentReversal, txn: MPesaTransaction, *, result: AsyncResult, body: dict
) -> tuple[str, str]:
    """M-Pesa returned the money: record it and post the reversing entry in this same transaction.
    Returns the log's (outcome, detail)."""
    previous = reversal.status
    reversal.status = ReversalStatus.SUCCEEDED
    reversal.result_code = "0"
    reversal.result_desc = str(result.result_desc or "")[:255]
    reversal.result_body = body
    reversal.completed_at = result.completed_at or timezone.now()
    if result.conversation_id and not reversal.conversation_id:
        reversal.conversation_id = result.conversation_id
    try:
        with transaction.atomic():
            reversal.save()
    except IntegrityError:  # a success after a failure, and another live reversal of the payment exists meanwhile
        logger.error(
            "mpesa.reversal success after %s conflicts with a live reversal: reversal=%s", previous, reversal.id
        )
        reversal.refresh_from_db()
        return CallbackOutcome.IGNORED, "M-Pesa reported success after a failure, but another reversal is live."
    if previous == ReversalStatus.FAILED:
        logger.warning("mpesa.reversal success after failure reversal=%s: posting it", reversal.id)

    notes = []
    if result.amount is not None and result.amount != reversal.amount:
        notes.append(f"M-Pesa reversed KES {result.amount}, we asked KES {reversal.amount}")
        logger.warning("mpesa.reversal amount mismatch reversal=%s: %s", reversal.id, notes[-1])
    entry_id, posted = _reversal_post(reversal, txn, mpesa_receipt=result.transaction_id)
    notes.append(posted)
    reversal.journal_entry_id = entry_id
    reversal.save(update_fields=["journal_entry", "updated_at"])
    txn.settlement = Settlement.REVERSED  # its status stays succeeded: the payment happened, then it was returned
    txn.settlement_note = f"Returned to the payer by M-Pesa reversal {result.transaction_id}: {reversal.reason}"[:255]
    txn.save(update_fields=["settlement", "settlement_note", "updated_at"])
    events.publish(
        "mpesa.reversal_completed",
        {
            "reversal_id": reversal.id,
            "transaction_id": txn.id,
            "receipt": txn.receipt_number,
            "reversal_receipt": result.transaction_id,
            "amount": str(reversal.amount),
            "member_id": txn.member_id,
            "journal_entry_id": entry_id,
        },
        group_id=reversal.group_id,
    )
    return CallbackOutcome.PROCESSED, "; ".join(notes)


def _reversal_post(reversal: PaymentReversal, txn: MPesaTransaction, *, mpesa_receipt: str) -> tuple[int | None, str]:
    """
    Post what the returned money undoes, from the payment's state now: the contribution's mirror entry, or
    Dr SUSPENSE / Cr CASH, or nothing for unallocated money. Returns (journal entry id, what was done). If the
    ledger refuses (the payment changed after approval), the reversal still stands — M-Pesa moved the money —
    and the refusal is logged as an error for an official to post by hand.
    """
    receipt = txn.receipt_number
    try:
        target = _reversible_as(txn)
        with transaction.atomic():
            if target == CONTRIBUTION:
                original_entry_id = txn.contribution.journal_entry_id
                contribution_reverse(
                    contribution_id=txn.contribution_id,
                    actor=None,
                    reason=f"M-Pesa reversal {mpesa_receipt} of {receipt}: {reversal.reason}",
                )
                mirror = JournalEntry.objects.filter(reverses_id=original_entry_id).values_list("id", flat=True)
                return mirror.first(), "contribution reversed"
            if target == SUSPENSE:
                entry = suspense_release(
                    group_id=txn.group_id,
                    amount=reversal.amount,
                    reference=f"reversal:{receipt}",
                    description=f"M-Pesa {receipt} returned to the payer (reversal {mpesa_receipt})"[:255],
                    created_by_id=reversal.decided_by_id,
                )
                return entry.id, "released from suspense"
    except DomainError as exc:
        logger.error(
            "mpesa.reversal_unposted reversal=%s receipt=%s: M-Pesa returned the money but the ledger refused: %s",
            reversal.id,
            receipt,
            exc.message,
        )
        return None, f"NOT POSTED, post by hand: {exc.message}"
    return None, "no ledger entry (no group had this money)"


# --------------------------------------------------------------------------------------------------- reads


__all__ = [
    "reversal_decide",
    "reversal_orphans_adopt",
    "reversal_request",
    "reversal_result_process",
]
