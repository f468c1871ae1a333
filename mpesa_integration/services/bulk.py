"""
B2C bulk payouts with maker-checker approval: loan disbursements, share-outs, merry-go-round pots and refunds.

B2C payouts cannot be reversed (daraja.md §1.7), so a batch is created by one official (the maker) and sent only
after `group.required_approvals` OTHER officials approved it. Life cycle of a batch:

    pending_approval --(enough approvals)--> approved --(execute task)--> processing --> completed | partial | failed
    pending_approval --(any rejection)--> rejected

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

Field errors on create name the item by index: ``items[0].amount``, ``items[2].phone`` (the same keys the API's
serializer errors use).

Lock order: MPesaTransaction, then the bulk item, then finance rows (loan, ledger accounts), then the batch.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from chamahub import events
from chamahub.api.fields import ID_MAX
from chamahub.exceptions import Conflict, DomainError, NotFound, ValidationFailed
from finance.choices import AccountKind, GuarantorStatus, LoanStatus
from finance.exceptions import DuplicateReference, InsufficientFunds, InvalidState, SelfApprovalForbidden
from finance.models import Loan, LoanGuarantor
from finance.selectors.ledger import journal_entry_by_reference
from finance.services.loans import loan_disburse
from finance.services.payments import (
    member_savings_require,
    merry_go_round_payout_post,
    payout_release,
    payout_reserve,
    savings_payout_post,
)
from groups.models import ChamaGroup
from groups.selectors import active_member_user_ids, official_require
from mpesa_integration import gateway
from mpesa_integration.choices import (
    PAYOUT_PURPOSES,
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
    normalize_msisdn,
    parse_async_result,
)
from mpesa_integration.models import (
    BulkPaymentApproval,
    CallbackLog,
    MPesaBulkPayment,
    MPesaBulkPaymentItem,
    MPesaTransaction,
)

logger = logging.getLogger("mpesa_integration")

B2C_MIN_AMOUNT = Decimal("10")
B2C_MAX_AMOUNT = Decimal("250000")
MAX_ITEMS = 500
COMMAND_ID = "BusinessPayment"
#: Transaction Status values (ResultParameter "TransactionStatus") that settle a payout, compared lower-case.
STATUS_COMPLETED = "completed"
STATUS_FAILED = frozenset({"failed", "declined", "cancelled", "canceled", "expired"})
#: Transaction Status ResultCodes meaning "no such transaction" (the simulator's R000001; Daraja documents none).
STATUS_NOT_FOUND_CODES = frozenset({"R000001"})

LIVE_ITEM_STATUSES = (BulkItemStatus.PENDING, BulkItemStatus.SENT, BulkItemStatus.TIMED_OUT)
FINAL_BATCH_STATUSES = (BulkPaymentStatus.COMPLETED, BulkPaymentStatus.PARTIAL, BulkPaymentStatus.FAILED)
SEND_TIMEOUT_SECONDS_DEFAULT = 300
STATUS_QUERY_MAX_DEFAULT = 5

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


# --------------------------------------------------------------------------------------------------- create


def _amount_check(raw: Any) -> tuple[Decimal | None, str | None]:
    """(amount, None) for a whole number of shillings within the B2C limits, else (None, message)."""
    if raw is None or isinstance(raw, bool | float):
        return None, 'Enter the amount as a whole number of shillings, e.g. "1500".'
    try:
        amount = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None, 'Enter the amount as a whole number of shillings, e.g. "1500".'
    if not amount.is_finite():
        return None, 'Enter the amount as a whole number of shillings, e.g. "1500".'
    if amount <= 0:
        return None, "The amount must be greater than zero."
    if amount != amount.to_integral_value():
        return None, "M-Pesa pays whole shillings only: no cents."
    if not B2C_MIN_AMOUNT <= amount <= B2C_MAX_AMOUNT:
        return None, "An M-Pesa payout must be between KES 10 and KES 250,000."
    return amount.quantize(Decimal("0.01")), None


@dataclass
class _ItemDraft:
    member_id: int
    amount: Decimal
    phone: str
    loan_id: int | None


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 1 <= number <= ID_MAX else None  # no row has another id: larger ones overflow the database


def _items_validate(*, group: ChamaGroup, purpose: str, items: list[dict]) -> list[_ItemDraft]:
    """Check every item (collecting every error, keyed items[i].<field>); raise ValidationFailed if any."""
    errors: dict[str, list[str]] = {}

    def add(index: int, field: str, message: str) -> None:
        errors.setdefault(f"items[{index}].{field}", []).append(message)

    if not items:
        raise ValidationFailed("Add at least one payout.", fields={"items": ["Add at least one payout."]})
    if len(items) > MAX_ITEMS:
        message = f"A batch pays at most {MAX_ITEMS} members."
        raise ValidationFailed(message, fields={"items": [message]})
    if purpose == Purpose.MERRY_GO_ROUND and len(items) != 1:
        message = "A merry-go-round batch pays exactly one member: this round's recipient."
        raise ValidationFailed(message, fields={"items": [message]})

    member_ids = {m for m in (_int_or_none(item.get("member")) for item in items) if m is not None}
    active = set(active_member_user_ids(group_id=group.id)) & member_ids
    # The member's own phone number is the payout's default.
    phones = dict(get_user_model().objects.filter(pk__in=active).values_list("pk", "phone_number"))
    loan_ids = {x for x in (_int_or_none(item.get("loan")) for item in items) if x is not None}
    loans = {loan.id: loan for loan in Loan.objects.filter(pk__in=loan_ids, group_id=group.id)}
    waiting = set(
        LoanGuarantor.objects.filter(loan_id__in=loans)
        .exclude(status=GuarantorStatus.ACCEPTED)
        .values_list("loan_id", flat=True)
    )

    drafts: list[_ItemDraft] = []
    seen_members: set[int] = set()
    seen_loans: set[int] = set()
    for index, item in enumerate(items):
        member_id = _int_or_none(item.get("member"))
        if member_id is None:
            add(index, "member", "Choose the member to pay.")
        elif member_id not in active:
            add(index, "member", "Not an active member of this group.")
        elif member_id in seen_members:
            add(index, "member", "This member is listed twice in the batch.")
        if member_id is not None:
            seen_members.add(member_id)

        amount, amount_error = _amount_check(item.get("amount"))
        if amount_error:
            add(index, "amount", amount_error)

        phone_raw = item.get("phone") or phones.get(member_id or 0, "")
        phone = ""
        if member_id in active or item.get("phone"):
            try:
                phone = normalize_msisdn(phone_raw)
            except DarajaValidationError as exc:
                add(index, "phone", exc.message)

        loan_id = _int_or_none(item.get("loan"))
        if purpose == Purpose.LOAN_DISBURSEMENT:
            loan = loans.get(loan_id) if loan_id is not None else None
            if loan_id is None:
                add(index, "loan", "Name the loan this payout disburses.")
            elif loan is None:
                add(index, "loan", "No such loan in this group.")
            elif loan_id in seen_loans:
                add(index, "loan", "This loan is listed twice in the batch.")
            elif loan.status != LoanStatus.APPROVED:
                add(index, "loan", f"The loan is {loan.status}; only an APPROVED loan can be paid out.")
            elif loan.borrower_id != member_id:
                add(index, "loan", "The loan's borrower is not this member.")
            elif loan.principal_amount != loan.principal_amount.to_integral_value():
                add(index, "loan", "M-Pesa pays whole shillings: the loan's principal has cents.")
            elif amount is not None and amount != loan.principal_amount:
                add(index, "amount", f"The amount must equal the loan's principal, KES {loan.principal_amount}.")
            elif loan_id in waiting:
                add(index, "loan", "Every guarantor must accept before the loan is paid out.")
            if loan_id is not None:
                seen_loans.add(loan_id)
        elif loan_id is not None or item.get("loan") not in (None, ""):
            add(index, "loan", "Only a loan disbursement names a loan.")
        elif purpose in (Purpose.SHARE_OUT, Purpose.REFUND) and amount is not None and member_id in active:
            try:
                member_savings_require(
                    group_id=group.id, member_id=member_id, amount=amount, field=f"items[{index}].amount"
                )
            except ValidationFailed as exc:
                for key, messages in exc.fields.items():
                    errors.setdefault(key, []).extend(messages)

        if member_id is not None and amount is not None and phone:
            drafts.append(_ItemDraft(member_id=member_id, amount=amount, phone=phone, loan_id=loan_id))

    if errors:
        messages = [m for ms in errors.values() for m in ms]
        raise ValidationFailed(messages[0] if len(messages) == 1 else "Some payouts are not valid.", fields=errors)
    return drafts


def _batch_id(group_id: int) -> str:
    """BP-<group>-<yyyymmddHHMMSS>-<hex>: readable, sortable per group, unique (the column is unique too)."""
    return f"BP-{group_id}-{timezone.localtime():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


@transaction.atomic
def bulk_payment_create(
    *, actor, group_id: int, purpose: str, items: list[dict], description: str = ""
) -> MPesaBulkPayment:
    """
    An official prepares a batch of B2C payouts (status pending_approval). Nothing is sent until other officials
    approve it. Each item is ``{"member": id, "amount": whole shillings, "phone": optional, "loan": optional}``
    (``member_id`` / ``loan_id`` are accepted as aliases). Refusals: outsider 404, plain member 403, invalid items
    400 with ``items[i].<field>`` messages, a loan already in a live payout 409. Writes nothing on any error.
    """
    official_require(actor, group_id, field="group")
    if purpose not in PAYOUT_PURPOSES:
        message = "Choose loan_disbursement, share_out, merry_go_round or refund."
        raise ValidationFailed(message, fields={"purpose": [message]})
    description = (description or "").strip()
    if len(description) > 100:
        raise ValidationFailed("At most 100 characters.", fields={"description": ["At most 100 characters."]})
    normalised = [
        {
            "member": item.get("member", item.get("member_id")),
            "amount": item.get("amount"),
            "phone": item.get("phone"),
            "loan": item.get("loan", item.get("loan_id")),
        }
        for item in items
    ]
    group = ChamaGroup.objects.get(pk=group_id)
    drafts = _items_validate(group=group, purpose=purpose, items=normalised)

    batch = MPesaBulkPayment.objects.create(
        batch_id=_batch_id(group.id),
        group=group,
        purpose=purpose,
        description=description,
        initiated_by=actor,
        required_approvals=group.required_approvals,
        total_amount=sum((d.amount for d in drafts), Decimal("0.00")),
        total_recipients=len(drafts),
    )
    for index, draft in enumerate(drafts):
        try:
            with transaction.atomic():
                MPesaBulkPaymentItem.objects.create(
                    bulk_payment=batch,
                    group=group,
                    member_id=draft.member_id,
                    phone=draft.phone,
                    amount=draft.amount,
                    loan_id=draft.loan_id,
                )
        except IntegrityError as exc:  # the partial unique constraint: one live payout per loan
            message = "This loan already has an M-Pesa payout in progress or done."
            raise Conflict(message, fields={f"items[{index}].loan": [message]}, code="payout_exists") from exc
    events.publish(
        "bulk_payment.created",
        {"bulk_payment_id": batch.id, "purpose": purpose, "total_amount": str(batch.total_amount)},
        group_id=group.id,
    )
    return batch


# --------------------------------------------------------------------------------------------------- approval


def _official_of_batch_require(*, actor, bulk_payment_id: int) -> None:
    """The actor must be an official of the batch's group (missing batch or outsider 404, plain member 403)."""
    found = MPesaBulkPayment.objects.filter(pk=bulk_payment_id).values_list("group_id", flat=True).first()
    if found is None:
        raise NotFound("Bulk payment not found.")
    official_require(actor, found)


