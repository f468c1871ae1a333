"""Serializers for share-outs: the posted record with its allocations, and the preview."""

from __future__ import annotations

from rest_framework import serializers

from chamahub.api.fields import MoneyField
from finance.models import ShareOut, ShareOutAllocation


class ShareOutAllocationSerializer(serializers.ModelSerializer):
    member_name = serializers.CharField(source="member.full_name", read_only=True)

    class Meta:
        model = ShareOutAllocation
        fields = ["id", "member", "member_name", "savings_days", "share_percent", "amount"]
        read_only_fields = fields


class ShareOutSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    allocations = ShareOutAllocationSerializer(many=True, read_only=True)

    class Meta:
        model = ShareOut
        fields = [
            "id",
            "group",
            "group_name",
            "cycle_start",
            "cycle_end",
            "total_distributed",
            "status",
            "status_display",
            "posted_by",
            "journal_entry",
            "allocations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ShareOutCreateInputSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    cycle_start = serializers.DateField()
    cycle_end = serializers.DateField()


class ShareOutPreviewAllocationSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="member_id")
    member_name = serializers.CharField()
    savings_days = serializers.DecimalField(max_digits=24, decimal_places=2)
    share_percent = serializers.DecimalField(max_digits=9, decimal_places=6)
    amount = MoneyField(allow_zero=True)


class ShareOutPoolSerializer(serializers.Serializer):
    interest_income = MoneyField(allow_zero=True, allow_negative=True)
    fees_income = MoneyField(allow_zero=True, allow_negative=True)
    fines_income = MoneyField(allow_zero=True, allow_negative=True)
    total = MoneyField(allow_zero=True, allow_negative=True)


class ShareOutPreviewSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    cycle_start = serializers.DateField()
    cycle_end = serializers.DateField()
    days = serializers.IntegerField()
    pool = ShareOutPoolSerializer()
    total_savings_days = serializers.DecimalField(max_digits=28, decimal_places=2)
    allocations = ShareOutPreviewAllocationSerializer(many=True)
