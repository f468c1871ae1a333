"""Transactions API shapes. The first web client's field names are kept (section 5 of original-api.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chamahub.api.fields import IdField, MoneyField
from mpesa_integration.choices import LEGACY_KIND, LEGACY_STATUS, PAY_IN_PURPOSES, Purpose, TransactionStatus
from mpesa_integration.models import MPesaTransaction


class MPesaTransactionSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    purpose_display = serializers.CharField(source="get_purpose_display", read_only=True)
    transaction_id = serializers.SerializerMethodField(help_text="Legacy name: the receipt, else the checkout id.")
    transaction_uuid = serializers.UUIDField(source="uuid", read_only=True)
    transaction_type = serializers.SerializerMethodField(help_text="Legacy name of kind: STK_PUSH, C2B or B2C.")
    legacy_status = serializers.SerializerMethodField(help_text="PENDING, SUCCESS, FAILED, CANCELLED or TIMEOUT.")
    amount = MoneyField(read_only=True)
    formatted_amount = serializers.SerializerMethodField()
    phone_number = serializers.CharField(source="phone", read_only=True)
    mpesa_receipt_number = serializers.CharField(source="receipt_number", read_only=True, allow_null=True)
    group_name = serializers.CharField(source="group.name", read_only=True, default=None)
    member_name = serializers.SerializerMethodField()
    is_expired = serializers.SerializerMethodField()

    class Meta:
        model = MPesaTransaction
        fields = [
            "id",
            "uuid",
            "transaction_uuid",
            "transaction_id",
            "kind",
            "kind_display",
            "transaction_type",
            "group",
            "group_name",
            "member",
            "member_name",
            "phone",
            "phone_number",
            "amount",
            "formatted_amount",
            "account_reference",
            "transaction_desc",
            "purpose",
            "purpose_display",
            "contribution",
            "loan",
            "fine",
            "status",
            "status_display",
            "legacy_status",
            "result_code",
            "result_desc",
            "merchant_request_id",
            "checkout_request_id",
            "originator_conversation_id",
            "conversation_id",
            "receipt_number",
            "mpesa_receipt_number",
            "transaction_date",
            "settlement",
            "settlement_note",
            "journal_entry",
            "is_expired",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_transaction_id(self, obj) -> str | None:
        return obj.receipt_number or obj.checkout_request_id or obj.originator_conversation_id

    def get_transaction_type(self, obj) -> str:
        return LEGACY_KIND.get(obj.kind, obj.kind.upper())

    def get_legacy_status(self, obj) -> str:
        return LEGACY_STATUS.get(obj.status, obj.status.upper())

    def get_formatted_amount(self, obj) -> str:
        return f"KES {obj.amount:,.2f}"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_member_name(self, obj) -> str | None:
        return str(obj.member) if obj.member_id else None

    def get_is_expired(self, obj) -> bool:
        return obj.status == TransactionStatus.TIMED_OUT


STK_AMOUNT = {"max_digits": 14, "decimal_places": 2, "min_value": 1, "max_value": 250_000}


class StkPushInputSerializer(serializers.Serializer):
    group = IdField()
    amount = serializers.DecimalField(**STK_AMOUNT, help_text="Whole shillings, 1 to 250,000.")
    purpose = serializers.ChoiceField(
        choices=[(p.value, p.label) for p in PAY_IN_PURPOSES], default=Purpose.CONTRIBUTION
    )
    target_id = IdField(required=False, allow_null=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)


class LegacyStkPushInputSerializer(serializers.Serializer):
    """The first web client's body. account_reference/transaction_desc are fitted to Daraja's 12/13 characters."""

    phone_number = serializers.CharField(max_length=20)
    amount = serializers.DecimalField(**STK_AMOUNT, help_text="Whole shillings, 1 to 250,000.")
    account_reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    transaction_desc = serializers.CharField(max_length=200, required=False, allow_blank=True)
    group_id = IdField()


class SuspenseAllocateInputSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=[Purpose.CONTRIBUTION, Purpose.LOAN_REPAYMENT, Purpose.FINE])
    target_id = IdField(required=False, allow_null=True)
    member = IdField(required=False, allow_null=True)
    group = IdField(required=False, allow_null=True, help_text="Staff only, unallocated.")


class LegacyStatusSerializer(serializers.Serializer):
    transaction_uuid = serializers.UUIDField()
    transaction_id = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    amount = MoneyField()
    phone_number = serializers.CharField()
    mpesa_receipt_number = serializers.CharField(allow_null=True)
    transaction_date = serializers.DateTimeField(allow_null=True)
    result_desc = serializers.CharField()