def _batch_for_official(*, actor, bulk_payment_id: int) -> MPesaBulkPayment:
    """The batch, locked, if the actor is an official of its group (outsider 404, plain member 403)."""
    _official_of_batch_require(actor=actor, bulk_payment_id=bulk_payment_id)
    return MPesaBulkPayment.objects.select_for_update().get(pk=bulk_payment_id)


@transaction.atomic
def bulk_payment_approve(*, actor, bulk_payment_id: int, approved: bool, comments: str = "") -> MPesaBulkPayment:
    """
    An official other than the maker approves or rejects a pending batch, once. A rejection rejects the batch
    (its items are released, so their loans may be paid another way); the approval that reaches
    `required_approvals` approves it and starts the execution after commit.
    """
    batch = _batch_for_official(actor=actor, bulk_payment_id=bulk_payment_id)
    if batch.status != BulkPaymentStatus.PENDING_APPROVAL:
        raise InvalidState(
            f"The batch is {batch.get_status_display().lower()}; only a batch awaiting approval can be decided.",
            fields={"status": [f"The batch is {batch.status}."]},
        )
    if batch.initiated_by_id == actor.pk:
        message = "The official who created a batch cannot approve it"
        raise SelfApprovalForbidden(message, fields={"approver": [message]})
    try:
        with transaction.atomic():
            BulkPaymentApproval.objects.create(
                bulk_payment=batch, approver=actor, approved=approved, comments=(comments or "")[:255]
            )
    except IntegrityError as exc:  # the unique constraint answers: one decision per official
        message = "You have already decided on this batch."
        raise Conflict(message, fields={"approver": [message]}, code="already_decided") from exc

    now = timezone.now()
    if not approved:
        batch.status = BulkPaymentStatus.REJECTED
        batch.save(update_fields=["status", "updated_at"])
        MPesaBulkPaymentItem.objects.filter(bulk_payment=batch, status=BulkItemStatus.PENDING).update(
            status=BulkItemStatus.FAILED, result_desc=f"Batch rejected by {actor}"[:255], updated_at=now
        )
        events.publish("bulk_payment.rejected", {"bulk_payment_id": batch.id}, group_id=batch.group_id)
        return batch

    approvals = (
        BulkPaymentApproval.objects.filter(bulk_payment=batch, approved=True)
        .exclude(approver_id=batch.initiated_by_id)
        .count()
    )
    if approvals >= batch.required_approvals:
        batch.status = BulkPaymentStatus.APPROVED
        batch.approved_at = now
        batch.save(update_fields=["status", "approved_at", "updated_at"])
        events.publish(
            "bulk_payment.approved",
            {"bulk_payment_id": batch.id, "total_amount": str(batch.total_amount)},
            group_id=batch.group_id,
        )
        batch_id = batch.id
        transaction.on_commit(lambda: _tasks().bulk_payment_execute_task.delay(batch_id))
    return batch


