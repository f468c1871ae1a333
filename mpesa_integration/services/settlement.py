"""
What confirmed M-Pesa money does in the ledger. Always called inside the transaction that holds the
MPesaTransaction row lock, so one transaction is settled once.

- `settle_pay_in`: the purpose's own finance service posts it, keyed by the receipt (contribution_confirm,
  loan_repayment_record, fine_pay); if the purpose refuses (the loan was repaid meanwhile, the fine waived, the
  contribution reversed) or the money does not match what we asked for, it goes to the group's SUSPENSE account
  instead, with an alert. Nothing is lost and nothing is counted twice: every path posts exactly one entry whose
  reference is the receipt.
- `suspense_allocate`: an official moves money out of suspense to a purpose (two entries: release + purpose).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from finance.choices import ContributionStatus, PaymentMethod
from finance.models import Contribution, Fine, Loan
from finance.selectors.ledger import journal_entry_by_reference
from finance.services.contributions import contribution_confirm, contribution_record
from finance.services.fines import fine_pay
from finance.services.loans import loan_repayment_record
from finance.services.payments import suspense_receive, suspense_release
from groups.selectors import active_membership_get, official_require
from mpesa_integration.choices import LIVE_REVERSAL_STATUSES, Purpose, Settlement, TransactionStatus
from mpesa_integration.models import MPesaTransaction, PaymentReversal

logger = logging.getLogger("mpesa_integration")


def _pay_in_post(txn: MPesaTransaction, *, purpose: str, reference: str, actor=None) -> int | None:
    """Post the money to its purpose through finance's service; return the journal entry id (None: suspense)."""
    paid_at = txn.transaction_date or timezone.now()
    if purpose == Purpose.CONTRIBUTION:
        contribution = contribution_confirm(contribution_id=txn.contribution_id, actor=None, reference=reference)
        return contribution.journal_entry_id
    if purpose == Purpose.LOAN_REPAYMENT:
        repayment = loan_repayment_record(
            loan_id=txn.loan_id,
            amount=txn.amount,
            payment_method=PaymentMethod.MPESA,
            reference=reference,
            paid_at=min(paid_at, timezone.now()),
            actor=None,
            notes=f"M-Pesa {txn.receipt_number or txn.checkout_request_id}",
        )
        return repayment.journal_entry_id
    if purpose == Purpose.FINE:
        fine_pay(
            fine_id=txn.fine_id, actor=None, amount=txn.amount, payment_method=PaymentMethod.MPESA, reference=reference
        )
        entry = journal_entry_by_reference(group_id=txn.group_id, reference=reference)
        return entry.id if entry else None
    return None


def _to_suspense(txn: MPesaTransaction, *, reference: str, reason: str) -> None:
    entry = suspense_receive(
        group_id=txn.group_id,
        amount=txn.amount,
        reference=reference,
        description=f"M-Pesa {txn.receipt_number or txn.id} held in suspense: {reason}"[:255],
        member_id=txn.member_id,
    )
    txn.journal_entry_id = entry.id
    txn.settlement = Settlement.SUSPENSE
    txn.settlement_note = reason[:255]
    logger.warning("mpesa.suspense txn=%s receipt=%s amount=%s: %s", txn.id, txn.receipt_number, txn.amount, reason)
    events.publish(
        "mpesa.payment_suspended",
        {"transaction_id": txn.id, "receipt": txn.receipt_number, "amount": str(txn.amount), "reason": reason},
        group_id=txn.group_id,
    )


def settle_pay_in(txn: MPesaTransaction, *, mismatch: str = "") -> None:
    """Settle a succeeded pay-in (STK or C2B) once. `mismatch` names why it must go to suspense instead."""
    reference = txn.receipt_number or f"mpesa:{txn.kind}:{txn.checkout_request_id or txn.id}"
    if txn.group_id is None:
        txn.settlement = Settlement.UNALLOCATED
        txn.settlement_note = mismatch or "No group matches the account number."
        logger.warning("mpesa.unallocated txn=%s receipt=%s: %s", txn.id, txn.receipt_number, txn.settlement_note)
        return
    if mismatch:
        _to_suspense(txn, reference=reference, reason=mismatch)
        return
    if txn.purpose == Purpose.OTHER:
        _to_suspense(txn, reference=reference, reason="Payment without a purpose: allocate it.")
        return
    try:
        with transaction.atomic():  # a savepoint: a refusal leaves nothing of the purpose's half-written work
            entry_id = _pay_in_post(txn, purpose=txn.purpose, reference=reference)
    except DomainError as exc:
        _to_suspense(txn, reference=reference, reason=f"{txn.get_purpose_display()} refused: {exc.message}")
        return
    txn.journal_entry_id = entry_id
    txn.settlement = Settlement.POSTED


def _member_contribution_create(*, group_id: int, member_id: int, amount: Decimal, paid_at) -> Contribution:
    """A PENDING M-Pesa contribution recorded on the member's behalf (the system records what the member paid)."""
    membership = active_membership_get(group_id=group_id, user_id=member_id)
    if membership is None:
        raise ValidationFailed(
            "Not an active member of this group.", fields={"member": ["Not an active member of this group."]}
        )
    return contribution_record(
        actor=membership.user,
        group_id=group_id,
        amount=amount,
        payment_method=PaymentMethod.MPESA,
        paid_at=min(paid_at, timezone.now()),
    )


