"""
B2C payout mechanics for bulk payouts: send one item to Daraja B2C and apply every answer about it.

This module owns a single payout attempt: `bulk_item_send` (reserve the cash, record the attempt, call Daraja B2C),
the synchronous answer (`_send_outcome`), the asynchronous outcomes (`b2c_result_process` for a B2C Result, a
QueueTimeOut or a Transaction Status Result), the follow-ups on an unknown outcome (`b2c_status_query`,
`b2c_resend`, the beat job `b2c_pending_sweep`), and the batch counters every outcome refreshes (`_batch_refresh`).
The batch life cycle (create, approve, execute, retry) lives in `mpesa_integration.services.bulk`, which imports
this module; this module never imports that one.

Money, per payout attempt (one MPesaTransaction each, with its own OriginatorConversationID):
- before the HTTP call: `payout_reserve` moves the amount CASH -> MPESA_CLEARING (refused when cash is short: the
  item fails with "Not enough cash in the group"); the transaction row is COMMITTED before Daraja is called, so a
  crash can never leave a payout we do not know about;
- on the success Result: the purpose is settled out of MPESA_CLEARING in the same database transaction that marks
  the payout succeeded, keyed by the M-Pesa receipt (one journal entry per receipt): a loan is disbursed
  (`loan_disburse(funded_from=MPESA_CLEARING)`), savings are paid out (`savings_payout_post`), a merry-go-round pot
  is taken from every active member's savings (`merry_go_round_payout_post`);
- on a failure (Daraja refused the request, or a failure Result): `payout_release` returns the amount to CASH;
- on a timeout (no answer to the request, or a QueueTimeOut Result): the outcome is unknown, the reservation is
  kept, and a Transaction Status query (or an idempotent resend with the SAME OriginatorConversationID, when Daraja
  never acknowledged the request) settles it later.

Idempotency: every Result is looked up by OriginatorConversationID under `select_for_update`, and the status only
moves forward (initiated -> accepted -> succeeded | failed; timed_out may still become either). A duplicate success
is a no-op, a failure after a success is ignored, the receipt is DB-unique and so is each journal entry reference.

Item statuses: pending (not sent yet) -> sent (handed to Daraja: outcome awaited) -> succeeded | failed | timed_out.
An item is marked `sent` in the transaction that creates its MPesaTransaction, before the HTTP call, so a second run
of the execute task never sends it again.

Lock order: MPesaTransaction, then the bulk item, then finance rows (loan, ledger accounts), then the batch.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import DomainError, ValidationFailed
from finance.choices import AccountKind, GuarantorStatus, LoanStatus
from finance.exceptions import DuplicateReference, InsufficientFunds
from finance.models import Loan, LoanGuarantor
from finance.selectors.ledger import journal_entry_by_reference
from finance.services.loans import loan_disburse
from finance.services.payments import (
    merry_go_round_payout_post,
    payout_release,
    payout_reserve,
    savings_payout_post,
)
from groups.selectors import active_member_user_ids
from mpesa_integration import gateway
from mpesa_integration.choices import (
    BulkItemStatus,
    BulkPaymentStatus,
    CallbackKind,
    CallbackOutcome,
    Purpose,
    Settlement,
    TransactionKind,
    TransactionStatus,
)
from mpesa_integration.daraja import (
    DarajaDuplicateOriginator,
    DarajaError,
    DarajaTimeout,
    DarajaUnavailable,
    DarajaValidationError,
    parse_async_result,
)
from mpesa_integration.models import (
    CallbackLog,
    MPesaBulkPayment,
    MPesaBulkPaymentItem,
    MPesaTransaction,
)
from mpesa_integration.services.callbacks import callback_log_finish

logger = logging.getLogger("mpesa_integration")

COMMAND_ID = "BusinessPayment"
#: Transaction Status values (ResultParameter "TransactionStatus") that settle a payout, compared lower-case.
STATUS_COMPLETED = "completed"
STATUS_FAILED = frozenset({"failed", "declined", "cancelled", "canceled", "expired"})
#: Transaction Status ResultCodes meaning "no such transaction" (the simulator's R000001; Daraja documents none).
STATUS_NOT_FOUND_CODES = frozenset({"R000001"})

LIVE_ITEM_STATUSES = (BulkItemStatus.PENDING, BulkItemStatus.SENT, BulkItemStatus.TIMED_OUT)
FINAL_BATCH_STATUSES = (BulkPaymentStatus.COMPLETED, BulkPaymentStatus.PARTIAL, BulkPaymentStatus.FAILED)

REMARKS = {
    Purpose.LOAN_DISBURSEMENT: "Loan disbursement",
    Purpose.SHARE_OUT: "Share-out payout",
    Purpose.MERRY_GO_ROUND: "Merry-go-round payout",
    Purpose.REFUND: "Refund",
}


def _tasks():
    """The Celery entry points (imported late: the tasks module imports this one)."""
    from mpesa_integration import tasks_bulk

    return tasks_bulk


# --------------------------------------------------------------------------------------------------- send


def _item_fail(item: MPesaBulkPaymentItem, *, code: str, desc: str) -> None:
    item.status = BulkItemStatus.FAILED
    item.result_code = str(code)[:20]
    item.result_desc = str(desc)[:255]
    item.save(update_fields=["status", "result_code", "result_desc", "updated_at"])


def _loan_payable_problem(loan_id: int) -> str:
    """Why a loan may no longer be paid out ("" when it may): checked again just before the money moves."""
    loan = Loan.objects.filter(pk=loan_id).values("status").first()
    if loan is None or loan["status"] != LoanStatus.APPROVED:
        return f"The loan is {loan['status'] if loan else 'gone'}; it is no longer paid out."
    if LoanGuarantor.objects.filter(loan_id=loan_id).exclude(status=GuarantorStatus.ACCEPTED).exists():
        return "A guarantor has not accepted; the loan is not paid out."
    return ""


def bulk_item_send(*, item_id: int) -> MPesaBulkPaymentItem | None:
    """
    Send one pending item: reserve its cash, create and COMMIT its MPesaTransaction, then call Daraja B2C and
    record the answer. Returns None when the item is not pending (already sent: nothing is sent twice).
    """
    with transaction.atomic():
        item = (
            MPesaBulkPaymentItem.objects.select_for_update(of=("self",))
            .select_related("bulk_payment")
            .filter(pk=item_id)
            .first()
        )
        if item is None or item.status != BulkItemStatus.PENDING:
            return None
        batch = item.bulk_payment
        if batch.status != BulkPaymentStatus.PROCESSING:
            return None
        if item.loan_id is not None and (problem := _loan_payable_problem(item.loan_id)):
            _item_fail(item, code="not_payable", desc=problem)
            _batch_refresh(batch_id=batch.id)
            return item
        attempt = item.attempts + 1
        try:
            with transaction.atomic():
                payout_reserve(
                    group_id=item.group_id,
                    amount=item.amount,
                    reference=f"b2c-reserve:{item.id}:{attempt}",
                    description=f"M-Pesa payout reserved: {batch.batch_id} item {item.id}",
                    member_id=item.member_id,
                )
        except InsufficientFunds:
            item.attempts = attempt
            item.save(update_fields=["attempts", "updated_at"])
            _item_fail(item, code="insufficient_funds", desc="Not enough cash in the group")
            _batch_refresh(batch_id=batch.id)
            return item
        remarks = REMARKS.get(batch.purpose, "Chama payout")
        originator = f"CHB-{item.id}-{attempt}-{secrets.token_hex(4)}"
        txn = MPesaTransaction.objects.create(
            kind=TransactionKind.B2C,
            group_id=item.group_id,
            member_id=item.member_id,
            initiated_by_id=batch.initiated_by_id,
            phone=item.phone,
            amount=item.amount,
            account_reference=f"BP{batch.id}"[:20],
            transaction_desc=remarks,
            purpose=batch.purpose,
            loan_id=item.loan_id,
            originator_conversation_id=originator,
            status=TransactionStatus.INITIATED,
            settlement=Settlement.RESERVED,
            request_body={
                "OriginatorConversationID": originator,
                "CommandID": COMMAND_ID,
                "Amount": int(item.amount),
                "PartyB": item.phone,
                "Remarks": remarks,
                "Occassion": batch.batch_id,
                "SecurityCredential": "***",
            },
        )
        item.attempts = attempt
        item.transaction = txn
        item.status = BulkItemStatus.SENT
        item.result_code = item.result_desc = item.receipt_number = ""
        item.save(
            update_fields=[
                "attempts",
                "transaction",
                "status",
                "result_code",
                "result_desc",
                "receipt_number",
                "updated_at",
            ]
        )
    # Committed: whatever happens to the HTTP call, the payout attempt is on record.
    _b2c_request(txn_id=txn.id, occasion=batch.batch_id)
    item.refresh_from_db()
    return item


def _never_reached_mpesa(exc: DarajaUnavailable) -> bool:
    """Only a refused connection or Daraja's own throttling (500.003.x) prove the payout was not taken."""
    return exc.error_code.startswith("500.003") or "refused" in exc.error_message.lower()


