"""Loans: terms, guarantors, the amortisation schedule and repayments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import cached_property

from chamahub.models import TimeStampedModel
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS
from finance.choices import GuarantorStatus, LoanStatus, PaymentMethod, RepaymentStatus
from groups.choices import InterestMethod

_money = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_DECIMAL_PLACES}


class Loan(TimeStampedModel):
    """
    A member's loan. Principal sits in the borrower's loans-receivable account from disbursement;
    interest and fees are income when paid (cash basis). The schedule (LoanInstallment) says what is due.
    """

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    borrower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    principal_amount = models.DecimalField(**_money)
    interest_rate = models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, help_text="Annual rate, percent."
    )
    interest_method = models.CharField(max_length=10, choices=InterestMethod.choices)
    duration_months = models.PositiveSmallIntegerField()
    processing_fee = models.DecimalField(default=Decimal("0.00"), **_money)
    purpose = models.TextField()
    status = models.CharField(max_length=12, choices=LoanStatus.choices, default=LoanStatus.PENDING)
    total_interest = models.DecimalField(default=Decimal("0.00"), **_money)
    total_amount = models.DecimalField(default=Decimal("0.00"), **_money, help_text="Principal + interest + fee.")
    monthly_payment = models.DecimalField(default=Decimal("0.00"), **_money)
    applied_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    disbursed_at = models.DateTimeField(null=True, blank=True)
    disbursement_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    defaulted_at = models.DateTimeField(null=True, blank=True)
    written_off_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-applied_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(principal_amount__gt=0), name="loan_principal_positive"),
            models.CheckConstraint(condition=Q(interest_rate__gte=0), name="loan_rate_non_negative"),
            models.CheckConstraint(condition=Q(duration_months__gte=1), name="loan_duration_min_1"),
            models.CheckConstraint(condition=Q(processing_fee__gte=0), name="loan_fee_non_negative"),
        ]
        indexes = [
            models.Index(fields=["group", "status"], name="loan_group_status_idx"),
            models.Index(fields=["group", "borrower"], name="loan_group_borrower_idx"),
            models.Index(fields=["group", "-applied_at", "-id"], name="loan_group_applied_desc"),
        ]

    def __str__(self) -> str:
        return f"Loan {self.pk} {self.principal_amount}"

    @cached_property
    def position(self) -> LoanPosition:
        """What is owed today, computed in Python from `installments` (prefetch them for lists)."""
        return loan_position(self, list(self.installments.all()), as_of=timezone.localdate())


@dataclass(frozen=True)
class LoanPosition:
    """
    A loan's figures on a date.

    - outstanding_balance: principal + interest + fees still unpaid on the schedule. Before
      disbursement (PENDING/APPROVED) it is what the loan would cost (total_amount); REJECTED and
      WRITTEN_OFF loans owe nothing to the books (0).
    - principal_outstanding: schedule principal unpaid (principal_amount before disbursement).
    - amount_due_now: unpaid on instalments due on or before the date.
    - arrears_amount: unpaid on instalments due before the date.
    - days_past_due: days since the oldest instalment still unpaid fell due (0 when none).
    """

    outstanding_balance: Decimal
    principal_outstanding: Decimal
    amount_due_now: Decimal
    arrears_amount: Decimal
    days_past_due: int


_ZERO = Decimal("0.00")
_SETTLED_STATUSES = frozenset({LoanStatus.REJECTED, LoanStatus.WRITTEN_OFF})
_PREVIEW_STATUSES = frozenset({LoanStatus.PENDING, LoanStatus.APPROVED})


def loan_position(loan: Loan, installments: list[LoanInstallment], *, as_of: date) -> LoanPosition:
    if loan.status in _SETTLED_STATUSES:
        return LoanPosition(_ZERO, _ZERO, _ZERO, _ZERO, 0)
    if loan.status in _PREVIEW_STATUSES or not installments:
        return LoanPosition(loan.total_amount, loan.principal_amount, _ZERO, _ZERO, 0)
    outstanding = principal = due_now = arrears = _ZERO
    oldest_unpaid: date | None = None
    for line in installments:
        owed = line.outstanding
        outstanding += owed
        principal += line.principal_due - line.principal_paid
        if owed > 0 and line.due_date <= as_of:
            due_now += owed
            if line.due_date < as_of:
                arrears += owed
                if oldest_unpaid is None or line.due_date < oldest_unpaid:
                    oldest_unpaid = line.due_date
    days = (as_of - oldest_unpaid).days if oldest_unpaid else 0
    return LoanPosition(outstanding, principal, due_now, arrears, days)


class LoanGuarantor(TimeStampedModel):
    """A member who pledges part of their savings behind a loan; they must consent."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="guarantors")
    guarantor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**_money)
    status = models.CharField(max_length=10, choices=GuarantorStatus.choices, default=GuarantorStatus.PENDING)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "guarantor"], name="guarantor_once_per_loan"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="guarantee_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.guarantor_id} guarantees {self.amount} of loan {self.loan_id}"


class LoanInstallment(models.Model):
    """One line of the amortisation schedule, with what has been paid against it."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="installments")
    number = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    principal_due = models.DecimalField(**_money)
    interest_due = models.DecimalField(**_money)
    fee_due = models.DecimalField(default=Decimal("0.00"), **_money)
    principal_paid = models.DecimalField(default=Decimal("0.00"), **_money)
    interest_paid = models.DecimalField(default=Decimal("0.00"), **_money)
    fee_paid = models.DecimalField(default=Decimal("0.00"), **_money)
    interest_waived = models.DecimalField(default=Decimal("0.00"), **_money)
    overdue_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When loan.overdue was published for this instalment (once)."
    )

    class Meta:
        ordering = ["loan_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="installment_unique_number"),
            models.CheckConstraint(
                condition=Q(principal_due__gte=0, interest_due__gte=0, fee_due__gte=0),
                name="installment_dues_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(principal_paid__lte=F("principal_due"))
                & Q(fee_paid__lte=F("fee_due"))
                & Q(interest_paid__lte=F("interest_due") - F("interest_waived")),
                name="installment_not_overpaid",
            ),
        ]
        indexes = [models.Index(fields=["group", "due_date"], name="installment_group_due_idx")]

    def __str__(self) -> str:
        return f"Loan {self.loan_id} #{self.number}"

    @property
    def total_due(self) -> Decimal:
        return self.principal_due + self.interest_due + self.fee_due - self.interest_waived

    @property
    def total_paid(self) -> Decimal:
        return self.principal_paid + self.interest_paid + self.fee_paid

    @property
    def outstanding(self) -> Decimal:
        return self.total_due - self.total_paid


class LoanRepayment(TimeStampedModel):
    """A repayment, allocated fees -> interest -> principal over the schedule, oldest instalment first."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="repayments")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**_money)
    fee_portion = models.DecimalField(default=Decimal("0.00"), **_money)
    interest_portion = models.DecimalField(default=Decimal("0.00"), **_money)
    principal_portion = models.DecimalField(default=Decimal("0.00"), **_money)
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices, default=PaymentMethod.CASH)
    reference_number = models.CharField(max_length=100, null=True, blank=True)
    status = models.CharField(max_length=10, choices=RepaymentStatus.choices, default=RepaymentStatus.COMPLETED)
    paid_at = models.DateTimeField()
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    journal_entry = models.OneToOneField(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="repayment_amount_positive"),
            models.UniqueConstraint(
                fields=["reference_number"],
                condition=Q(reference_number__isnull=False),
                name="repayment_unique_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"Repayment {self.pk} {self.amount}"
