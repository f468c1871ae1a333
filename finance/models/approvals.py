"""Expenses and the multi-signature approvals that guard every outgoing payment (maker-checker)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from chamahub.models import TimeStampedModel
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from finance.choices import ApprovalStatus, ApprovalType, ExpenseCategory, ExpenseStatus

_money = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_DECIMAL_PLACES}


class Expense(TimeStampedModel):
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=20, choices=ExpenseCategory.choices)
    description = models.TextField()
    amount = models.DecimalField(**_money)
    status = models.CharField(max_length=10, choices=ExpenseStatus.choices, default=ExpenseStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    disbursed_at = models.DateTimeField(null=True, blank=True)
    disbursed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True)
    journal_entry = models.OneToOneField(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="expense_amount_positive")]

    def __str__(self) -> str:
        return f"Expense {self.pk} {self.amount}"


class DisbursementApproval(TimeStampedModel):
    """A request for officials to approve an outgoing payment; approved when enough sign."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    approval_type = models.CharField(max_length=12, choices=ApprovalType.choices)
    amount = models.DecimalField(**_money)
    description = models.TextField()
    loan = models.OneToOneField(
        "finance.Loan", on_delete=models.CASCADE, null=True, blank=True, related_name="approval"
    )
    expense = models.OneToOneField(
        "finance.Expense", on_delete=models.CASCADE, null=True, blank=True, related_name="approval"
    )
    required_approvals = models.PositiveSmallIntegerField()
    approvals_count = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="approval_amount_positive"),
            models.CheckConstraint(condition=Q(required_approvals__gte=1), name="approval_required_min_1"),
        ]

    def __str__(self) -> str:
        return f"Approval {self.pk} {self.approval_type}"


class ApprovalSignature(TimeStampedModel):
    """One official's decision on one approval. Unique: an official signs once."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    approval = models.ForeignKey(DisbursementApproval, on_delete=models.CASCADE, related_name="signatures")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved = models.BooleanField()
    comments = models.TextField(blank=True)
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["approval", "approver"], name="signature_once_per_official")]

    def __str__(self) -> str:
        return f"{self.approver_id} {'approved' if self.approved else 'rejected'} {self.approval_id}"