def _b2c_request(*, txn_id: int, occasion: str = "") -> None:
    """Call Daraja B2C for a committed attempt (a first send, or a resend with the SAME originator id)."""
    txn = MPesaTransaction.objects.get(pk=txn_id)
    try:
        accepted = gateway.client_get().b2c_payment(
            originator_conversation_id=txn.originator_conversation_id,
            phone=txn.phone,
            amount=txn.amount,
            remarks=txn.transaction_desc or "Chama payout",
            result_url=gateway.callback_url("b2c_result"),
            queue_timeout_url=gateway.callback_url("b2c_timeout"),
            command_id=COMMAND_ID,
            occasion=occasion,
        )
    except DarajaDuplicateOriginator:
        _send_outcome(txn_id=txn_id, accepted=True)  # Daraja already has this request: its Result will come
    except DarajaTimeout as exc:
        _send_outcome(txn_id=txn_id, timed_out=True, desc=str(exc))
    except DarajaUnavailable as exc:
        if _never_reached_mpesa(exc):
            _send_outcome(txn_id=txn_id, failed=(exc.error_code or "unavailable", exc.error_message or str(exc)))
        else:  # a reset or a bare 5xx after the request went out: M-Pesa may have it — check before any retry
            _send_outcome(txn_id=txn_id, timed_out=True, desc=str(exc))
    except DarajaValidationError as exc:
        _send_outcome(txn_id=txn_id, failed=("validation", f"{exc.field}: {exc.message}"))
    except DarajaError as exc:  # refused, auth, unavailable: the request never reached M-Pesa's ledger
        _send_outcome(txn_id=txn_id, failed=(exc.error_code or "unavailable", exc.error_message or str(exc)))
    else:
        _send_outcome(
            txn_id=txn_id,
            accepted=True,
            conversation_id=accepted.conversation_id,
            request=accepted.request,
            response=accepted.raw,
        )


