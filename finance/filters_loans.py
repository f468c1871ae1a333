"""Filter sets for loans, repayments, guarantees, expenses, disbursement approvals and signatures."""

from __future__ import annotations

import django_filters

from chamahub.api.filters import IdFilter
from finance.choices import (
    LEGACY_LOAN_STATUS,
    ApprovalStatus,
    ApprovalType,
    ExpenseCategory,
    ExpenseStatus,
    GuarantorStatus,
    LoanStatus,
    PaymentMethod,
    RepaymentStatus,
)
from finance.models import ApprovalSignature, DisbursementApproval, Expense, Loan, LoanGuarantor, LoanRepayment
from groups.choices import InterestMethod


def _id(field: str, help_text: str) -> django_filters.NumberFilter:
    """Foreign keys filter by id (no lookup query, and no hint whether another group's id exists)."""
    return IdFilter(field_name=f"{field}_id", help_text=help_text)


_GROUP = "Group id."

_LOAN_STATUS_FILTER_CHOICES = [
    *LoanStatus.choices,
    *[(legacy, f"{legacy} (legacy name of {ours})") for legacy, ours in LEGACY_LOAN_STATUS.items()],
]


class LoanFilterSet(django_filters.FilterSet):
    group = _id("group", _GROUP)
    borrower = _id("borrower", "Borrower (user id).")
    status = django_filters.ChoiceFilter(
        choices=_LOAN_STATUS_FILTER_CHOICES,
        method="filter_status",
        help_text="Loan status. The first web client's COMPLETED means REPAID and DISBURSED means ACTIVE.",
    )
    interest_method = django_filters.ChoiceFilter(choices=InterestMethod.choices)

    class Meta:
        model = Loan
        fields = ["group", "borrower", "status", "interest_method"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(status=LEGACY_LOAN_STATUS.get(value, value))


class LoanRepaymentFilterSet(django_filters.FilterSet):
    loan = _id("loan", "Loan id.")
    group = _id("group", _GROUP)
    member = _id("member", "Borrower (user id).")
    status = django_filters.ChoiceFilter(choices=RepaymentStatus.choices)
    payment_method = django_filters.ChoiceFilter(choices=PaymentMethod.choices)

    class Meta:
        model = LoanRepayment
        fields = ["loan", "group", "member", "status", "payment_method"]


class LoanGuarantorFilterSet(django_filters.FilterSet):
    loan = _id("loan", "Loan id.")
    group = _id("group", _GROUP)
    guarantor = _id("guarantor", "Guarantor (user id).")
    status = django_filters.ChoiceFilter(choices=GuarantorStatus.choices)

    class Meta:
        model = LoanGuarantor
        fields = ["loan", "group", "guarantor", "status"]


class ExpenseFilterSet(django_filters.FilterSet):
    group = _id("group", _GROUP)
    requested_by = _id("requested_by", "Requester (user id).")
    category = django_filters.ChoiceFilter(choices=ExpenseCategory.choices)
    status = django_filters.ChoiceFilter(choices=ExpenseStatus.choices)

    class Meta:
        model = Expense
        fields = ["group", "category", "status", "requested_by"]


class DisbursementApprovalFilterSet(django_filters.FilterSet):
    group = _id("group", _GROUP)
    loan = _id("loan", "Loan id.")
    expense = _id("expense", "Expense id.")
    approval_type = django_filters.ChoiceFilter(choices=ApprovalType.choices)
    status = django_filters.ChoiceFilter(choices=ApprovalStatus.choices)

    class Meta:
        model = DisbursementApproval
        fields = ["group", "approval_type", "status", "loan", "expense"]


class ApprovalSignatureFilterSet(django_filters.FilterSet):
    approval = _id("approval", "Approval id.")
    group = _id("group", _GROUP)
    approver = _id("approver", "Approver (user id).")

    class Meta:
        model = ApprovalSignature
        fields = ["approval", "group", "approver", "approved"]
