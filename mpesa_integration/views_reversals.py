"""
M-Pesa payment reversals (/api/v1/mpesa/reversals/). Thin: a scoped read for lists and details; each write validates
an *InputSerializer and calls one service (mpesa_integration.services.reversals).

Who may do what: the officials of a group see, request, approve and reject its reversals; the official who requested
one cannot decide on it. Plain members get 404 on reads (nothing listed) and 403 on writes; outsiders 404. Staff
handle payments no group was identified for.

Not offered, on purpose (405): PUT/PATCH/DELETE. A reversal is what the second official approved; reject it and
request a new one instead. Money returned by M-Pesa cannot be taken back.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from chamahub.api.filters import IdFilter
from chamahub.api.serializers import validated as _validated
from mpesa_integration import selectors
from mpesa_integration.choices import ReversalStatus
from mpesa_integration.models import PaymentReversal
from mpesa_integration.serializers_reversals import (
    PaymentReversalCreateInputSerializer,
    PaymentReversalDecisionInputSerializer,
    PaymentReversalSerializer,
)
from mpesa_integration.services import reversals as reversal_services


class PaymentReversalFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    status = django_filters.ChoiceFilter(choices=ReversalStatus.choices)

    class Meta:
        model = PaymentReversal
        fields = ["group", "status"]


class PaymentReversalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Returning members' M-Pesa payments to them (Daraja Reversal), maker-checker: requested by one official, sent to
    M-Pesa only when another official approves; M-Pesa's Result then posts the reversing entry. Filter with
    ?group= &status=.
    """

    serializer_class = PaymentReversalSerializer
    filterset_class = PaymentReversalFilterSet
    search_fields = ["reason", "transaction__receipt_number"]
    ordering_fields = ["created_at", "amount", "status"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[PaymentReversal]:
        if getattr(self, "swagger_fake_view", False):
            return PaymentReversal.objects.none()
        return selectors.reversal_list(user=self.request.user)

    def _output(self, reversal_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        reversal = selectors.reversal_get(user=self.request.user, reversal_id=reversal_id)
        data = PaymentReversalSerializer(reversal, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    @extend_schema(request=PaymentReversalCreateInputSerializer, responses={201: PaymentReversalSerializer})
    def create(self, request, *args, **kwargs):
        """Request a reversal (pending_approval). 400 if the payment cannot be reversed; 409 if one is live."""
        data = _validated(PaymentReversalCreateInputSerializer, request.data)
        reversal = reversal_services.reversal_request(
            actor=request.user, transaction_id=data["transaction"], reason=data["reason"]
        )
        return self._output(reversal.id, status_code=status.HTTP_201_CREATED)

    def _decide(self, request, pk, *, approved: bool) -> Response:
        data = _validated(PaymentReversalDecisionInputSerializer, request.data)
        reversal_services.reversal_decide(
            actor=request.user, reversal_id=int(pk), approved=approved, comments=data.get("comments", "")
        )
        return self._output(int(pk))

    @extend_schema(request=PaymentReversalDecisionInputSerializer, responses=PaymentReversalSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (not the requester) and send it to M-Pesa at once: 502/503 if M-Pesa refused or is down (the
        reversal is then failed), 504 if it did not answer (timed_out: never resent, its Result settles it)."""
        return self._decide(request, pk, approved=True)

    @extend_schema(request=PaymentReversalDecisionInputSerializer, responses=PaymentReversalSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject (not the requester): nothing is sent; the payment may be requested for reversal again."""
        return self._decide(request, pk, approved=False)
