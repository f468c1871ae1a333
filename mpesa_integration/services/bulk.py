"""
B2C bulk payouts, the batch life cycle with maker-checker approval: loan disbursements, share-outs, merry-go-round
pots and refunds.

This module owns a batch from its creation to its last retry: create it (every item validated), approve or reject
it, (re)start and execute it, retry its failed payouts. How one payout is sent to Daraja and how its outcome (the
synchronous answer, a Result, a QueueTimeOut, a Transaction Status Result) moves the money lives in
`mpesa_integration.services.payouts`, which this module imports (payouts never imports this one).

B2C payouts cannot be reversed (daraja.md §1.7), so a batch is created by one official (the maker) and sent only
after `group.required_approvals` OTHER officials approved it. Life cycle of a batch:

    pending_approval --(enough approvals)--> approved --(execute task)--> processing --> completed | partial | failed
    pending_approval --(any rejection)--> rejected

Execution sends each pending item once (`payouts.bulk_item_send`); the batch's counters and status follow its items
(`payouts._batch_refresh`). A retry puts a failed item back to pending for a new attempt (a new
OriginatorConversationID and a new reservation).

Field errors on create name the item by index: ``items[0].amount``, ``items[2].phone`` (the same keys the API's
serializer errors use).

Lock order: MPesaTransaction, then the bulk item, then finance rows (loan, ledger accounts), then the batch.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from chamahub import events
from chamahub.api.fields import ID_MAX
from chamahub.exceptions import Conflict, NotFound, ValidationFailed
from finance.choices import GuarantorStatus, LoanStatus
from finance.exceptions import InvalidState, SelfApprovalForbidden
from finance.models import Loan, LoanGuarantor
from finance.services.payments import member_savings_require
from groups.models import ChamaGroup
from groups.selectors import active_member_user_ids, official_require
from mpesa_integration.choices import PAYOUT_PURPOSES, BulkItemStatus, BulkPaymentStatus, Purpose
from mpesa_integration.daraja import DarajaValidationError, normalize_msisdn
from mpesa_integration.models import BulkPaymentApproval, MPesaBulkPayment, MPesaBulkPaymentItem
from mpesa_integration.services.payouts import _batch_refresh, _tasks, bulk_item_send

B2C_MIN_AMOUNT = Decimal("10")
B2C_MAX_AMOUNT = Decimal("250000")
MAX_ITEMS = 500


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
