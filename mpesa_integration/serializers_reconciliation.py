"""
API shapes of M-Pesa statement reconciliation: the output serializers (a reconciliation's summary, one exception)
and the <Entity><Verb>InputSerializers. Input serializers check shapes only; every rule (officials, size limit, file
type, duplicates, what each resolution may do) belongs to mpesa_integration.services.reconciliation.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chamahub.api.fields import IdField, MoneyField
from mpesa_integration.models import PaymentReconciliation, ReconciliationException
from mpesa_integration.services.reconciliation import RESOLVE_ACTIONS


class PaymentReconciliationSerializer(serializers.ModelSerializer):
    """A reconciliation's summary (read it through reconciliation_list, which joins group and uploader)."""

    group_name = serializers.CharField(source="group.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    matched_amount = MoneyField(read_only=True, allow_zero=True)
    statement_total = MoneyField(read_only=True, allow_zero=True)
    uploaded_by_name = serializers.SerializerMethodField()

    class Meta:
        model = PaymentReconciliation
        fields = [
            "id",
            "uuid",
            "group",
            "group_name",
            "file_name",
            "status",
            "status_display",
            "period_start",
            "period_end",
            "rows_total",
            "rows_skipped",
            "matched_count",
            "matched_amount",
            "statement_total",
            "missing_in_chamahub_count",
            "missing_in_statement_count",
            "amount_mismatch_count",
            "open_exceptions",
            "duration_ms",
            "uploaded_by",
            "uploaded_by_name",
            "created_at",
        ]
        read_only_fields = fields

    def get_uploaded_by_name(self, obj: PaymentReconciliation) -> str:
        user = obj.uploaded_by
        return (user.get_full_name() or user.phone_number) if user is not None else ""


class ReconciliationExceptionSerializer(serializers.ModelSerializer):
    """One statement row or transaction that did not match, and how it was resolved."""

    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    resolution_display = serializers.CharField(source="get_resolution_display", read_only=True)
    statement_amount = MoneyField(read_only=True, allow_null=True)
    chamahub_amount = MoneyField(read_only=True, allow_null=True)
    transaction_receipt = serializers.SerializerMethodField(help_text="The linked transaction's M-Pesa receipt.")

    class Meta:
        model = ReconciliationException
        fields = [
            "id",
            "reconciliation",
            "group",
            "kind",
            "kind_display",
            "receipt_number",
            "phone",
            "statement_amount",
            "chamahub_amount",
            "direction",
            "completed_at",
            "statement_line",
            "details",
            "transaction",
            "transaction_receipt",
            "resolution",
            "resolution_display",
            "resolved_by",
            "resolved_at",
            "resolution_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_transaction_receipt(self, obj: ReconciliationException) -> str | None:
        return obj.transaction.receipt_number if obj.transaction_id else None


class PaymentReconciliationCreateInputSerializer(serializers.Serializer):
    """multipart/form-data: the group and the statement exported from the M-Pesa org portal (CSV or XLSX)."""

    group = IdField()
    # Empty files reach the service, which answers with the statement parser's own message.
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class ReconciliationExceptionResolveInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(RESOLVE_ACTIONS))
    transaction = IdField(
        min_value=1, required=False, allow_null=True, help_text="For link: a transaction of the group."
    )
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