@transaction.atomic
def _send_outcome(
    *,
    txn_id: int,
    accepted: bool = False,
    timed_out: bool = False,
    failed: tuple[str, str] | None = None,
    conversation_id: str = "",
    request: dict | None = None,
    response: dict | None = None,
    desc: str = "",
) -> None:
    """Record Daraja's synchronous answer. A Result that overtook it (status already final) is left alone."""
    txn = MPesaTransaction.objects.select_for_update().get(pk=txn_id)
    item = MPesaBulkPaymentItem.objects.select_for_update().filter(transaction_id=txn.id).first()
    fields = ["updated_at"]
    if request:
        txn.request_body = request
        fields.append("request_body")
    if response:
        txn.response_body = response
        fields.append("response_body")
    if conversation_id and not txn.conversation_id:
        txn.conversation_id = conversation_id
        fields.append("conversation_id")
    if accepted:
        if txn.status in (TransactionStatus.INITIATED, TransactionStatus.TIMED_OUT):
            txn.status = TransactionStatus.ACCEPTED
            fields.append("status")
        txn.save(update_fields=fields)
        if item is not None and item.status == BulkItemStatus.TIMED_OUT:
            item.status = BulkItemStatus.SENT
            item.save(update_fields=["status", "updated_at"])
            _batch_refresh(batch_id=item.bulk_payment_id)
        return
    if timed_out:
        if txn.status in (TransactionStatus.INITIATED, TransactionStatus.ACCEPTED):
            txn.status = TransactionStatus.TIMED_OUT
            txn.result_desc = (desc or "No answer from Daraja")[:255]
            fields += ["status", "result_desc"]
        txn.save(update_fields=fields)
        if item is not None and item.status == BulkItemStatus.SENT:
            item.status = BulkItemStatus.TIMED_OUT
            item.result_desc = "No answer from M-Pesa; checking the payout's status"
            item.save(update_fields=["status", "result_desc", "updated_at"])
            _batch_refresh(batch_id=item.bulk_payment_id)
        return
    code, message = failed or ("failed", "Refused")
    txn.save(update_fields=fields)
    if txn.status == TransactionStatus.INITIATED:
        _payout_failed(txn, item, code=code, desc=message)
    elif txn.status == TransactionStatus.TIMED_OUT:
        # A resend after a timeout was refused: the first request may still have reached M-Pesa, so this says
        # nothing about the payout. It stays timed out (reservation kept) for the next sweep.
        logger.warning("mpesa.b2c resend refused txn=%s: %s %s", txn.id, code, message)


