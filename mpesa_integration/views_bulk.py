"""
B2C bulk payouts (/api/v1/mpesa/bulk-payments/). Thin: scoped selectors for reads; each write validates an
*InputSerializer and calls one service (mpesa_integration.services.bulk).

Who may do what: the officials of a group see, create, approve, reject and retry its batches. Plain members and
outsiders get 404 on reads (a batch shows other members' payouts); on writes an outsider gets 404 and a plain member
403. The official who created a batch cannot approve it.

Not offered, on purpose (405): PUT/PATCH/DELETE. A batch is what the approvers approved; reject it and create a new
one instead. Sent payouts cannot be taken back (B2C has no reversal).
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
from groups.selectors import official_require
from mpesa_integration.choices import PAYOUT_PURPOSES, BulkPaymentStatus
from mpesa_integration.models import MPesaBulkPayment
from mpesa_integration.selectors import bulk_payment_get, bulk_payment_list
from mpesa_integration.serializers_bulk import (
    BulkPaymentCreateInputSerializer,
    BulkPaymentDecisionInputSerializer,
    BulkPaymentItemRetryInputSerializer,
    BulkPaymentSerializer,
)
from mpesa_integration.services import bulk as bulk_services


class BulkPaymentFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    status = django_filters.ChoiceFilter(choices=BulkPaymentStatus.choices)
    purpose = django_filters.ChoiceFilter(choices=[(p.value, p.label) for p in PAYOUT_PURPOSES])

    class Meta:
        model = MPesaBulkPayment
        fields = ["group", "status", "purpose"]


class BulkPaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Batches of M-Pesa B2C payouts (loan disbursements, share-outs, merry-go-round pots, refunds), maker-checker:
    created by one official, sent once `required_approvals` other officials approved it. Filter with
    ?group= &status= &purpose=.
    """

    serializer_class = BulkPaymentSerializer
    filterset_class = BulkPaymentFilterSet
    search_fields = ["batch_id", "description"]
    ordering_fields = ["created_at", "total_amount", "status"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[MPesaBulkPayment]:
        if getattr(self, "swagger_fake_view", False):
            return MPesaBulkPayment.objects.none()
        return bulk_payment_list(user=self.request.user)

    def _output(self, bulk_payment_id: int, *, status_code: int = status.HTTP_200_OK) -> Response:
        batch = bulk_payment_get(user=self.request.user, bulk_payment_id=bulk_payment_id)
        return Response(BulkPaymentSerializer(batch, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(request=BulkPaymentCreateInputSerializer, responses={201: BulkPaymentSerializer})
    def create(self, request, *args, **kwargs):
        """Prepare a batch (pending_approval). Item errors are named items[i].<field>; a loan already paid: 409."""
        group_id = request.data.get("group") if hasattr(request.data, "get") else None
        if group_id is not None:
            official_require(request.user, group_id, field="group")  # outsider 404, member 403, before the body
        data = _validated(BulkPaymentCreateInputSerializer, request.data)
        batch = bulk_services.bulk_payment_create(
            actor=request.user,
            group_id=data["group"],
            purpose=data["purpose"],
            items=[dict(item) for item in data["items"]],
            description=data.get("description", ""),
        )
        return self._output(batch.id, status_code=status.HTTP_201_CREATED)

    def _decide(self, request, pk, *, approved: bool) -> Response:
        data = _validated(BulkPaymentDecisionInputSerializer, request.data)
        bulk_services.bulk_payment_approve(
            actor=request.user, bulk_payment_id=int(pk), approved=approved, comments=data.get("comments", "")
        )
        return self._output(int(pk))

    @extend_schema(request=BulkPaymentDecisionInputSerializer, responses=BulkPaymentSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (not the maker; once per official). The last approval needed starts the payouts."""
        return self._decide(request, pk, approved=True)

    @extend_schema(request=BulkPaymentDecisionInputSerializer, responses=BulkPaymentSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject: the batch is rejected and nothing is paid."""
        return self._decide(request, pk, approved=False)

    @extend_schema(request=None, responses=BulkPaymentSerializer)
    @action(detail=True, methods=["post"])
    def process_batch(self, request, pk=None):
        """(Legacy name) Start the payouts of an approved batch that has not started; otherwise 409."""
        bulk_services.bulk_payment_process(actor=request.user, bulk_payment_id=int(pk))
        return self._output(int(pk))

    @extend_schema(request=None, responses=BulkPaymentSerializer)
    @action(detail=True, methods=["post"])
    def retry_failed(self, request, pk=None):
        """(Legacy name) Retry every failed payout: each a new M-Pesa request. 409 when none failed."""
        bulk_services.bulk_payment_retry_failed(actor=request.user, bulk_payment_id=int(pk))
        return self._output(int(pk))

    @extend_schema(request=BulkPaymentItemRetryInputSerializer, responses=BulkPaymentSerializer)
    @action(detail=True, methods=["post"], url_path="retry-item")
    def retry_item(self, request, pk=None):
        """Retry one failed payout of this batch: a new M-Pesa request (new id, new cash reservation)."""
        bulk_payment_get(user=request.user, bulk_payment_id=int(pk))  # 404 for outsiders before the body is read
        data = _validated(BulkPaymentItemRetryInputSerializer, request.data)
        bulk_services.bulk_item_retry(actor=request.user, item_id=data["item"], bulk_payment_id=int(pk))
        return self._output(int(pk))
