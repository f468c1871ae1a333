"""Contributions (a member's savings paid in) and fines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from chamahub.models import TimeStampedModel
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from finance.choices import ContributionStatus, FineKind, FineStatus, PaymentMethod

_money = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_DECIMAL_PLACES}


class Contribution(TimeStampedModel):
    """
    A contribution toward a period of the group's schedule. Confirming it posts
    Dr cash / Cr the member's savings; reversing it posts the reversing entry.
    """

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**_money)
    period = models.DateField(help_text="First day of the schedule period this pays for.")
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices, default=PaymentMethod.CASH)
    status = models.CharField(max_length=10, choices=ContributionStatus.choices, default=ContributionStatus.PENDING)
    reference_number = models.CharField(
        max_length=100, null=True, blank=True, help_text="External reference (M-Pesa receipt, bank ref); unique."
    )
    paid_at = models.DateTimeField(help_text="When the member paid (drives the late-fine rule).")
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    reconciled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reconciled_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    journal_entry = models.OneToOneField(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="contribution_amount_positive"),
            models.UniqueConstraint(
                fields=["reference_number"],
                condition=Q(reference_number__isnull=False),
                name="contribution_unique_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "member", "period"], name="contrib_group_member_period"),
            models.Index(fields=["group", "status", "paid_at"], name="contrib_group_status_paid"),
            models.Index(fields=["group", "-paid_at", "-id"], name="contrib_group_paid_desc"),
        ]

    def __str__(self) -> str:
        return f"Contribution {self.pk} {self.amount}"

    @property
    def group_name(self) -> str:
        """The group's name: the `group_label` annotation of list queries, else the related row."""
        return self.__dict__.get("group_label") or self.group.name

    @property
    def member_name(self) -> str:
        """The member's full name (as User.full_name): from the annotations of list queries, else the related row."""
        row = self.__dict__
        if "member_phone" not in row:
            return self.member.full_name
        name = f"{row['member_first_name']} {row['member_last_name']}".strip()
        return name or row["member_email"] or row["member_phone"]


class Fine(TimeStampedModel):
    """A fine charged to a member (posted Dr fines receivable / Cr fines income)."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=FineKind.choices)
    amount = models.DecimalField(**_money)
    amount_paid = models.DecimalField(default=0, **_money)
    reason = models.CharField(max_length=255)
    period = models.DateField(null=True, blank=True, help_text="For late-contribution fines: the period.")
    status = models.CharField(max_length=10, choices=FineStatus.choices, default=FineStatus.UNPAID)
    charged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    journal_entry = models.OneToOneField(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="fine_amount_positive"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="fine_paid_non_negative"),
            models.UniqueConstraint(
                fields=["group", "member", "period"],
                condition=Q(kind="LATE_CONTRIBUTION"),
                name="fine_one_late_fine_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"Fine {self.pk} {self.amount}"