# --------------------------------------------------------------------------------------------------- outcomes


def _batch_refresh(*, batch_id: int) -> None:
    """Recompute the batch's counters and status from its items (exact, under the batch lock)."""
    batch = MPesaBulkPayment.objects.select_for_update().get(pk=batch_id)
    if batch.executed_at is None or batch.status in (BulkPaymentStatus.REJECTED, BulkPaymentStatus.PENDING_APPROVAL):
        return
    items = MPesaBulkPaymentItem.objects.filter(bulk_payment_id=batch_id)
    statuses = list(items.values_list("status", flat=True))
    succeeded = statuses.count(BulkItemStatus.SUCCEEDED)
    failed = statuses.count(BulkItemStatus.FAILED)
    paid = items.filter(status=BulkItemStatus.SUCCEEDED).aggregate(total=Sum("amount"))["total"]
    if any(s in LIVE_ITEM_STATUSES for s in statuses):
        status = BulkPaymentStatus.PROCESSING
    elif succeeded == len(statuses):
        status = BulkPaymentStatus.COMPLETED
    elif succeeded:
        status = BulkPaymentStatus.PARTIAL
    else:
        status = BulkPaymentStatus.FAILED
    was_final = batch.status in FINAL_BATCH_STATUSES
    batch.successful_count, batch.failed_count = succeeded, failed
    batch.paid_amount = paid or Decimal("0.00")
    batch.status = status
    if status in FINAL_BATCH_STATUSES:
        batch.completed_at = batch.completed_at if was_final and batch.completed_at else timezone.now()
    else:
        batch.completed_at = None
    batch.save(
        update_fields=["successful_count", "failed_count", "paid_amount", "status", "completed_at", "updated_at"]
    )
    if status in FINAL_BATCH_STATUSES and not was_final:
        events.publish(
            "bulk_payment.finished",
            {
                "bulk_payment_id": batch.id,
                "status": status,
                "paid_amount": str(batch.paid_amount),
                "successful_count": succeeded,
                "failed_count": failed,
            },
            group_id=batch.group_id,
        )