@transaction.atomic
def bulk_payment_process(*, actor, bulk_payment_id: int) -> MPesaBulkPayment:
    """(Re)start the execution of an approved batch that has not started (e.g. its task was lost). Else 409."""
    batch = _batch_for_official(actor=actor, bulk_payment_id=bulk_payment_id)
    if batch.status != BulkPaymentStatus.APPROVED or batch.executed_at is not None:
        raise InvalidState(
            f"Only an approved batch that has not started can be processed; this one is "
            f"{batch.get_status_display().lower()}.",
            fields={"status": [f"The batch is {batch.status}."]},
        )
    batch_id = batch.id
    transaction.on_commit(lambda: _tasks().bulk_payment_execute_task.delay(batch_id))
    return batch


# --------------------------------------------------------------------------------------------------- execution


def bulk_payment_execute(*, bulk_payment_id: int) -> MPesaBulkPayment | None:
    """
    Send every pending item of an approved batch, one after the other (each in its own transactions, see
    `bulk_item_send`). Idempotent: a second run sends only what is still pending. Returns None for a batch that
    is not approved or processing.
    """
    with transaction.atomic():
        batch = MPesaBulkPayment.objects.select_for_update().filter(pk=bulk_payment_id).first()
        if batch is None or batch.status not in (BulkPaymentStatus.APPROVED, BulkPaymentStatus.PROCESSING):
            return None
        if batch.status == BulkPaymentStatus.APPROVED:
            batch.status = BulkPaymentStatus.PROCESSING
            batch.executed_at = timezone.now()
            batch.save(update_fields=["status", "executed_at", "updated_at"])
    item_ids = list(
        MPesaBulkPaymentItem.objects.filter(bulk_payment_id=bulk_payment_id, status=BulkItemStatus.PENDING)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for item_id in item_ids:
        bulk_item_send(item_id=item_id)
    return MPesaBulkPayment.objects.get(pk=bulk_payment_id)


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
    if txn.status in (TransactionStatus.FAILED, TransactionStatus.CANCELLED):
        logger.error(
            "mpesa.b2c success after failure txn=%s receipt=%s: needs review (reservation already released)",
            txn.id,
            receipt,
        )
        return CallbackOutcome.IGNORED
    if not receipt:
        logger.error("mpesa.b2c success without a receipt txn=%s", txn.id)
        return CallbackOutcome.IGNORED
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


def _log_finish(log: CallbackLog, outcome: str, *, txn: MPesaTransaction | None = None, detail: str = "") -> str:
    log.outcome = outcome
    log.processed_at = timezone.now()
    log.detail = detail[:255]
    if txn is not None:
        log.transaction = txn
    log.save(update_fields=["outcome", "processed_at", "detail", "transaction"])
    return outcome


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
        return _log_finish(log, CallbackOutcome.INVALID, detail=f"{exc.field}: {exc.message}")
    txn = _txn_for_result(result, kind=log.kind)
    if txn is None:
        logger.warning("mpesa.b2c orphan result log=%s originator=%s", log.id, result.originator_conversation_id)
        return _log_finish(log, CallbackOutcome.ORPHAN, detail="No B2C payout has this OriginatorConversationID.")
    item = MPesaBulkPaymentItem.objects.select_for_update().filter(transaction_id=txn.id).first()
    code, desc = str(result.result_code), str(result.result_desc or "")
    receipt = str(getattr(result, "receipt", None) or result.transaction_id or "")

    if log.kind == CallbackKind.B2C_TIMEOUT:
        outcome = _payout_timed_out(txn, item, desc=f"{code} {desc}".strip())
        return _log_finish(log, outcome, txn=txn, detail=desc)

    if log.kind == CallbackKind.STATUS_RESULT:
        state = str((result.parameters or {}).get("TransactionStatus", "")).strip().lower()
        if code != "0":
            if txn.status == TransactionStatus.TIMED_OUT and _status_not_found(code, desc):
                # M-Pesa timed the request out (or never answered it) and has no record of it: nothing was paid.
                success, code, desc = False, code, f"No such payout at M-Pesa after a timeout: {desc}"
            else:
                # The query itself failed (no permission, bad credentials...): that says nothing about the payout.
                detail = f"Status query failed: {code} {desc}"
                return _log_finish(log, CallbackOutcome.IGNORED, txn=txn, detail=detail)
        elif state == STATUS_COMPLETED:
            success = True
        elif state in STATUS_FAILED:
            success, code, desc = False, f"status:{state}", f"Transaction Status: {state}"
        else:
            return _log_finish(log, CallbackOutcome.IGNORED, txn=txn, detail=f"Transaction status {state!r}")
    elif log.kind == CallbackKind.B2C_RESULT:
        success = code == "0"
    else:
        return _log_finish(log, CallbackOutcome.IGNORED, txn=txn, detail=f"Not a B2C result ({log.kind}).")

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
        return _log_finish(log, outcome, txn=txn, detail=desc)
    if txn.status == TransactionStatus.SUCCEEDED:
        return _log_finish(log, CallbackOutcome.IGNORED, txn=txn, detail="A failure after a success changes nothing.")
    if txn.status in (TransactionStatus.FAILED, TransactionStatus.CANCELLED):
        return _log_finish(log, CallbackOutcome.DUPLICATE, txn=txn, detail=desc)
    _payout_failed(txn, item, code=code, desc=desc, body=log.body)
    return _log_finish(log, CallbackOutcome.PROCESSED, txn=txn, detail=desc)


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


# --------------------------------------------------------------------------------------------------- retries


def _item_retry_prepare(item: MPesaBulkPaymentItem) -> None:
    """Put a failed item back to pending for a new attempt (the loan's live-payout constraint may refuse)."""
    if item.status != BulkItemStatus.FAILED:
        raise InvalidState(
            f"Only a failed payout can be retried; this one is {item.get_status_display().lower()}.",
            fields={"item": [f"The payout is {item.status}."]},
        )
    try:
        with transaction.atomic():
            item.status = BulkItemStatus.PENDING
            item.save(update_fields=["status", "updated_at"])
    except IntegrityError as exc:
        message = "This loan has another M-Pesa payout in progress or done."
        raise Conflict(message, fields={"item": [message]}, code="payout_exists") from exc


def _retry_check(batch: MPesaBulkPayment) -> None:
    if batch.executed_at is None or batch.status not in (
        BulkPaymentStatus.PROCESSING,
        BulkPaymentStatus.PARTIAL,
        BulkPaymentStatus.FAILED,
    ):
        raise InvalidState(
            f"Payouts of a {batch.get_status_display().lower()} batch cannot be retried.",
            fields={"status": [f"The batch is {batch.status}."]},
        )


def _sends_after_commit(item_ids: list[int]) -> None:
    for item_id in item_ids:
        transaction.on_commit(lambda item_id=item_id: _tasks().bulk_item_send_task.delay(item_id))


@transaction.atomic
def bulk_item_retry(*, actor, item_id: int, bulk_payment_id: int | None = None) -> MPesaBulkPaymentItem:
    """
    An official retries one failed payout: a new attempt (new OriginatorConversationID, new reservation).
    With `bulk_payment_id`, the item must belong to that batch (else 404).
    """
    items = MPesaBulkPaymentItem.objects.filter(pk=item_id)
    if bulk_payment_id is not None:
        items = items.filter(bulk_payment_id=bulk_payment_id)
    found = items.values_list("group_id", flat=True).first()
    if found is None:
        raise NotFound("Payout not found.", fields={"item": ["Payout not found."]})
    official_require(actor, found, field="item")
    item = MPesaBulkPaymentItem.objects.select_for_update(of=("self",)).select_related("bulk_payment").get(pk=item_id)
    _retry_check(item.bulk_payment)
    _item_retry_prepare(item)
    _batch_refresh(batch_id=item.bulk_payment_id)
    _sends_after_commit([item.id])
    return item


@transaction.atomic
def bulk_payment_retry_failed(*, actor, bulk_payment_id: int) -> MPesaBulkPayment:
    """An official retries every failed payout of an executed batch (each a new attempt). 409 if none failed."""
    _official_of_batch_require(actor=actor, bulk_payment_id=bulk_payment_id)
    items = list(  # items before the batch: the lock order every payout path uses
        MPesaBulkPaymentItem.objects.select_for_update()
        .filter(bulk_payment_id=bulk_payment_id, status=BulkItemStatus.FAILED)
        .order_by("id")
    )
    batch = MPesaBulkPayment.objects.select_for_update().get(pk=bulk_payment_id)
    _retry_check(batch)
    if not items:
        raise InvalidState("No failed payouts to retry.", fields={"status": ["No failed payouts."]})
    for item in items:
        _item_retry_prepare(item)
    _batch_refresh(batch_id=batch.id)
    _sends_after_commit([item.id for item in items])
    batch.refresh_from_db()
    return batch
