"""
API shapes of M-Pesa payment reversals: the output serializer and the <Entity><Verb>InputSerializers for writes.
Input serializers check shapes only; the rules (who may ask, which payments, the reason's 2-100 characters that
M-Pesa takes as Remarks) are the service's (mpesa_integration.services.reversals), so every caller gets them.
"""

from __future__ import annotations

from rest_framework import serializers

from mpesa_integration.models import PaymentReversal


class PaymentReversalSerializer(serializers.ModelSerializer):
    """A reversal as officials see it (read through selectors.reversal_list: joined)."""

    transaction_receipt = serializers.CharField(source="transaction.receipt_number", read_only=True, allow_null=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    requested_by_name = serializers.SerializerMethodField()

    class Meta:
        model = PaymentReversal
        fields = [
            "id",
            "uuid",
            "transaction",
            "transaction_receipt",
            "group",
            "amount",
            "reason",
            "status",
            "status_display",
            "requested_by",
            "requested_by_name",
            "decided_by",
            "decided_at",
            "decision_comments",
            "originator_conversation_id",
            "result_code",
            "result_desc",
            "completed_at",
            "journal_entry",
            "created_at",
        ]
        read_only_fields = fields

    def get_requested_by_name(self, obj: PaymentReversal) -> str:
        user = obj.requested_by
        return (user.get_full_name() or user.phone_number) if user is not None else ""


class PaymentReversalCreateInputSerializer(serializers.Serializer):
    transaction = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The M-Pesa transaction (STK or paybill) to return."
    )
    reason = serializers.CharField(
        max_length=1000,
        allow_blank=True,
        help_text="Why the money goes back, 2-100 characters (sent to M-Pesa as the reversal's Remarks).",
    )


class PaymentReversalDecisionInputSerializer(serializers.Serializer):
    comments = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
