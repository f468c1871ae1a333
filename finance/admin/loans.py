"""
Admin for loans, instalments, guarantors, repayments, expenses, approvals and signatures.

These rows change only through the services (which post to the ledger and publish events), so the
admin shows them read-only: no add, change or delete.
"""

from django.contrib import admin

from chamahub.admin_base import ReadOnlyModelAdmin, ReadOnlyTabularInline
from finance.models import (
    ApprovalSignature,
    DisbursementApproval,
    Expense,
    Loan,
    LoanGuarantor,
    LoanInstallment,
    LoanRepayment,
)


class LoanInstallmentInline(ReadOnlyTabularInline):
    model = LoanInstallment
    fields = [
        "number",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "interest_waived",
        "principal_paid",
        "interest_paid",
        "fee_paid",
        "overdue_notified_at",
    ]


class LoanGuarantorInline(ReadOnlyTabularInline):
    model = LoanGuarantor
    fields = ["guarantor", "amount", "status", "responded_at"]


@admin.register(Loan)
class LoanAdmin(ReadOnlyModelAdmin):
    list_display = [
        "id",
        "group",
        "borrower",
        "principal_amount",
        "interest_rate",
        "interest_method",
        "duration_months",
        "status",
        "applied_at",
        "disbursed_at",
        "due_date",
    ]
    list_filter = ["status", "interest_method", "group"]
    search_fields = ["purpose", "borrower__first_name", "borrower__last_name", "borrower__phone_number", "group__name"]
    list_select_related = ["group", "borrower"]
    date_hierarchy = "applied_at"
    inlines = [LoanInstallmentInline, LoanGuarantorInline]


@admin.register(LoanInstallment)
class LoanInstallmentAdmin(ReadOnlyModelAdmin):
    list_display = [
        "id",
        "loan",
        "number",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "overdue_notified_at",
    ]
    list_filter = ["due_date", "group"]
    search_fields = ["loan__id", "loan__borrower__phone_number"]
    list_select_related = ["loan"]


@admin.register(LoanGuarantor)
class LoanGuarantorAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "loan", "guarantor", "amount", "status", "responded_at"]
    list_filter = ["status", "group"]
    search_fields = ["guarantor__first_name", "guarantor__last_name", "guarantor__phone_number", "loan__id"]
    list_select_related = ["loan", "guarantor"]


@admin.register(LoanRepayment)
class LoanRepaymentAdmin(ReadOnlyModelAdmin):
    list_display = [
        "id",
        "loan",
        "member",
        "amount",
        "fee_portion",
        "interest_portion",
        "principal_portion",
        "payment_method",
        "reference_number",
        "status",
        "paid_at",
    ]
    list_filter = ["status", "payment_method", "group"]
    search_fields = ["reference_number", "member__first_name", "member__last_name", "member__phone_number"]
    list_select_related = ["loan", "member"]
    date_hierarchy = "paid_at"


@admin.register(Expense)
class ExpenseAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "group", "category", "amount", "status", "requested_by", "requested_at", "disbursed_at"]
    list_filter = ["status", "category", "group"]
    search_fields = ["description", "notes", "requested_by__first_name", "requested_by__last_name"]
    list_select_related = ["group", "requested_by"]
    date_hierarchy = "requested_at"


class ApprovalSignatureInline(ReadOnlyTabularInline):
    model = ApprovalSignature
    fields = ["approver", "approved", "comments", "signed_at"]


@admin.register(DisbursementApproval)
class DisbursementApprovalAdmin(ReadOnlyModelAdmin):
    list_display = [
        "id",
        "group",
        "approval_type",
        "amount",
        "status",
        "approvals_count",
        "required_approvals",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "approval_type", "group"]
    search_fields = ["description", "requested_by__first_name", "requested_by__last_name"]
    list_select_related = ["group", "requested_by"]
    inlines = [ApprovalSignatureInline]


@admin.register(ApprovalSignature)
class ApprovalSignatureAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "approval", "approver", "approved", "signed_at"]
    list_filter = ["approved", "group"]
    search_fields = ["comments", "approver__first_name", "approver__last_name", "approver__phone_number"]
    list_select_related = ["approval", "approver"]
