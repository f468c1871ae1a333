"""
API shapes of B2C bulk payouts: the output serializer (a batch with its approvals and items) and the
<Entity><Verb>InputSerializers for writes. Input serializers check shapes only; the business rules (members,
B2C limits, loans, savings) are the service's, which names an item's fields ``items[i].<field>`` like DRF does.
"""

from __future__ import annotations

from rest_framework import serializers

from chamahub.api.fields import IdField
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from mpesa_integration.choices import PAYOUT_PURPOSES
from mpesa_integration.models import BulkPaymentApproval, MPesaBulkPayment, MPesaBulkPaymentItem
from mpesa_integration.services.bulk import MAX_ITEMS


def _name(user) -> str:
    return (user.get_full_name() or user.phone_number) if user is not None else ""


class BulkPaymentApprovalSerializer(serializers.ModelSerializer):
    approver_name = serializers.SerializerMethodField()

    class Meta:
        model = BulkPaymentApproval
        fields = ["approver", "approver_name", "approved", "comments", "created_at"]
        read_only_fields = fields

    def get_approver_name(self, obj: BulkPaymentApproval) -> str:
        return _name(obj.approver)


class BulkPaymentItemSerializer(serializers.ModelSerializer):
    member_name = serializers.SerializerMethodField()

    class Meta:
        model = MPesaBulkPaymentItem
        fields = [
            "id",
            "member",
            "member_name",
            "phone",
            "amount",
            "loan",
            "status",
            "attempts",
            "result_code",
            "result_desc",
            "receipt_number",
        ]
        read_only_fields = fields

    def get_member_name(self, obj: MPesaBulkPaymentItem) -> str:
        return _name(obj.member)


class BulkPaymentSerializer(serializers.ModelSerializer):
    """A batch, its officials' decisions and its payouts (read through selectors.bulk_payment_list: prefetched)."""

    group_name = serializers.CharField(source="group.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    approvals = BulkPaymentApprovalSerializer(many=True, read_only=True)
    items = BulkPaymentItemSerializer(many=True, read_only=True)

    class Meta:
        model = MPesaBulkPayment
        fields = [
            "id",
            "uuid",
            "batch_id",
            "group",
            "group_name",
            "purpose",
            "description",
            "status",
            "status_display",
            "total_amount",
            "total_recipients",
            "successful_count",
            "failed_count",
            "paid_amount",
            "required_approvals",
            "approvals",
            "items",
            "initiated_by",
            "created_at",
            "approved_at",
            "executed_at",
            "completed_at",
        ]
        read_only_fields = fields


class BulkPaymentItemInputSerializer(serializers.Serializer):
    """One payout. The amount is checked by the service (whole shillings, KES 10..250,000), not rounded here."""

    member = IdField()
    amount = serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    phone = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=20)
    loan = IdField(required=False, allow_null=True)


class BulkPaymentCreateInputSerializer(serializers.Serializer):
    group = IdField()
    purpose = serializers.ChoiceField(choices=[(p.value, p.label) for p in PAYOUT_PURPOSES])
    description = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    items = BulkPaymentItemInputSerializer(many=True, allow_empty=False, max_length=MAX_ITEMS)


class BulkPaymentDecisionInputSerializer(serializers.Serializer):
    comments = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class BulkPaymentItemRetryInputSerializer(serializers.Serializer):
    item = IdField(help_text="Id of a failed payout of this batch.")