def _payout_failed(
    txn: MPesaTransaction, item: MPesaBulkPaymentItem | None, *, code: str, desc: str, body: dict | None = None
) -> None:
    """The payout did not happen: txn failed, reservation released, item failed. Caller holds the locks."""
    now = timezone.now()
    if body is not None:
        txn.callback_body = body
        txn.callback_received_at = now
    txn.status = TransactionStatus.FAILED
    txn.result_code = str(code)[:20]
    txn.result_desc = str(desc)[:255]
    txn.completed_at = now
    if txn.settlement == Settlement.RESERVED:
        payout_release(
            group_id=txn.group_id,
            amount=txn.amount,
            reference=f"b2c-release:{txn.id}",
            description=f"M-Pesa payout failed, reservation released ({txn.originator_conversation_id})",
            member_id=txn.member_id,
        )
        txn.settlement = Settlement.RELEASED
    txn.save(
        update_fields=[
            "status",
            "result_code",
            "result_desc",
            "completed_at",
            "settlement",
            "callback_body",
            "callback_received_at",
            "updated_at",
        ]
    )
    if item is not None and item.transaction_id == txn.id:
        _item_fail(item, code=code, desc=desc)
        _batch_refresh(batch_id=item.bulk_payment_id)


def _settle(txn: MPesaTransaction, *, receipt: str) -> int | None:
    """Post the payout's purpose out of MPESA_CLEARING, keyed by the receipt; return the journal entry id."""
    description = f"M-Pesa payout {receipt}: {txn.get_purpose_display()}"
    if txn.purpose == Purpose.LOAN_DISBURSEMENT:
        loan_disburse(loan_id=txn.loan_id, actor=None, funded_from=AccountKind.MPESA_CLEARING, reference=receipt)
        entry = journal_entry_by_reference(group_id=txn.group_id, reference=receipt)
        return entry.id if entry else None
    if txn.purpose in (Purpose.SHARE_OUT, Purpose.REFUND):
        return savings_payout_post(
            group_id=txn.group_id,
            member_id=txn.member_id,
            amount=txn.amount,
            reference=receipt,
            description=description,
        ).id
    if txn.purpose == Purpose.MERRY_GO_ROUND:
        return merry_go_round_payout_post(
            group_id=txn.group_id,
            recipient_id=txn.member_id,
            contributor_ids=active_member_user_ids(group_id=txn.group_id),
            amount=txn.amount,
            reference=receipt,
            description=description,
        ).id
    raise ValidationFailed(f"A payout of purpose {txn.purpose!r} has nothing to settle.")


