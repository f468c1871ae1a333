"""
Serializers for the groups API: output serializers (<Entity>Serializer) and input serializers
(<Entity><Verb>InputSerializer) that only check the shape; the services apply the rules.

Field names follow the first web client (docs: shared/reference/original-api.md §1.2): `minimum_contribution`
(alias of `contribution_amount`), `user_details` on memberships, `total_balance`, `member_count`...
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chamahub.api.fields import MoneyField
from chamahub.money import MONEY_DECIMAL_PLACES, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS, ZERO
from groups.choices import (
    ContributionFrequency,
    GroupType,
    InterestMethod,
    InvitationStatus,
    MembershipStatus,
    OfficialPosition,
    Role,
)
from groups.models import ChamaGroup, GroupGoal, GroupInvitation, GroupMessage, GroupOfficial, Membership
from groups.selectors import memberships_by_group


class FigureField(serializers.DecimalField):
    """A read-only KES figure attached to the instance by a selector (provider figures); 0.00 when absent."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        value = getattr(instance, self.source, None)
        return ZERO if value is None else value


class UserBriefSerializer(serializers.Serializer):
    """The member's identity as the web client shows it (`user_details`)."""

    id = serializers.IntegerField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    phone_number = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True, allow_null=True)


# ---------------------------------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------------------------------


class ChamaGroupSerializer(serializers.ModelSerializer):
    minimum_contribution = serializers.DecimalField(
        max_digits=14, decimal_places=MONEY_DECIMAL_PLACES, read_only=True, help_text="Alias of contribution_amount."
    )
    member_count = serializers.SerializerMethodField(help_text="Number of ACTIVE members.")
    my_role = serializers.SerializerMethodField(help_text="The caller's role in this group.")
    total_balance = FigureField(help_text="Cash held by the group, from the ledger.")

    class Meta:
        model = ChamaGroup
        fields = [
            "id",
            "name",
            "code",
            "description",
            "objectives",
            "group_type",
            "currency",
            "contribution_amount",
            "minimum_contribution",
            "contribution_frequency",
            "cycle_start_date",
            "late_fine_amount",
            "late_fine_grace_days",
            "loan_interest_rate",
            "loan_interest_method",
            "loan_processing_fee",
            "max_loan_multiple",
            "required_approvals",
            "is_active",
            "created_by",
            "created_at",
            "updated_at",
            "member_count",
            "my_role",
            "total_balance",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_member_count(self, obj: ChamaGroup) -> int:
        count = getattr(obj, "member_count", None)
        if count is None:
            count = obj.memberships.filter(status=MembershipStatus.ACTIVE).count()
        return count

    # Typed as a nullable string (not an enum) so the Role choice set keeps one component name (RoleEnum).
    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="CHAIRPERSON, TREASURER, SECRETARY or MEMBER; null if none.")
    )
    def get_my_role(self, obj: ChamaGroup) -> str | None:
        request = self.context.get("request")
        membership = memberships_by_group(getattr(request, "user", None)).get(obj.id)
        return membership.role if membership else None


class _GroupSettingsInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    objectives = serializers.CharField(required=False, allow_blank=True)
    group_type = serializers.ChoiceField(choices=GroupType.choices, required=False)
    contribution_amount = MoneyField(allow_zero=True, required=False)
    minimum_contribution = MoneyField(
        allow_zero=True, required=False, write_only=True, help_text="Legacy name of contribution_amount."
    )
    contribution_frequency = serializers.ChoiceField(choices=ContributionFrequency.choices, required=False)
    cycle_start_date = serializers.DateField(required=False)
    late_fine_amount = MoneyField(allow_zero=True, required=False)
    late_fine_grace_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    loan_interest_rate = serializers.DecimalField(
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
        help_text="Annual percent.",
    )
    loan_interest_method = serializers.ChoiceField(choices=InterestMethod.choices, required=False)
    loan_processing_fee = MoneyField(allow_zero=True, required=False)
    max_loan_multiple = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("100"), required=False
    )
    required_approvals = serializers.IntegerField(min_value=1, max_value=3, required=False)

    def validate(self, attrs):
        legacy = attrs.pop("minimum_contribution", None)
        if legacy is not None:
            current = attrs.get("contribution_amount")
            if current is not None and current != legacy:
                raise serializers.ValidationError(
                    {"minimum_contribution": ["Differs from contribution_amount; send one of them."]}
                )
            attrs["contribution_amount"] = legacy
        return attrs


class ChamaGroupCreateInputSerializer(_GroupSettingsInputSerializer):
    """Create a group. Accepts the first web client's payload (name, description, group_type, objectives,
    contribution_frequency, minimum_contribution) and every rule."""


class ChamaGroupUpdateInputSerializer(_GroupSettingsInputSerializer):
    """Change a group's settings and rules (officials only)."""


