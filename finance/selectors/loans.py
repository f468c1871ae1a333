"""
Loan reads, scoped to the caller.

- loans: a plain member sees their own loans, an official every loan of the groups they serve.
- repayments: the same rule (member: their own; official: the group's).
- guarantees: the guarantor sees the requests addressed to them; the borrower and officials see a loan's.
- expenses, disbursement approvals and signatures: every ACTIVE member of the group.
Outsiders see nothing, so a detail route answers 404 for another group's objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet, Sum

from chamahub.money import ZERO
from finance.choices import AccountKind, GuarantorStatus, LoanStatus
from finance.models import (
    ApprovalSignature,
    DisbursementApproval,
    Expense,
    Loan,
    LoanGuarantor,
    LoanInstallment,
    LoanRepayment,
)
from finance.selectors.ledger import account_balance, cents
from groups.selectors import active_group_ids, official_group_ids, own_rows_q

# Loans whose pledges still hold a guarantor's savings.
PLEDGE_HOLDING_STATUSES = (LoanStatus.PENDING, LoanStatus.APPROVED, LoanStatus.ACTIVE, LoanStatus.DEFAULTED)


def _installments_prefetch() -> Prefetch:
    return Prefetch("installments", queryset=LoanInstallment.objects.order_by("number"))


def loan_list(*, user) -> QuerySet[Loan]:
    """Loans the caller may see, with the borrower, group and schedule loaded (constant query count)."""
    return (
        Loan.objects.filter(own_rows_q(user, owner_field="borrower_id"))
        .select_related("group", "borrower")
        .prefetch_related(_installments_prefetch())
    )


def loan_detail_list(*, user) -> QuerySet[Loan]:
    """As loan_list, plus the guarantors and the approval shown on the detail page."""
    return (
        loan_list(user=user)
        .select_related("approval")
        .prefetch_related(
            Prefetch("guarantors", queryset=LoanGuarantor.objects.select_related("guarantor").order_by("id"))
        )
    )


def loan_repayment_list(*, user) -> QuerySet[LoanRepayment]:
    return LoanRepayment.objects.filter(own_rows_q(user, owner_field="member_id")).select_related(
        "group", "member", "loan"
    )


def loan_guarantor_list(*, user) -> QuerySet[LoanGuarantor]:
    groups = active_group_ids(user)
    return LoanGuarantor.objects.filter(
        Q(group_id__in=official_group_ids(user))
        | Q(group_id__in=groups, guarantor_id=user.pk)
        | Q(group_id__in=groups, loan__borrower_id=user.pk)
    ).select_related("guarantor", "loan__borrower", "group")


def expense_list(*, user) -> QuerySet[Expense]:
    return Expense.objects.filter(group_id__in=active_group_ids(user)).select_related(
        "group", "requested_by", "disbursed_by", "approval"
    )


def disbursement_approval_list(*, user) -> QuerySet[DisbursementApproval]:
    return (
        DisbursementApproval.objects.filter(group_id__in=active_group_ids(user))
        .select_related("group", "requested_by")
        .prefetch_related(
            Prefetch("signatures", queryset=ApprovalSignature.objects.select_related("approver").order_by("id"))
        )
    )


def approval_signature_list(*, user) -> QuerySet[ApprovalSignature]:
    return ApprovalSignature.objects.filter(group_id__in=active_group_ids(user)).select_related("approver", "approval")


def guarantor_free_savings(*, group_id: int, guarantor_id: int, exclude_guarantee_id: int | None = None) -> Decimal:
    """The guarantor's savings less what they already pledge behind other pending or running loans."""
    savings = account_balance(group_id=group_id, kind=AccountKind.MEMBER_SAVINGS, member_id=guarantor_id)
    pledges = LoanGuarantor.objects.filter(
        group_id=group_id,
        guarantor_id=guarantor_id,
        status__in=[GuarantorStatus.PENDING, GuarantorStatus.ACCEPTED],
        loan__status__in=PLEDGE_HOLDING_STATUSES,
    )
    if exclude_guarantee_id is not None:
        pledges = pledges.exclude(pk=exclude_guarantee_id)
    return savings - cents(pledges.aggregate(total=Sum("amount"))["total"])


@dataclass(frozen=True)
class SettlementQuote:
    """
    Early repayment: everything already due (fees, interest, principal) plus all the principal and fees
    of later instalments. Interest of instalments not yet due is waived.
    """

    loan_id: int
    as_of: date
    amount: Decimal
    due_now: Decimal
    principal_remaining: Decimal
    fees_remaining: Decimal
    interest_waived: Decimal


def loan_settlement_quote(
    *, loan: Loan, as_of: date, installments: list[LoanInstallment] | None = None
) -> SettlementQuote:
    lines = installments if installments is not None else list(loan.installments.order_by("number"))
    due_now = principal = fees = waived = ZERO
    for line in lines:
        if line.due_date <= as_of:
            due_now += line.outstanding
        else:
            principal += line.principal_due - line.principal_paid
            fees += line.fee_due - line.fee_paid
            waived += line.interest_due - line.interest_waived - line.interest_paid
    return SettlementQuote(
        loan_id=loan.pk,
        as_of=as_of,
        amount=due_now + principal + fees,
        due_now=due_now,
        principal_remaining=principal,
        fees_remaining=fees,
        interest_waived=waived,
    )
