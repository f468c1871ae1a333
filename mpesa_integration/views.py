"""
/api/v1/mpesa/transactions/: M-Pesa transactions. Thin: scoped selectors for reads, one service per action.

- list / retrieve: a member sees their own transactions in their groups; officials see their groups' (404 otherwise).
- stk-push: {group, amount, purpose, target_id, phone?} -> 202 with the transaction; the callback settles it.
- {id}/query: STK Query now (otherwise the beat sweep asks after 2 minutes).
- {id}/allocate: officials move money held in suspense to a contribution, loan repayment or fine.
- The first web client's aliases: initiate_stk_push/ (201 with its fields), {id}/check_status/ (local state),
  {id}/query_payment_status/ (STK Query). Statuses there use its words (PENDING, SUCCESS, FAILED, ...).
- No create/update/delete: rows are written only by M-Pesa flows (405).
"""

from __future__ import annotations

from django.conf import settings
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from chamahub.api.filters import IdFilter
from chamahub.api.serializers import validated as _validated
from groups.selectors import membership_require
from mpesa_integration import selectors
from mpesa_integration.choices import LEGACY_STATUS, LEGACY_STATUS_FILTER, Purpose, TransactionKind, TransactionStatus
from mpesa_integration.models import MPesaTransaction
from mpesa_integration.serializers import (
    LegacyStatusSerializer,
    LegacyStkPushInputSerializer,
    MPesaTransactionSerializer,
    StkPushInputSerializer,
    SuspenseAllocateInputSerializer,
)
from mpesa_integration.services import settlement, stk


class StkPushThrottle(UserRateThrottle):
    """Per-user limit on STK pushes (MPESA_STK_PUSH_RATE, default 5/min), read at request time."""

    scope = "mpesa_stk"

    def get_rate(self) -> str:
        return settings.MPESA_STK_PUSH_RATE


class MPesaTransactionFilterSet(filters.FilterSet):
    group = IdFilter(field_name="group_id")
    member = IdFilter(field_name="member_id")
    status = filters.CharFilter(method="filter_status", help_text="Ours (succeeded, ...) or legacy (SUCCESS, ...).")
    kind = filters.ChoiceFilter(choices=TransactionKind.choices)
    transaction_type = filters.CharFilter(method="filter_transaction_type", help_text="Legacy: STK_PUSH, C2B, B2C.")
    purpose = filters.ChoiceFilter(choices=Purpose.choices)
    settlement = filters.CharFilter()
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = MPesaTransaction
        fields = ["group", "member", "status", "kind", "purpose", "settlement"]

    def filter_status(self, queryset, name, value):
        values = LEGACY_STATUS_FILTER.get(value.upper()) or ([value] if value in TransactionStatus.values else None)
        return queryset.filter(status__in=values) if values else queryset.none()

    def filter_transaction_type(self, queryset, name, value):
        kinds = {"STK_PUSH": TransactionKind.STK, "C2B": TransactionKind.C2B, "B2C": TransactionKind.B2C}
        kind = kinds.get(value.upper())
        return queryset.filter(kind=kind) if kind else queryset.none()


class MPesaTransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MPesaTransactionSerializer
    filterset_class = MPesaTransactionFilterSet
    search_fields = ["receipt_number", "checkout_request_id", "account_reference", "phone"]
    ordering_fields = ["created_at", "amount", "status"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return selectors.transaction_list(user=self.request.user)

    def get_throttles(self):
        if self.action in ("stk_push", "initiate_stk_push"):
            return [*super().get_throttles(), StkPushThrottle()]
        return super().get_throttles()

    def _output(self, txn: MPesaTransaction, code: int = status.HTTP_200_OK) -> Response:
        txn = selectors.transaction_get(user=self.request.user, transaction_id=txn.pk)
        return Response(MPesaTransactionSerializer(txn, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=StkPushInputSerializer, responses={202: MPesaTransactionSerializer})
    @action(detail=False, methods=["post"], url_path="stk-push")
    def stk_push(self, request):
        """Prompt the member's phone (M-Pesa Express). 202: accepted by M-Pesa; the callback settles it."""
        group_id = request.data.get("group") if hasattr(request.data, "get") else None
        if isinstance(group_id, int) or (isinstance(group_id, str) and group_id.isdigit()):
            membership_require(request.user, int(group_id), field="group")  # outsiders: 404 before the body
        data = _validated(StkPushInputSerializer, request.data)
        txn = stk.stk_push_initiate(
            user=request.user,
            group_id=data["group"],
            amount=data["amount"],
            purpose=data["purpose"],
            target_id=data.get("target_id"),
            phone=data.get("phone") or None,
        )
        return self._output(txn, status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=MPesaTransactionSerializer)
    @action(detail=True, methods=["post"])
    def query(self, request, pk=None):
        """STK Query: ask M-Pesa for this push's outcome now and settle it if known."""
        txn = self.get_object()
        return self._output(stk.stk_query(transaction_id=txn.pk))

    @extend_schema(request=SuspenseAllocateInputSerializer, responses=MPesaTransactionSerializer)
    @action(detail=True, methods=["post"])
    def allocate(self, request, pk=None):
        """Officials: allocate money held in suspense to a contribution (give member), loan repayment or fine."""
        txn = self.get_object()
        data = _validated(SuspenseAllocateInputSerializer, request.data)
        txn = settlement.suspense_allocate(
            actor=request.user,
            transaction_id=txn.pk,
            purpose=data["purpose"],
            target_id=data.get("target_id"),
            member_id=data.get("member"),
            group_id=data.get("group"),
        )
        # Staff may allocate into a group they are not a member of: answer with the row itself, not a scoped read.
        return Response(MPesaTransactionSerializer(txn, context=self.get_serializer_context()).data)

    # ---- the first web client's routes

    @extend_schema(
        request=LegacyStkPushInputSerializer,
        responses={
            201: OpenApiResponse(
                description="message, transaction_uuid, transaction_id, checkout_request_id, status, amount, phone"
            )
        },
    )
    @action(detail=False, methods=["post"])
    def initiate_stk_push(self, request):
        """Legacy: a contribution paid by STK push. account_reference/transaction_desc are fitted to 12/13 chars."""
        group_id = request.data.get("group_id") if hasattr(request.data, "get") else None
        if isinstance(group_id, int) or (isinstance(group_id, str) and group_id.isdigit()):
            membership_require(request.user, int(group_id), field="group_id")
        data = _validated(LegacyStkPushInputSerializer, request.data)
        txn = stk.stk_push_initiate(
            user=request.user,
            group_id=data["group_id"],
            amount=data["amount"],
            purpose=Purpose.CONTRIBUTION,
            phone=data["phone_number"],
            account_reference=data.get("account_reference"),
            transaction_desc=data.get("transaction_desc"),
        )
        return Response(
            {
                "message": "STK push sent. Enter your M-Pesa PIN on your phone to complete the payment.",
                "transaction_uuid": str(txn.uuid),
                "transaction_id": txn.id,
                "checkout_request_id": txn.checkout_request_id,
                "status": LEGACY_STATUS[txn.status],
                "amount": f"{txn.amount:.2f}",
                "phone_number": txn.phone,
            },
            status=status.HTTP_201_CREATED,
        )

    def _legacy_status(self, txn: MPesaTransaction) -> Response:
        return Response(
            LegacyStatusSerializer(
                {
                    "transaction_uuid": txn.uuid,
                    "transaction_id": txn.receipt_number or txn.checkout_request_id,
                    "status": LEGACY_STATUS[txn.status],
                    "amount": txn.amount,
                    "phone_number": txn.phone,
                    "mpesa_receipt_number": txn.receipt_number,
                    "transaction_date": txn.transaction_date,
                    "result_desc": txn.result_desc,
                }
            ).data
        )

    @extend_schema(responses=LegacyStatusSerializer)
    @action(detail=True, methods=["get"])
    def check_status(self, request, pk=None):
        """Legacy: the transaction's local status (no call to M-Pesa)."""
        return self._legacy_status(self.get_object())

    @extend_schema(request=None, responses=LegacyStatusSerializer)
    @action(detail=True, methods=["post"])
    def query_payment_status(self, request, pk=None):
        """Legacy: STK Query, then the status."""
        txn = self.get_object()
        return self._legacy_status(stk.stk_query(transaction_id=txn.pk))