def _payout_succeeded(
    txn: MPesaTransaction,
    item: MPesaBulkPaymentItem | None,
    *,
    receipt: str,
    code: str,
    desc: str,
    amount: Decimal | None,
    completed_at,
    body: dict,
) -> str:
    """M-Pesa paid: record it and settle in this transaction. Returns the callback outcome."""
    if txn.status == TransactionStatus.SUCCEEDED:
        return CallbackOutcome.DUPLICATE
    if not receipt:
        logger.error("mpesa.b2c success without a receipt txn=%s", txn.id)
        return CallbackOutcome.IGNORED
    if txn.status in (TransactionStatus.FAILED, TransactionStatus.CANCELLED):
        # M-Pesa changed its mind: the money DID leave. Its reservation was released, so reserve it again (without
        # the cash check: it is a fact, not a request) and settle it like any success; if the item was retried and
        # paid meanwhile, the second payout is recorded too and flagged by the unsettled note below.
        logger.error("mpesa.b2c success after failure txn=%s receipt=%s: recorded and posted", txn.id, receipt)
        payout_reserve(
            group_id=txn.group_id,
            amount=txn.amount,
            reference=f"b2c-rereserve:{txn.id}",
            description=f"M-Pesa reported payout {receipt} after its failure",
            member_id=txn.member_id,
            require_cash=False,
        )
    now = timezone.now()
    txn.status = TransactionStatus.SUCCEEDED
    txn.receipt_number = receipt[:20]
    txn.result_code = str(code)[:20]
    txn.result_desc = str(desc)[:255]
    txn.transaction_date = completed_at
    txn.callback_received_at = now
    txn.completed_at = now
    txn.callback_body = body
    try:
        with transaction.atomic():  # the receipt is unique: a second txn claiming it is a duplicate
            txn.save()
    except IntegrityError:
        txn.refresh_from_db()
        return CallbackOutcome.DUPLICATE

    problem = ""
    if amount is not None and amount != txn.amount:
        problem = f"M-Pesa reports KES {amount}, the payout was KES {txn.amount}: not posted, review it."
    else:
        try:
            with transaction.atomic():
                txn.journal_entry_id = _settle(txn, receipt=txn.receipt_number)
        except DuplicateReference:
            return CallbackOutcome.DUPLICATE  # the receipt was already posted: once per receipt
        except DomainError as exc:
            problem = f"Paid by M-Pesa but not posted: {exc.message}"[:255]
    if problem:
        # The money left: keep the reservation in MPESA_CLEARING for an official to resolve, and say why.
        txn.settlement_note = problem[:255]
        logger.error("mpesa.b2c unsettled txn=%s receipt=%s: %s", txn.id, receipt, problem)
        events.publish(
            "mpesa.payout_unsettled",
            {"transaction_id": txn.id, "receipt": txn.receipt_number, "reason": problem},
            group_id=txn.group_id,
        )
    else:
        txn.settlement = Settlement.POSTED
    txn.save(update_fields=["journal_entry", "settlement", "settlement_note", "updated_at"])

    if item is not None and item.transaction_id == txn.id:
        item.status = BulkItemStatus.SUCCEEDED
        item.receipt_number = txn.receipt_number
        item.result_code = txn.result_code
        item.result_desc = (problem or txn.result_desc)[:255]
        item.save(update_fields=["status", "receipt_number", "result_code", "result_desc", "updated_at"])
        _batch_refresh(batch_id=item.bulk_payment_id)
    return CallbackOutcome.PROCESSED


def _payout_timed_out(txn: MPesaTransaction, item: MPesaBulkPaymentItem | None, *, desc: str) -> str:
    """A QueueTimeOut: the outcome is unknown; keep the reservation and ask Transaction Status after commit."""
    if txn.status not in (TransactionStatus.INITIATED, TransactionStatus.ACCEPTED):
        return CallbackOutcome.IGNORED if txn.status != TransactionStatus.TIMED_OUT else CallbackOutcome.DUPLICATE
    txn.status = TransactionStatus.TIMED_OUT
    txn.result_desc = (desc or "Queue timeout")[:255]
    txn.callback_received_at = timezone.now()
    txn.save(update_fields=["status", "result_desc", "callback_received_at", "updated_at"])
    if item is not None and item.transaction_id == txn.id:
        item.status = BulkItemStatus.TIMED_OUT
        item.result_desc = "M-Pesa timed out; checking the payout's status"
        item.save(update_fields=["status", "result_desc", "updated_at"])
        _batch_refresh(batch_id=item.bulk_payment_id)
    txn_id = txn.id
    transaction.on_commit(lambda: _tasks().b2c_status_query_task.delay(txn_id))
    return CallbackOutcome.PROCESSED


def _txn_for_result(result, *, kind: str) -> MPesaTransaction | None:
    """The B2C transaction a Result is about, locked. A status Result names it in its parameters."""
    params = getattr(result, "parameters", None) or {}
    candidates: list[tuple[str, Any]] = []
    if kind == CallbackKind.STATUS_RESULT:
        # The Result's own ids are the query's. The payout's are in its parameters when M-Pesa found it, and we
        # send the payout's OriginatorConversationID as the query's Occasion, echoed in ReferenceData (also when
        # M-Pesa did not find it).
        reference = getattr(result, "reference_data", None) or {}
        candidates += [
            ("originator_conversation_id", params.get("OriginatorConversationID")),
            ("originator_conversation_id", reference.get("Occasion")),
            ("conversation_id", params.get("ConversationID")),
            ("receipt_number", getattr(result, "receipt", None) or params.get("ReceiptNo")),
        ]
    candidates += [
        ("originator_conversation_id", result.originator_conversation_id),
        ("conversation_id", result.conversation_id),
    ]
    payouts = MPesaTransaction.objects.select_for_update().filter(kind=TransactionKind.B2C)
    for field, value in candidates:
        if value not in (None, ""):
            txn = payouts.filter(**{field: str(value)}).first()
            if txn is not None:
                return txn
    return None


