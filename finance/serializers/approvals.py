"""Expense, disbursement-approval and approval-signature serializers."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chamahub.api.fields import MoneyField
from finance.choices import ApprovalType, ExpenseCategory
from finance.models import ApprovalSignature, DisbursementApproval, Expense
from finance.serializers.loans import ObjectIdField


class ApprovalSignatureSerializer(serializers.ModelSerializer):
    approver_name = serializers.CharField(source="approver.full_name", read_only=True)

    class Meta:
        model = ApprovalSignature
        fields = ["id", "approval", "group", "approver", "approver_name", "approved", "comments", "signed_at"]
        read_only_fields = fields


class ApprovalSignatureBriefSerializer(serializers.ModelSerializer):
    approver_name = serializers.CharField(source="approver.full_name", read_only=True)

    class Meta:
        model = ApprovalSignature
        fields = ["id", "approver", "approver_name", "approved", "comments", "signed_at"]
        read_only_fields = fields


class DisbursementApprovalSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    requested_by_name = serializers.CharField(source="requested_by.full_name", read_only=True)
    approval_type_display = serializers.CharField(source="get_approval_type_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    signatures = ApprovalSignatureBriefSerializer(many=True, read_only=True)

    class Meta:
        model = DisbursementApproval
        fields = [
            "id",
            "group",
            "group_name",
            "approval_type",
            "approval_type_display",
            "amount",
            "description",
            "loan",
            "expense",
            "required_approvals",
            "approvals_count",
            "status",
            "status_display",
            "requested_by",
            "requested_by_name",
            "decided_at",
            "created_at",
            "updated_at",
            "signatures",
        ]
        read_only_fields = fields


class ExpenseApprovalBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisbursementApproval
        fields = ["id", "status", "approvals_count", "required_approvals"]
        read_only_fields = fields


class ExpenseSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    category_display = serializers.CharField(source="get_category_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    requested_by_name = serializers.CharField(source="requested_by.full_name", read_only=True)
    approval = serializers.SerializerMethodField()

    class Meta:
        model = Expense
        fields = [
            "id",
            "group",
            "group_name",
            "category",
            "category_display",
            "description",
            "amount",
            "status",
            "status_display",
            "requested_by",
            "requested_by_name",
            "requested_at",
            "approved_at",
            "disbursed_at",
            "disbursed_by",
            "notes",
            "approval",
        ]
        read_only_fields = fields

    @extend_schema_field(ExpenseApprovalBriefSerializer(allow_null=True))
    def get_approval(self, expense: Expense) -> dict | None:
        try:
            approval = expense.approval
        except DisbursementApproval.DoesNotExist:
            return None
        return ExpenseApprovalBriefSerializer(approval).data


class ExpenseCreateInputSerializer(serializers.Serializer):
    group = ObjectIdField()
    category = serializers.ChoiceField(choices=ExpenseCategory.choices)
    description = serializers.CharField(max_length=2000)
    amount = MoneyField()
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class DisbursementApprovalCreateInputSerializer(serializers.Serializer):
    group = ObjectIdField()
    approval_type = serializers.ChoiceField(
        choices=ApprovalType.choices, help_text="Only WITHDRAWAL here: loans and expenses open their own approvals."
    )
    amount = MoneyField()
    description = serializers.CharField(max_length=2000)


class ApprovalSignatureCreateInputSerializer(serializers.Serializer):
    approval = ObjectIdField()
    approved = serializers.BooleanField(help_text="true approves, false rejects (one rejection rejects the request).")
    comments = serializers.CharField(required=False, allow_blank=True, default="")
