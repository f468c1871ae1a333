"""
M-Pesa statement reconciliation (/api/v1/mpesa/reconciliations/ and /api/v1/mpesa/reconciliation-exceptions/).
Thin: scoped reads; each write validates an *InputSerializer and calls one service
(mpesa_integration.services.reconciliation).

Who may do what: only the officials of a group see its reconciliations and exceptions (they list other members'
phones and payments): plain members see nothing and get 404 on a detail, like outsiders. On upload an outsider gets
404 and a plain member 403, before the file is looked at.

- reconciliations: list (?group=, ?status=) / retrieve; POST multipart {group, file} -> 201 with the summary.
  `auto_reconcile/` is the first web client's name for the same upload. No update or delete (405): a reconciliation
  is the record of what a statement said; upload a corrected statement instead.
- reconciliation-exceptions: list (?reconciliation=, ?kind=, ?resolution=, ?group=) / retrieve;
  `{id}/resolve/` {action: post|link|review, transaction, note}.
"""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from chamahub.api.filters import IdFilter
from chamahub.api.parsers import SafeJSONParser
from chamahub.api.serializers import validated as _validated
from chamahub.exceptions import ValidationFailed
from groups.selectors import official_require
from mpesa_integration import selectors
from mpesa_integration.choices import ExceptionKind, ExceptionResolution, ReconciliationStatus
from mpesa_integration.models import PaymentReconciliation, ReconciliationException
from mpesa_integration.serializers_reconciliation import (
    PaymentReconciliationCreateInputSerializer,
    PaymentReconciliationSerializer,
    ReconciliationExceptionResolveInputSerializer,
    ReconciliationExceptionSerializer,
)
from mpesa_integration.services import reconciliation as services

#: Room for the multipart envelope (boundaries, headers, the group field) on top of the file itself.
_MULTIPART_SLACK = 64 * 1024


def _body_size_guard(request) -> None:
    """Refuse an oversized upload from its Content-Length, before the body is read and spooled to disk."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.MPESA_STATEMENT_MAX_BYTES
    if length > limit + _MULTIPART_SLACK:
        message = f"The upload is {length:,} bytes; the statement limit is {limit:,} bytes. Export a shorter period."
        raise ValidationFailed(message, fields={"file": [message]})


class PaymentReconciliationFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    status = django_filters.ChoiceFilter(choices=ReconciliationStatus.choices)

    class Meta:
        model = PaymentReconciliation
        fields = ["group", "status"]


class ReconciliationExceptionFilterSet(django_filters.FilterSet):
    reconciliation = IdFilter(field_name="reconciliation_id")
    group = IdFilter(field_name="group_id")
    kind = django_filters.ChoiceFilter(choices=ExceptionKind.choices)
    resolution = django_filters.ChoiceFilter(choices=ExceptionResolution.choices)

    class Meta:
        model = ReconciliationException
        fields = ["reconciliation", "group", "kind", "resolution"]


class PaymentReconciliationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Uploaded M-Pesa organisation statements matched against the group's M-Pesa transactions. Upload with a
    multipart POST {group, file} (the CSV or XLSX export of the M-Pesa org portal); the answer is the summary, and
    the differences are listed under /api/v1/mpesa/reconciliation-exceptions/?reconciliation={id}.
    """

    serializer_class = PaymentReconciliationSerializer
    filterset_class = PaymentReconciliationFilterSet
    parser_classes = [MultiPartParser, FormParser, SafeJSONParser]
    search_fields = ["file_name"]
    ordering_fields = ["created_at", "period_start", "open_exceptions"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[PaymentReconciliation]:
        if getattr(self, "swagger_fake_view", False):
            return PaymentReconciliation.objects.none()
        return selectors.reconciliation_list(user=self.request.user)

    def _upload(self, request) -> Response:
        _body_size_guard(request)
        group_id = request.data.get("group") if hasattr(request.data, "get") else None
        if group_id not in (None, ""):
            official_require(request.user, group_id, field="group")  # outsider 404, member 403, before the file
        data = _validated(PaymentReconciliationCreateInputSerializer, request.data)
        upload = data["file"]
        reconciliation = services.reconciliation_create(
            actor=request.user, group_id=data["group"], file=upload, file_name=upload.name
        )
        output = selectors.reconciliation_get(user=request.user, reconciliation_id=reconciliation.pk)
        return Response(
            PaymentReconciliationSerializer(output, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request={"multipart/form-data": PaymentReconciliationCreateInputSerializer},
        responses={201: PaymentReconciliationSerializer},
    )
    def create(self, request, *args, **kwargs):
        """Upload a statement and reconcile it. 400 on "file" for a bad or too large file; 409 for the same file."""
        return self._upload(request)

    @extend_schema(
        request={"multipart/form-data": PaymentReconciliationCreateInputSerializer},
        responses={201: PaymentReconciliationSerializer},
    )
    @action(detail=False, methods=["post"])
    def auto_reconcile(self, request):
        """(Legacy name) The same upload as POST /reconciliations/."""
        return self._upload(request)


class ReconciliationExceptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Statement rows and transactions that did not match. Resolve each with {id}/resolve/: post (a pay-in missing in
    ChamaHub is recorded and held in suspense, to allocate via /transactions/{id}/allocate/), link (to a transaction
    of the group) or review (with a note).
    """

    serializer_class = ReconciliationExceptionSerializer
    filterset_class = ReconciliationExceptionFilterSet
    search_fields = ["receipt_number", "phone", "details"]
    ordering_fields = ["id", "completed_at", "statement_amount", "chamahub_amount"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[ReconciliationException]:
        if getattr(self, "swagger_fake_view", False):
            return ReconciliationException.objects.none()
        return selectors.reconciliation_exception_list(user=self.request.user)

    @extend_schema(request=ReconciliationExceptionResolveInputSerializer, responses=ReconciliationExceptionSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Close an open exception: post, link or review. 409 once it is resolved."""
        exception = self.get_object()
        data = _validated(ReconciliationExceptionResolveInputSerializer, request.data)
        services.reconciliation_exception_resolve(
            actor=request.user,
            exception_id=exception.pk,
            action=data["action"],
            transaction_id=data.get("transaction"),
            note=data.get("note", ""),
        )
        output = selectors.reconciliation_exception_get(user=request.user, exception_id=exception.pk)
        return Response(ReconciliationExceptionSerializer(output, context=self.get_serializer_context()).data)