def _status_not_found(code: str, desc: str) -> bool:
    """A Transaction Status Result saying M-Pesa has no such transaction."""
    return code in STATUS_NOT_FOUND_CODES or "not found" in desc.lower()


@transaction.atomic
def b2c_result_process(*, log_id: int) -> str:
    """
    Apply a stored B2C Result, B2C QueueTimeOut or Transaction Status Result (a CallbackLog) to its payout.
    Idempotent: a log is processed once; a duplicate success posts nothing, a failure after a success is ignored.
    Returns the outcome recorded on the log (processed / duplicate / ignored / orphan / invalid).
    """
    log = CallbackLog.objects.select_for_update().filter(pk=log_id).first()
    if log is None:
        return CallbackOutcome.ORPHAN
    if log.outcome != CallbackOutcome.RECEIVED:
        return log.outcome
    try:
        result = parse_async_result(log.body)
    except DarajaValidationError as exc:
        return callback_log_finish(log, CallbackOutcome.INVALID, detail=f"{exc.field}: {exc.message}")
    txn = _txn_for_result(result, kind=log.kind)
    if txn is None:
        logger.warning("mpesa.b2c orphan result log=%s originator=%s", log.id, result.originator_conversation_id)
        return callback_log_finish(
            log, CallbackOutcome.ORPHAN, detail="No B2C payout has this OriginatorConversationID."
        )
    item = MPesaBulkPaymentItem.objects.select_for_update().filter(transaction_id=txn.id).first()
    code, desc = str(result.result_code), str(result.result_desc or "")
    receipt = str(getattr(result, "receipt", None) or result.transaction_id or "")

    if log.kind == CallbackKind.B2C_TIMEOUT:
        outcome = _payout_timed_out(txn, item, desc=f"{code} {desc}".strip())
        return callback_log_finish(log, outcome, txn=txn, detail=desc)

    if log.kind == CallbackKind.STATUS_RESULT:
        state = str((result.parameters or {}).get("TransactionStatus", "")).strip().lower()
        if code != "0":
            if txn.status == TransactionStatus.TIMED_OUT and _status_not_found(code, desc):
                # M-Pesa timed the request out (or never answered it) and has no record of it: nothing was paid.
                success, code, desc = False, code, f"No such payout at M-Pesa after a timeout: {desc}"
            else:
                # The query itself failed (no permission, bad credentials...): that says nothing about the payout.
                detail = f"Status query failed: {code} {desc}"
                return callback_log_finish(log, CallbackOutcome.IGNORED, txn=txn, detail=detail)
        elif state == STATUS_COMPLETED:
            success = True
        elif state in STATUS_FAILED:
            success, code, desc = False, f"status:{state}", f"Transaction Status: {state}"
        else:
            return callback_log_finish(log, CallbackOutcome.IGNORED, txn=txn, detail=f"Transaction status {state!r}")
    elif log.kind == CallbackKind.B2C_RESULT:
        success = code == "0"
    else:
        return callback_log_finish(log, CallbackOutcome.IGNORED, txn=txn, detail=f"Not a B2C result ({log.kind}).")

    if success:
        outcome = _payout_succeeded(
            txn,
            item,
            receipt=receipt,
            code=code,
            desc=desc,
            amount=getattr(result, "amount", None),
            completed_at=getattr(result, "completed_at", None),
            body=log.body,
        )
        return callback_log_finish(log, outcome, txn=txn, detail=desc)
    if txn.status == TransactionStatus.SUCCEEDED:
        return callback_log_finish(
            log, CallbackOutcome.IGNORED, txn=txn, detail="A failure after a success changes nothing."
        )
    if txn.status in (TransactionStatus.FAILED, TransactionStatus.CANCELLED):
        return callback_log_finish(log, CallbackOutcome.DUPLICATE, txn=txn, detail=desc)
    _payout_failed(txn, item, code=code, desc=desc, body=log.body)
    return callback_log_finish(log, CallbackOutcome.PROCESSED, txn=txn, detail=desc)


