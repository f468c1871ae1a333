"""
Maker-checker: disbursement approvals and officials' signatures.

Every outgoing payment (a loan, an expense, a withdrawal) needs `required_approvals` signatures of the
group's officials (the group's rule when the approval opens). Rules enforced by `approval_sign`:
- the signer is an ACTIVE official of the approval's group (an outsider gets 404, a plain member 403);
- nobody signs their own request, their own loan or their own expense (403 `self_approval`);
- an official signs once (the unique constraint answers 409 `already_signed`);
- only a PENDING approval can be signed (409 `invalid_state`).
Enough approvals -> APPROVED, and the linked loan/expense becomes APPROVED; any one rejection ->
REJECTED, and the linked loan/expense becomes REJECTED.

Lock order (to never deadlock with loan and expense services): loan or expense row first, then the
approval row.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict, NotFound, ValidationFailed
from chamahub.money import to_money
from finance.choices import ApprovalStatus, ApprovalType, ExpenseStatus, GuarantorStatus, LoanStatus
from finance.exceptions import InvalidState, SelfApprovalForbidden
from finance.models import ApprovalSignature, DisbursementApproval, Expense, Loan, LoanGuarantor
from groups.models import ChamaGroup
from groups.selectors import official_require


def disbursement_approval_open(
    *,
    group: ChamaGroup,
    approval_type: str,
    amount: Decimal,
    description: str,
    requested_by,
    loan: Loan | None = None,
    expense: Expense | None = None,
) -> DisbursementApproval:
    """Open the approval of a loan/expense/withdrawal with the group's current approval rule."""
    approval = DisbursementApproval(
        group=group,
        approval_type=approval_type,
        amount=to_money(amount),
        description=description,
        loan=loan,
        expense=expense,
        required_approvals=group.required_approvals,
        requested_by=requested_by,
    )
    approval.full_clean()
    approval.save()
    events.publish(
        "approval.requested",
        {
            "approval_id": approval.id,
            "approval_type": approval_type,
            "amount": str(approval.amount),
            "requested_by": requested_by.pk,
        },
        group_id=group.id,
    )
    return approval


@transaction.atomic
def disbursement_approval_create(
    *, group_id: int, requested_by, approval_type: str, amount: Decimal, description: str
) -> DisbursementApproval:
    """An official asks for a WITHDRAWAL (loans and expenses open their approvals themselves)."""
    official_require(requested_by, group_id, field="group")
    if approval_type != ApprovalType.WITHDRAWAL:
        raise ValidationFailed(
            "Loan and expense approvals are opened automatically.",
            fields={"approval_type": ["Only WITHDRAWAL approvals are created here; loans and expenses get theirs."]},
        )
    group = ChamaGroup.objects.get(pk=group_id)
    return disbursement_approval_open(
        group=group, approval_type=approval_type, amount=amount, description=description, requested_by=requested_by
    )


@transaction.atomic
def approval_sign(*, approval_id: int, approver, approved: bool, comments: str = "") -> ApprovalSignature:
    """Record one official's decision; decide the approval (and its loan/expense) when it is settled."""
    found = DisbursementApproval.objects.filter(pk=approval_id).values("group_id", "loan_id", "expense_id").first()
    if found is None:
        raise NotFound("Approval not found.", fields={"approval": ["Approval not found."]})
    official_require(approver, found["group_id"], field="approval")

    loan = Loan.objects.select_for_update().get(pk=found["loan_id"]) if found["loan_id"] else None
    expense = Expense.objects.select_for_update().get(pk=found["expense_id"]) if found["expense_id"] else None
    approval = DisbursementApproval.objects.select_for_update().get(pk=approval_id)

    own = {approval.requested_by_id}
    if loan is not None:
        own.add(loan.borrower_id)
    if expense is not None:
        own.add(expense.requested_by_id)
    if approver.pk in own:
        what = "loan" if loan is not None else "expense" if expense is not None else "request"
        raise SelfApprovalForbidden(
            f"You may not approve or reject your own {what}.",
            fields={"approval": [f"You may not approve or reject your own {what}."]},
        )
    if approval.status != ApprovalStatus.PENDING:
        raise InvalidState(
            f"This approval is already {approval.status}.",
            fields={"approval": [f"This approval is already {approval.status}; it cannot be signed."]},
        )
    linked = loan if loan is not None else expense
    if linked is not None and linked.status != "PENDING":
        raise InvalidState(
            f"The {approval.approval_type.lower()} is {linked.status}; it cannot be signed.",
            fields={"approval": [f"The {approval.approval_type.lower()} is {linked.status}."]},
        )

    signature = ApprovalSignature(
        group_id=approval.group_id, approval=approval, approver=approver, approved=approved, comments=comments or ""
    )
    signature.full_clean(validate_unique=False, validate_constraints=False)  # the constraint decides below
    try:
        with transaction.atomic():
            signature.save()
    except IntegrityError as exc:
        raise Conflict(
            "You have already signed this approval.",
            fields={"approval": ["You have already signed this approval."]},
            code="already_signed",
        ) from exc

    now = timezone.now()
    if approved:
        approval.approvals_count += 1
        if approval.approvals_count >= approval.required_approvals:
            approval.status = ApprovalStatus.APPROVED
            approval.decided_at = now
    else:
        approval.status = ApprovalStatus.REJECTED
        approval.decided_at = now
    approval.save(update_fields=["approvals_count", "status", "decided_at", "updated_at"])
    events.publish(
        "approval.signed",
        {"approval_id": approval.id, "approver_id": approver.pk, "approved": approved, "status": approval.status},
        group_id=approval.group_id,
    )
    if approval.status != ApprovalStatus.PENDING:
        _linked_decide(approval=approval, loan=loan, expense=expense, now=now)
    return signature


def _linked_decide(*, approval: DisbursementApproval, loan: Loan | None, expense: Expense | None, now) -> None:
    is_approved = approval.status == ApprovalStatus.APPROVED
    if loan is not None:
        if is_approved:
            loan.status, loan.approved_at = LoanStatus.APPROVED, now
            loan.save(update_fields=["status", "approved_at", "updated_at"])
            name = "loan.approved"
        else:
            loan.status, loan.rejected_at = LoanStatus.REJECTED, now
            loan.save(update_fields=["status", "rejected_at", "updated_at"])
            loan_guarantees_release(loan=loan)
            name = "loan.rejected"
        events.publish(
            name,
            {"loan_id": loan.id, "borrower_id": loan.borrower_id, "approval_id": approval.id},
            group_id=loan.group_id,
        )
    if expense is not None:
        if is_approved:
            expense.status, expense.approved_at = ExpenseStatus.APPROVED, now
            expense.save(update_fields=["status", "approved_at", "updated_at"])
        else:
            expense.status = ExpenseStatus.REJECTED
            expense.save(update_fields=["status", "updated_at"])
        events.publish(
            "expense.approved" if is_approved else "expense.rejected",
            {"expense_id": expense.id, "amount": str(expense.amount), "approval_id": approval.id},
            group_id=expense.group_id,
        )


def loan_guarantees_release(*, loan: Loan) -> int:
    """Release the pledges behind a loan that is repaid, rejected or written off (declines stay DECLINED)."""
    return LoanGuarantor.objects.filter(
        loan=loan, status__in=[GuarantorStatus.PENDING, GuarantorStatus.ACCEPTED]
    ).update(status=GuarantorStatus.RELEASED, updated_at=timezone.now())
