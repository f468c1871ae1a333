"""Chama groups, memberships, invitations, officials' terms, goals and messages."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from chamahub.models import TimeStampedModel
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS
from groups.choices import (
    OFFICIAL_ROLES,
    ContributionFrequency,
    GoalStatus,
    GroupType,
    InterestMethod,
    InvitationStatus,
    MembershipStatus,
    OfficialPosition,
    Role,
)


class ChamaGroup(TimeStampedModel):
    """A chama: its contribution schedule and its rules (fines, loans, approvals)."""

    name = models.CharField(max_length=200)
    code = models.CharField(max_length=12, unique=True, help_text="Unique short code, e.g. for paybill references.")
    description = models.TextField(blank=True)
    objectives = models.TextField(blank=True)
    group_type = models.CharField(max_length=20, choices=GroupType.choices, default=GroupType.SAVINGS)
    currency = models.CharField(max_length=3, default="KES", editable=False)
    contribution_amount = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, default=Decimal("0.00")
    )
    contribution_frequency = models.CharField(
        max_length=20, choices=ContributionFrequency.choices, default=ContributionFrequency.MONTHLY
    )
    cycle_start_date = models.DateField(help_text="First day of the current contribution cycle.")
    # Rules
    late_fine_amount = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, default=Decimal("0.00")
    )
    late_fine_grace_days = models.PositiveIntegerField(default=3)
    loan_interest_rate = models.DecimalField(
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        default=Decimal("10.0000"),
        help_text="Default annual interest rate, percent.",
    )
    loan_interest_method = models.CharField(max_length=10, choices=InterestMethod.choices, default=InterestMethod.FLAT)
    loan_processing_fee = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, default=Decimal("0.00")
    )
    max_loan_multiple = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("3.00"), help_text="Maximum loan as a multiple of savings."
    )
    required_approvals = models.PositiveSmallIntegerField(
        default=2, help_text="Number of officials who must approve a loan, expense or disbursement."
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(contribution_amount__gte=0), name="group_contribution_non_negative"),
            models.CheckConstraint(condition=Q(late_fine_amount__gte=0), name="group_late_fine_non_negative"),
            models.CheckConstraint(condition=Q(required_approvals__gte=1), name="group_required_approvals_min_1"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def minimum_contribution(self) -> Decimal:
        """Name used by the first web client."""
        return self.contribution_amount


class Membership(TimeStampedModel):
    """A user's place in a group: role, status and member number."""

    group = models.ForeignKey(ChamaGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=20, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE)
    member_number = models.PositiveIntegerField()
    joined_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    exited_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["group_id", "member_number"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="membership_unique_user_per_group"),
            models.UniqueConstraint(fields=["group", "member_number"], name="membership_unique_number_per_group"),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="membership_user_status_idx"),
            models.Index(fields=["group", "status"], name="membership_group_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group_id} ({self.role})"

    @property
    def is_official(self) -> bool:
        return self.role in OFFICIAL_ROLES and self.status == MembershipStatus.ACTIVE

    @property
    def account_reference(self) -> str:
        """What a member types as the paybill account number: group code + member number."""
        return f"{self.group.code}{self.member_number:03d}"


class GroupInvitation(TimeStampedModel):
    """An invitation to join a group, addressed to a phone number (the person may not have an account yet)."""

    group = models.ForeignKey(ChamaGroup, on_delete=models.CASCADE, related_name="invitations")
    phone_number = models.CharField(max_length=16)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "phone_number"],
                condition=Q(status="PENDING"),
                name="invitation_one_pending_per_phone",
            )
        ]
        indexes = [models.Index(fields=["phone_number", "status"], name="invitation_phone_status_idx")]

    def __str__(self) -> str:
        return f"invite {self.phone_number} to {self.group_id}"


class GroupOfficial(TimeStampedModel):
    """A term of office. The membership's role is the authority; this keeps the history of who held what."""

    group = models.ForeignKey(ChamaGroup, on_delete=models.CASCADE, related_name="officials")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="official_terms")
    position = models.CharField(max_length=20, choices=OfficialPosition.choices)
    term_start = models.DateField()
    term_end = models.DateField(null=True, blank=True)
    is_current = models.BooleanField(default=True)
    appointed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-term_start", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "position"], condition=Q(is_current=True), name="official_one_current_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.position} of {self.group_id}"


class GroupGoal(TimeStampedModel):
    """A savings target. Progress is computed from the ledger (see finance's provider), never stored."""

    group = models.ForeignKey(ChamaGroup, on_delete=models.CASCADE, related_name="goals")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    target_amount = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    start_date = models.DateField()
    target_date = models.DateField()
    status = models.CharField(max_length=20, choices=GoalStatus.choices, default=GoalStatus.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    achieved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(target_amount__gt=0), name="goal_target_positive")]

    def __str__(self) -> str:
        return self.title


class GroupMessage(TimeStampedModel):
    """A message on the group's noticeboard/chat."""

    group = models.ForeignKey(ChamaGroup, on_delete=models.CASCADE, related_name="messages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content = models.TextField()
    is_edited = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["group", "created_at"], name="message_group_created_idx")]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.group_id}"