# --------------------------------------------------------------------------------------------------- status checks


def b2c_status_query(*, transaction_id: int) -> bool:
    """
    Ask Transaction Status about a payout whose outcome is unknown (timed_out, or accepted long ago). The answer
    comes as a status_result callback, processed by `b2c_result_process`. Returns True if the query was accepted.
    """
    with transaction.atomic():
        txn = MPesaTransaction.objects.select_for_update().filter(pk=transaction_id, kind=TransactionKind.B2C).first()
        if txn is None or txn.status not in (TransactionStatus.ACCEPTED, TransactionStatus.TIMED_OUT):
            return False
        txn.last_queried_at = timezone.now()
        txn.query_count += 1
        txn.save(update_fields=["last_queried_at", "query_count", "updated_at"])
        originator = txn.originator_conversation_id
    try:
        client = gateway.client_get()
        client.transaction_status(
            result_url=gateway.callback_url("status_result"),
            queue_timeout_url=gateway.callback_url("status_timeout"),
            originator_conversation_id=originator,
            party_a=client.b2c_shortcode,
            remarks="Payout status check",
            occasion=originator,  # echoed in the Result's ReferenceData: how a "not found" answer finds its payout
        )
    except (DarajaError, DarajaValidationError) as exc:
        logger.warning("mpesa.b2c status query failed txn=%s: %s", transaction_id, exc)
        return False
    return True


def b2c_resend(*, transaction_id: int) -> bool:
    """
    Resend a payout Daraja never acknowledged (a timeout or a crash before the answer) with the SAME
    OriginatorConversationID: Daraja either accepts it now or answers "duplicate" (it had it): never a second payout.
    """
    txn = (
        MPesaTransaction.objects.filter(
            pk=transaction_id,
            kind=TransactionKind.B2C,
            status__in=(TransactionStatus.INITIATED, TransactionStatus.TIMED_OUT),
            conversation_id__isnull=True,
        )
        .values("id")
        .first()
    )
    if txn is None:
        return False
    item = MPesaBulkPaymentItem.objects.filter(transaction_id=transaction_id).select_related("bulk_payment").first()
    _b2c_request(txn_id=transaction_id, occasion=item.bulk_payment.batch_id if item else "")
    return True


def b2c_pending_sweep(*, older_than_seconds: int | None = None, max_queries: int | None = None) -> dict[str, int]:
    """
    Beat job: settle payouts whose outcome is still unknown after `older_than_seconds`. Never acknowledged
    (no ConversationID) -> resend with the same OriginatorConversationID; acknowledged -> Transaction Status,
    at most `max_queries` times per payout (then it waits for an official).
    """
    if older_than_seconds is None:
        older_than_seconds = settings.MPESA_B2C_QUERY_AFTER_SECONDS
    if max_queries is None:
        max_queries = settings.MPESA_B2C_MAX_STATUS_QUERIES
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = MPesaTransaction.objects.filter(kind=TransactionKind.B2C, updated_at__lt=cutoff)
    resend_ids = list(
        pending.filter(
            status__in=(TransactionStatus.INITIATED, TransactionStatus.TIMED_OUT), conversation_id__isnull=True
        ).values_list("id", flat=True)[:200]
    )
    query_ids = list(
        pending.filter(
            status__in=(TransactionStatus.ACCEPTED, TransactionStatus.TIMED_OUT),
            conversation_id__isnull=False,
            query_count__lt=max_queries,
        ).values_list("id", flat=True)[:200]
    )
    resent = sum(1 for txn_id in resend_ids if b2c_resend(transaction_id=txn_id))
    queried = sum(1 for txn_id in query_ids if b2c_status_query(transaction_id=txn_id))
    return {"resent": resent, "queried": queried}