class GroupGoalSerializer(serializers.ModelSerializer):
    current_amount = FigureField(help_text="Net savings contributed between start_date and target_date.")
    progress_percent = serializers.DecimalField(max_digits=6, decimal_places=2, read_only=True, default=ZERO)

    class Meta:
        model = GroupGoal
        fields = [
            "id",
            "group",
            "title",
            "description",
            "target_amount",
            "current_amount",
            "progress_percent",
            "start_date",
            "target_date",
            "status",
            "created_by",
            "created_at",
            "updated_at",
            "achieved_at",
        ]
        read_only_fields = fields


class GroupDashboardSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    group_type = serializers.ChoiceField(choices=GroupType.choices, read_only=True)
    currency = serializers.CharField(read_only=True)
    member_count = serializers.IntegerField(read_only=True)
    total_balance = FigureField()
    total_savings = FigureField()
    total_contributions = FigureField()
    total_loans_outstanding = FigureField()
    total_fines_outstanding = FigureField()
    total_investments = FigureField()
    active_goals = GroupGoalSerializer(many=True, read_only=True)


# ---------------------------------------------------------------------------------------------------------------
# Memberships
# ---------------------------------------------------------------------------------------------------------------


class MembershipSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    user_details = UserBriefSerializer(source="user", read_only=True)
    account_reference = serializers.CharField(read_only=True, help_text="Paybill account: group code + number.")
    total_contributions = FigureField(help_text="The member's contributions to this group, from the ledger.")

    class Meta:
        model = Membership
        fields = [
            "id",
            "group",
            "group_name",
            "user",
            "user_details",
            "role",
            "status",
            "member_number",
            "account_reference",
            "joined_at",
            "approved_at",
            "exited_at",
            "invited_by",
            "total_contributions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MembershipCreateInputSerializer(serializers.Serializer):
    """An official invites an existing user; the membership stays INVITED until the user accepts."""

    group = serializers.IntegerField()
    user = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class MembershipRoleChangeInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


# ---------------------------------------------------------------------------------------------------------------
# Invitations
# ---------------------------------------------------------------------------------------------------------------


class GroupInvitationSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    is_expired = serializers.SerializerMethodField()

    class Meta:
        model = GroupInvitation
        fields = [
            "id",
            "group",
            "group_name",
            "phone_number",
            "role",
            "status",
            "invited_by",
            "expires_at",
            "is_expired",
            "responded_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_is_expired(self, obj: GroupInvitation) -> bool:
        if obj.status == InvitationStatus.EXPIRED:
            return True
        return obj.status == InvitationStatus.PENDING and obj.expires_at <= timezone.now()


class GroupInvitationCreateInputSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    phone_number = serializers.CharField(max_length=32, help_text="Kenyan or E.164, e.g. 0712345678.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


# ---------------------------------------------------------------------------------------------------------------
# Officials
# ---------------------------------------------------------------------------------------------------------------


class GroupOfficialSerializer(serializers.ModelSerializer):
    user = serializers.IntegerField(source="membership.user_id", read_only=True)
    user_details = UserBriefSerializer(source="membership.user", read_only=True)
    elected_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = GroupOfficial
        fields = [
            "id",
            "group",
            "membership",
            "user",
            "user_details",
            "position",
            "term_start",
            "term_end",
            "is_current",
            "appointed_by",
            "elected_at",
            "created_at",
        ]
        read_only_fields = fields


class GroupOfficialCreateInputSerializer(serializers.Serializer):
    membership = serializers.IntegerField()
    position = serializers.ChoiceField(choices=OfficialPosition.choices)


# ---------------------------------------------------------------------------------------------------------------
# Goals
# ---------------------------------------------------------------------------------------------------------------


class GroupGoalCreateInputSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    target_amount = MoneyField()
    start_date = serializers.DateField(required=False, help_text="Defaults to today.")
    target_date = serializers.DateField()

    def validate(self, attrs):
        start = attrs.get("start_date")
        if start and attrs["target_date"] <= start:
            raise serializers.ValidationError({"target_date": ["The target date must be after the start date."]})
        return attrs


class GroupGoalUpdateInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    target_amount = MoneyField()
    start_date = serializers.DateField(required=False)
    target_date = serializers.DateField()


# ---------------------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------------------


class GroupMessageSerializer(serializers.ModelSerializer):
    user_details = UserBriefSerializer(source="user", read_only=True)

    class Meta:
        model = GroupMessage
        fields = [
            "id",
            "group",
            "user",
            "user_details",
            "content",
            "is_edited",
            "edited_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class GroupMessageCreateInputSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    content = serializers.CharField(max_length=5000)


class GroupMessageEditInputSerializer(serializers.Serializer):
    content = serializers.CharField(max_length=5000)