def pay_in_target_attach(
    txn: MPesaTransaction, *, purpose: str, target_id: int | None, member_id: int | None, field: str = "target_id"
) -> None:
    """Point a pay-in at its finance object (creating the PENDING contribution when none is given)."""
    txn.purpose = purpose
    if purpose == Purpose.CONTRIBUTION:
        if target_id is not None:
            contribution = Contribution.objects.filter(pk=target_id, group_id=txn.group_id).first()
            if contribution is None:
                raise NotFound("Contribution not found.", fields={field: ["No such contribution in this group."]})
            if contribution.status != ContributionStatus.PENDING or contribution.payment_method != PaymentMethod.MPESA:
                raise ValidationFailed(
                    "Only a PENDING M-Pesa contribution can be paid by M-Pesa.",
                    fields={field: [f"The contribution is {contribution.status} ({contribution.payment_method})."]},
                )
            if contribution.amount != txn.amount:
                raise ValidationFailed(
                    "The amount differs from the contribution's.",
                    fields={"amount": [f"The contribution is KES {contribution.amount}."]},
                )
        else:
            contribution = _member_contribution_create(
                group_id=txn.group_id, member_id=member_id, amount=txn.amount, paid_at=timezone.now()
            )
        txn.contribution = contribution
        txn.member_id = contribution.member_id
    elif purpose == Purpose.LOAN_REPAYMENT:
        loan = Loan.objects.filter(pk=target_id, group_id=txn.group_id).first() if target_id else None
        if loan is None:
            raise NotFound("Loan not found.", fields={field: ["Give the id of a loan of this group."]})
        txn.loan = loan
        txn.member_id = loan.borrower_id
    elif purpose == Purpose.FINE:
        fine = Fine.objects.filter(pk=target_id, group_id=txn.group_id).first() if target_id else None
        if fine is None:
            raise NotFound("Fine not found.", fields={field: ["Give the id of a fine of this group."]})
        txn.fine = fine
        txn.member_id = fine.member_id
    elif target_id is not None:
        raise ValidationFailed("A payment of purpose 'other' has no target.", fields={field: ["Leave it empty."]})


@transaction.atomic
def suspense_allocate(
    *,
    actor,
    transaction_id: int,
    purpose: str,
    target_id: int | None = None,
    member_id: int | None = None,
    group_id: int | None = None,
) -> MPesaTransaction:
    """
    An official allocates money held in suspense (or, for staff, a payment no group could be found for) to a
    contribution, loan repayment or fine. Posts Dr SUSPENSE / Cr CASH then the purpose's own entry, keyed
    "allocation:<receipt>" so it cannot run twice.
    """
    txn = MPesaTransaction.objects.select_for_update().filter(pk=transaction_id).first()
    if txn is None:
        raise NotFound("Transaction not found.")
    # Under the row lock reversal_request also takes: the money cannot be allocated and returned at once.
    if PaymentReversal.objects.filter(transaction=txn, status__in=LIVE_REVERSAL_STATUSES).exists():
        raise Conflict(
            "This payment is being returned to the payer (a reversal is pending or done); it cannot be allocated.",
            fields={"transaction": ["A reversal of this payment is pending or done."]},
            code="reversal_pending",
        )
    if txn.settlement == Settlement.UNALLOCATED:
        if not getattr(actor, "is_staff", False):
            raise NotFound("Transaction not found.")
        if group_id is None:
            raise ValidationFailed("Choose the group this payment belongs to.", fields={"group": ["Required."]})
        txn.group_id = group_id
    elif txn.settlement != Settlement.SUSPENSE:
        raise ValidationFailed(
            "Only money held in suspense can be allocated.",
            fields={"transaction": [f"This transaction is {txn.get_settlement_display().lower()}."]},
        )
    elif txn.group_id is None:
        raise NotFound("Transaction not found.")
    if not getattr(actor, "is_staff", False):
        official_require(actor, txn.group_id)
    if purpose not in (Purpose.CONTRIBUTION, Purpose.LOAN_REPAYMENT, Purpose.FINE):
        raise ValidationFailed("Allocate to a contribution, loan repayment or fine.", fields={"purpose": ["Invalid."]})
    if txn.status != TransactionStatus.SUCCEEDED:
        raise PermissionDenied("Only received money can be allocated.")
    receipt = txn.receipt_number or str(txn.uuid)
    if purpose == Purpose.CONTRIBUTION and target_id is None and member_id is None:
        raise ValidationFailed("Name the member whose contribution this is.", fields={"member": ["Required."]})
    pay_in_target_attach(txn, purpose=purpose, target_id=target_id, member_id=member_id)
    if txn.settlement == Settlement.SUSPENSE:
        suspense_release(
            group_id=txn.group_id,
            amount=txn.amount,
            reference=f"suspense-release:{receipt}",
            description=f"M-Pesa {receipt} allocated from suspense",
            created_by_id=actor.pk,
        )
        reference = f"allocation:{receipt}"
    else:
        reference = receipt
    entry_id = _pay_in_post(txn, purpose=purpose, reference=reference, actor=actor)
    txn.journal_entry_id = entry_id
    txn.settlement = Settlement.ALLOCATED
    txn.settlement_note = f"Allocated by {actor} on {timezone.localdate():%Y-%m-%d}"
    txn.save()
    events.publish(
        "mpesa.suspense_allocated",
        {"transaction_id": txn.id, "purpose": purpose, "amount": str(txn.amount)},
        group_id=txn.group_id,
    )
    return txn
