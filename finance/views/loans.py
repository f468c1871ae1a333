"""Loans, loan repayments and guarantees. Thin: validate input, call one service, serialise the result."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from chamahub.api.schema import ErrorSerializer
from chamahub.exceptions import NotFound
from finance.exceptions import InvalidState
from finance.filters_loans import LoanFilterSet, LoanGuarantorFilterSet, LoanRepaymentFilterSet
from finance.models import Loan, LoanGuarantor, LoanRepayment
from finance.selectors.loans import loan_detail_list, loan_guarantor_list, loan_list, loan_repayment_list
from finance.serializers.loans import (
    LoanApplyInputSerializer,
    LoanCalculateInputSerializer,
    LoanCalculationSerializer,
    LoanDecisionInputSerializer,
    LoanDetailSerializer,
    LoanDisburseInputSerializer,
    LoanGuarantorSerializer,
    LoanRepayInputSerializer,
    LoanRepaymentCreateInputSerializer,
    LoanRepaymentSerializer,
    LoanSerializer,
    LoanSettleInputSerializer,
    LoanSettlementQuoteSerializer,
    LoanWriteOffInputSerializer,
)
from finance.services import loans as loan_services
from groups.models import ChamaGroup
from groups.selectors import active_group_ids, membership_require

_DETAIL_ACTIONS = frozenset({"retrieve", "approve", "reject", "disburse", "write_off"})


class LoanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Loans. A plain member sees their own loans; an official sees every loan of their groups.

    Apply with POST (the caller is the borrower). The interest rate, method and processing fee are the
    group's rules: an `interest_rate` different from the group's is refused (400). The loan needs the
    officials' approvals (approve/reject here or via approval-signatures) and every guarantor's consent
    before an official can disburse it.
    """

    serializer_class = LoanSerializer
    filterset_class = LoanFilterSet
    search_fields = ["purpose", "borrower__first_name", "borrower__last_name"]
    ordering_fields = ["applied_at", "principal_amount", "status", "due_date"]
    ordering = ["-applied_at", "-id"]

    def get_queryset(self) -> QuerySet[Loan]:
        if getattr(self, "swagger_fake_view", False):
            return Loan.objects.none()
        if self.action in _DETAIL_ACTIONS:
            return loan_detail_list(user=self.request.user)
        return loan_list(user=self.request.user)

    def get_serializer_class(self):
        return LoanDetailSerializer if self.action == "retrieve" else LoanSerializer

    def _detail(self, loan_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        loan = loan_detail_list(user=self.request.user).get(pk=loan_id)
        return Response(LoanDetailSerializer(loan, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(request=LoanApplyInputSerializer, responses={201: LoanDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = LoanApplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loan = loan_services.loan_apply(
            group_id=data.validated_data["group"],
            borrower=request.user,
            principal_amount=data.validated_data["principal_amount"],
            duration_months=data.validated_data["duration_months"],
            purpose=data.validated_data["purpose"],
            guarantors=data.validated_data["guarantors"],
            interest_rate=data.validated_data.get("interest_rate"),
        )
        return self._detail(loan.id, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=LoanCalculateInputSerializer, responses={200: LoanCalculationSerializer})
    @action(detail=False, methods=["post"])
    def calculate(self, request):
        """
        Loan calculator (writes nothing). Defaults: 12 months, 10% a year, FLAT, no fee; with `group_id`
        the group's rate, method and processing fee are the defaults.
        """
        data = LoanCalculateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        terms = data.validated_data
        rate, method, fee = Decimal("10"), "FLAT", Decimal("0.00")
        if terms.get("group_id") is not None:
            membership_require(request.user, terms["group_id"], field="group_id")
            group = ChamaGroup.objects.get(pk=terms["group_id"])
            rate, method, fee = group.loan_interest_rate, group.loan_interest_method, group.loan_processing_fee
        rate = terms.get("interest_rate", rate)
        method = terms.get("interest_method", method)
        months = terms.get("duration_months", 12)
        schedule = loan_services.loan_calculate(
            amount=terms["amount"],
            duration_months=months,
            interest_rate=rate,
            interest_method=method,
            processing_fee=fee,
        )
        body = {
            "amount": schedule.principal,
            "duration_months": months,
            "interest_rate": rate,
            "interest_method": method,
            "processing_fee": schedule.processing_fee,
            "monthly_payment": schedule.monthly_payment,
            "total_interest": schedule.total_interest,
            "total_repayment": schedule.total_amount,
            "schedule": [
                {
                    "number": line.number,
                    "due_date": line.due_date,
                    "principal": line.principal,
                    "interest": line.interest,
                    "fee": line.fee,
                    "total": line.total,
                    "balance": line.balance,
                }
                for line in schedule.lines
            ],
        }
        return Response(LoanCalculationSerializer(body).data)

    @extend_schema(request=LoanDecisionInputSerializer, responses={200: LoanDetailSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """An official signs the loan's approval (same rules as POST approval-signatures/)."""
        return self._decide(request, approved=True)

    @extend_schema(request=LoanDecisionInputSerializer, responses={200: LoanDetailSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """An official rejects the loan: one rejection rejects it."""
        return self._decide(request, approved=False)

    def _decide(self, request, *, approved: bool) -> Response:
        loan = self.get_object()
        data = LoanDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loan_services.loan_decide(
            loan_id=loan.id, approver=request.user, approved=approved, comments=data.validated_data["comments"]
        )
        return self._detail(loan.id)

    @extend_schema(request=LoanDisburseInputSerializer, responses={200: LoanDetailSerializer})
    @action(detail=True, methods=["post"])
    def disburse(self, request, pk=None):
        """An official pays out an APPROVED loan (every guarantor accepted; enough cash, else 409)."""
        loan = self.get_object()
        data = LoanDisburseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loan_services.loan_disburse(
            loan_id=loan.id, actor=request.user, disbursed_on=data.validated_data.get("disbursement_date")
        )
        return self._detail(loan.id)

    @extend_schema(request=LoanRepayInputSerializer, responses={201: LoanRepaymentSerializer})
    @action(detail=True, methods=["post"])
    def repay(self, request, pk=None):
        """An official records a repayment (the same as POST loan-repayments/)."""
        loan = self.get_object()
        data = LoanRepayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        repayment = _repayment_record(loan.id, data.validated_data, request.user)
        return Response(LoanRepaymentSerializer(repayment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: LoanSettlementQuoteSerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["get"])
    def settlement(self, request, pk=None):
        """
        Early-repayment quote for today: every instalment already due in full, plus the principal and fees
        of the later instalments. Interest of instalments not yet due is waived.
        """
        loan = self.get_object()
        if loan.status not in loan_services.REPAYABLE_STATUSES:
            raise InvalidState(f"The loan is {loan.status}; only ACTIVE or DEFAULTED loans can be settled.")
        quote = loan_services.loan_settlement_quote_get(loan=loan)
        return Response(LoanSettlementQuoteSerializer(quote).data)

    @extend_schema(request=LoanSettleInputSerializer, responses={201: LoanRepaymentSerializer})
    @action(detail=True, methods=["post"])
    def settle(self, request, pk=None):
        """An official records payment of the settlement quote; the loan becomes REPAID."""
        loan = self.get_object()
        data = LoanSettleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        repayment = loan_services.loan_settle(
            loan_id=loan.id,
            payment_method=data.validated_data["payment_method"],
            reference=data.validated_data.get("reference_number") or None,
            paid_at=data.validated_data.get("paid_at"),
            actor=request.user,
        )
        return Response(LoanRepaymentSerializer(repayment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LoanWriteOffInputSerializer, responses={200: LoanDetailSerializer})
    @action(detail=True, methods=["post"])
    def write_off(self, request, pk=None):
        """An official writes off an ACTIVE or DEFAULTED loan (the principal left goes to bad debts)."""
        loan = self.get_object()
        data = LoanWriteOffInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loan_services.loan_write_off(loan_id=loan.id, actor=request.user, reason=data.validated_data["reason"])
        return self._detail(loan.id)


def _repayment_record(loan_id: int, data: dict, user) -> LoanRepayment:
    return loan_services.loan_repayment_record(
        loan_id=loan_id,
        amount=data["amount"],
        payment_method=data["payment_method"],
        reference=data.get("reference_number") or None,
        paid_at=data.get("paid_at"),
        actor=user,
        notes=data.get("notes", ""),
    )


class LoanRepaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Loan repayments. A plain member sees their own; an official sees the group's. Repayments are
    recorded by an official (cash received); M-Pesa repayments arrive through the payment callback.
    """

    serializer_class = LoanRepaymentSerializer
    filterset_class = LoanRepaymentFilterSet
    search_fields = ["reference_number", "notes"]
    ordering_fields = ["paid_at", "amount", "created_at"]
    ordering = ["-paid_at", "-id"]

    def get_queryset(self) -> QuerySet[LoanRepayment]:
        if getattr(self, "swagger_fake_view", False):
            return LoanRepayment.objects.none()
        return loan_repayment_list(user=self.request.user)

    @extend_schema(request=LoanRepaymentCreateInputSerializer, responses={201: LoanRepaymentSerializer})
    def create(self, request, *args, **kwargs):
        """An official records a repayment: 400 `overpayment` when it is more than is owed."""
        data = LoanRepaymentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loan_id = data.validated_data["loan"]
        if not Loan.objects.filter(pk=loan_id, group_id__in=active_group_ids(request.user)).exists():
            raise NotFound("Loan not found.", fields={"loan": ["Loan not found."]})
        repayment = _repayment_record(loan_id, data.validated_data, request.user)
        return Response(LoanRepaymentSerializer(repayment).data, status=status.HTTP_201_CREATED)


class LoanGuarantorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Guarantee requests. The guarantor sees the requests addressed to them; the borrower and officials
    see a loan's. Only the guarantor accepts or declines, while the loan is PENDING or APPROVED; a
    decline rejects the loan (the borrower may apply again with other guarantors).
    """

    serializer_class = LoanGuarantorSerializer
    filterset_class = LoanGuarantorFilterSet
    search_fields = ["guarantor__first_name", "guarantor__last_name", "loan__purpose"]
    ordering_fields = ["created_at", "amount", "status"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[LoanGuarantor]:
        if getattr(self, "swagger_fake_view", False):
            return LoanGuarantor.objects.none()
        return loan_guarantor_list(user=self.request.user)

    @extend_schema(request=None, responses={200: LoanGuarantorSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._respond(accept=True)

    @extend_schema(request=None, responses={200: LoanGuarantorSerializer})
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._respond(accept=False)

    def _respond(self, *, accept: bool) -> Response:
        guarantee = self.get_object()
        loan_services.loan_guarantor_respond(guarantee_id=guarantee.id, user=self.request.user, accept=accept)
        return Response(LoanGuarantorSerializer(self.get_queryset().get(pk=guarantee.id)).data)
