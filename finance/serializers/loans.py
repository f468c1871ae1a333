"""Loan, schedule, guarantor and repayment serializers (output + <Entity><Verb>Input)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chamahub.api.fields import MoneyField
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS
from finance.choices import PaymentMethod
from finance.models import DisbursementApproval, Loan, LoanGuarantor, LoanInstallment, LoanRepayment
from finance.services.amortization import MAX_DURATION_MONTHS
from groups.choices import InterestMethod

INTEREST_METHODS = InterestMethod.choices


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, read_only=True, **kwargs
    )


def _rate(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, **kwargs)


class ObjectIdField(serializers.IntegerField):
    """An object id in a request body: a positive integer the database can hold (never a 500 on huge values)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


# --------------------------------------------------------------------------- output


class LoanInstallmentSerializer(serializers.ModelSerializer):
    total_due = _money()
    total_paid = _money()
    outstanding = _money()

    class Meta:
        model = LoanInstallment
        fields = [
            "id",
            "number",
            "due_date",
            "principal_due",
            "interest_due",
            "fee_due",
            "interest_waived",
            "principal_paid",
            "interest_paid",
            "fee_paid",
            "total_due",
            "total_paid",
            "outstanding",
        ]
        read_only_fields = fields


class LoanGuarantorBriefSerializer(serializers.ModelSerializer):
    guarantor_name = serializers.CharField(source="guarantor.full_name", read_only=True)

    class Meta:
        model = LoanGuarantor
        fields = ["id", "guarantor", "guarantor_name", "amount", "status", "responded_at"]
        read_only_fields = fields


