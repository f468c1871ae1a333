"""Serializers for contributions, the contribution schedule and fines (output + <Entity><Verb>Input)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chamahub.api.fields import MoneyField
from chamahub.api.serializers import FastReadSerializer
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from finance.choices import ContributionStatus, FineStatus, PaymentMethod
from finance.models import Fine


class ContributionSerializer(FastReadSerializer):
    """A contribution as the API shows it (field names kept from the first web client)."""

    id = serializers.IntegerField(read_only=True)
    group = serializers.IntegerField(source="group_id", read_only=True)
    group_name = serializers.CharField(read_only=True)
    member = serializers.IntegerField(source="member_id", read_only=True)
    member_name = serializers.CharField(read_only=True)
    amount = serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, read_only=True)
    period = serializers.DateField(read_only=True)
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices, read_only=True)
    status = serializers.ChoiceField(choices=ContributionStatus.choices, read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    reference_number = serializers.CharField(read_only=True, allow_null=True)
    paid_at = serializers.DateTimeField(read_only=True)
    notes = serializers.CharField(read_only=True)
    recorded_by = serializers.IntegerField(source="recorded_by_id", read_only=True, allow_null=True)
    confirmed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    reconciled_by = serializers.IntegerField(source="reconciled_by_id", read_only=True, allow_null=True)
    reconciled_at = serializers.DateTimeField(read_only=True, allow_null=True)
    reversed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    journal_entry = serializers.IntegerField(source="journal_entry_id", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ContributionCreateInputSerializer(serializers.Serializer):
    """A client-supplied `status` is ignored: the service decides the status."""

    group = serializers.IntegerField()
    amount = MoneyField()
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)
    reference_number = serializers.CharField(max_length=100, required=False, allow_blank=True, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    period = serializers.DateField(required=False, allow_null=True, help_text="Defaults to the period of paid_at.")
    paid_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Defaults to now; not future.")
    member = serializers.IntegerField(
        required=False, allow_null=True, help_text="Officials may record for another member; defaults to you."
    )


class ContributionReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ContributionScheduleQuerySerializer(serializers.Serializer):
    group = serializers.IntegerField()
    member = serializers.IntegerField(required=False, help_text="Officials only; a plain member sees themselves.")


class SchedulePeriodSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    due_date = serializers.DateField()
    expected = MoneyField(allow_zero=True)
    paid = MoneyField(allow_zero=True)
    arrears = MoneyField(allow_zero=True)
    fine = MoneyField(allow_null=True, help_text="Late fine charged for this period, if any.")
    is_past_due = serializers.BooleanField()


class ScheduleTotalsSerializer(serializers.Serializer):
    expected = MoneyField(allow_zero=True)
    paid = MoneyField(allow_zero=True)
    arrears = MoneyField(allow_zero=True)
    fines_outstanding = MoneyField(allow_zero=True)


class MemberScheduleSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="member_id")
    member_name = serializers.CharField()
    periods = SchedulePeriodSerializer(many=True)
    totals = ScheduleTotalsSerializer()


class ContributionScheduleSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    contribution_frequency = serializers.CharField()
    as_of = serializers.DateField()
    members = MemberScheduleSerializer(many=True)


class FineSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    outstanding = serializers.SerializerMethodField()

    class Meta:
        model = Fine
        fields = [
            "id",
            "group",
            "group_name",
            "member",
            "member_name",
            "kind",
            "kind_display",
            "amount",
            "amount_paid",
            "outstanding",
            "reason",
            "period",
            "status",
            "status_display",
            "charged_by",
            "journal_entry",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneyField(allow_zero=True))
    def get_outstanding(self, obj: Fine) -> str:
        if obj.status != FineStatus.UNPAID:
            return "0.00"
        return str(obj.amount - obj.amount_paid)


class FineCreateInputSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    member = serializers.IntegerField()
    amount = MoneyField()
    reason = serializers.CharField(max_length=255)


class FinePayInputSerializer(serializers.Serializer):
    amount = MoneyField()
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices, default=PaymentMethod.CASH)


class FineWaiveInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class FineChargeLateInputSerializer(serializers.Serializer):
    group = serializers.IntegerField()


class FineChargeLateResultSerializer(serializers.Serializer):
    charged = serializers.IntegerField(help_text="Number of late fines charged now.")