class LoanGuarantorSerializer(serializers.ModelSerializer):
    guarantor_name = serializers.CharField(source="guarantor.full_name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    borrower = serializers.IntegerField(source="loan.borrower_id", read_only=True)
    borrower_name = serializers.CharField(source="loan.borrower.full_name", read_only=True)
    loan_principal_amount = _money(source="loan.principal_amount")
    loan_status = serializers.CharField(source="loan.status", read_only=True)

    class Meta:
        model = LoanGuarantor
        fields = [
            "id",
            "loan",
            "group",
            "guarantor",
            "guarantor_name",
            "amount",
            "status",
            "status_display",
            "responded_at",
            "created_at",
            "borrower",
            "borrower_name",
            "loan_principal_amount",
            "loan_status",
        ]
        read_only_fields = fields


class LoanApprovalBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisbursementApproval
        fields = ["id", "status", "approvals_count", "required_approvals"]
        read_only_fields = fields


class LoanSerializer(serializers.ModelSerializer):
    """
    A loan with the first web client's field names. The money owed is computed from the schedule:
    outstanding_balance = principal + interest + fees still unpaid (before disbursement: what the loan
    will cost; REJECTED and WRITTEN_OFF: 0); amount_due_now = unpaid on instalments due today or
    earlier; arrears_amount = unpaid on instalments already past due; days_past_due counts from the
    oldest unpaid past-due instalment.
    """

    group_name = serializers.CharField(source="group.name", read_only=True)
    borrower_name = serializers.CharField(source="borrower.full_name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    outstanding_balance = _money(source="position.outstanding_balance")
    principal_outstanding = _money(source="position.principal_outstanding")
    amount_due_now = _money(source="position.amount_due_now")
    arrears_amount = _money(source="position.arrears_amount")
    days_past_due = serializers.IntegerField(source="position.days_past_due", read_only=True)

    class Meta:
        model = Loan
        fields = [
            "id",
            "group",
            "group_name",
            "borrower",
            "borrower_name",
            "principal_amount",
            "interest_rate",
            "interest_method",
            "duration_months",
            "processing_fee",
            "purpose",
            "status",
            "status_display",
            "total_interest",
            "total_amount",
            "monthly_payment",
            "outstanding_balance",
            "principal_outstanding",
            "amount_due_now",
            "arrears_amount",
            "days_past_due",
            "applied_at",
            "approved_at",
            "rejected_at",
            "disbursed_at",
            "disbursement_date",
            "due_date",
            "completed_at",
            "defaulted_at",
            "written_off_at",
            "notes",
        ]
        read_only_fields = fields


class LoanDetailSerializer(LoanSerializer):
    schedule = LoanInstallmentSerializer(source="installments", many=True, read_only=True)
    guarantors = LoanGuarantorBriefSerializer(many=True, read_only=True)
    approval = serializers.SerializerMethodField()

    class Meta(LoanSerializer.Meta):
        fields = [*LoanSerializer.Meta.fields, "schedule", "guarantors", "approval"]
        read_only_fields = fields

    @extend_schema_field(LoanApprovalBriefSerializer(allow_null=True))
    def get_approval(self, loan: Loan) -> dict | None:
        try:
            approval = loan.approval
        except DisbursementApproval.DoesNotExist:
            return None
        return LoanApprovalBriefSerializer(approval).data


class LoanRepaymentSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    member_name = serializers.CharField(source="member.full_name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = LoanRepayment
        fields = [
            "id",
            "loan",
            "group",
            "group_name",
            "member",
            "member_name",
            "amount",
            "fee_portion",
            "interest_portion",
            "principal_portion",
            "payment_method",
            "reference_number",
            "status",
            "status_display",
            "paid_at",
            "notes",
            "recorded_by",
            "journal_entry",
            "created_at",
        ]
        read_only_fields = fields


class ScheduleLineSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    due_date = serializers.DateField()
    principal = _money()
    interest = _money()
    fee = _money()
    total = _money()
    balance = _money(help_text="Principal still owed after this instalment.")


class LoanCalculationSerializer(serializers.Serializer):
    amount = _money()
    duration_months = serializers.IntegerField()
    interest_rate = _rate(read_only=True)
    interest_method = serializers.ChoiceField(choices=INTEREST_METHODS, read_only=True)
    processing_fee = _money()
    monthly_payment = _money(help_text="The regular instalment (principal + interest), without the fee.")
    total_interest = _money()
    total_repayment = _money(help_text="Principal + interest + processing fee.")
    schedule = ScheduleLineSerializer(many=True, read_only=True)


class LoanSettlementQuoteSerializer(serializers.Serializer):
    loan = serializers.IntegerField(source="loan_id")
    as_of = serializers.DateField()
    amount = _money(help_text="What settles the loan today: due_now + principal_remaining + fees_remaining.")
    due_now = _money(help_text="Everything on instalments due today or earlier.")
    principal_remaining = _money(help_text="Principal of instalments not yet due.")
    fees_remaining = _money(help_text="Fees of instalments not yet due (fees are never waived).")
    interest_waived = _money(help_text="Interest of instalments not yet due, waived on early settlement.")


# --------------------------------------------------------------------------- input


class GuarantorPledgeInputSerializer(serializers.Serializer):
    guarantor = ObjectIdField(help_text="User id of an active member of the group.")
    amount = MoneyField(help_text="Part of the guarantor's free savings pledged behind the loan.")


class LoanApplyInputSerializer(serializers.Serializer):
    group = ObjectIdField()
    principal_amount = MoneyField()
    duration_months = serializers.IntegerField(min_value=1, max_value=MAX_DURATION_MONTHS)
    purpose = serializers.CharField(max_length=2000)
    guarantors = GuarantorPledgeInputSerializer(many=True, required=False, default=list)
    interest_rate = _rate(
        required=False,
        min_value=Decimal("0"),
        help_text="Optional. The rate is the group's rule; a different value is refused (400).",
    )


class LoanCalculateInputSerializer(serializers.Serializer):
    amount = MoneyField()
    duration_months = serializers.IntegerField(min_value=1, max_value=MAX_DURATION_MONTHS, required=False)
    interest_rate = _rate(required=False, min_value=Decimal("0"), help_text="Annual %. Default 10, or the group's.")
    interest_method = serializers.ChoiceField(
        choices=INTEREST_METHODS, required=False, help_text="Default FLAT, or the group's."
    )
    group_id = ObjectIdField(
        required=False, help_text="When given (you must be a member), the group's loan rules are the defaults."
    )


class LoanDecisionInputSerializer(serializers.Serializer):
    comments = serializers.CharField(required=False, allow_blank=True, default="")


class LoanDisburseInputSerializer(serializers.Serializer):
    disbursement_date = serializers.DateField(required=False, help_text="Default today; schedules run from it.")

    def validate_disbursement_date(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("Must not be in the future.")
        return value


class LoanRepayInputSerializer(serializers.Serializer):
    amount = MoneyField()
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)
    reference_number = serializers.CharField(max_length=100, required=False, allow_blank=True, allow_null=True)
    paid_at = serializers.DateTimeField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class LoanRepaymentCreateInputSerializer(LoanRepayInputSerializer):
    loan = ObjectIdField()


class LoanSettleInputSerializer(serializers.Serializer):
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)
    reference_number = serializers.CharField(max_length=100, required=False, allow_blank=True, allow_null=True)
    paid_at = serializers.DateTimeField(required=False)


class LoanWriteOffInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")
