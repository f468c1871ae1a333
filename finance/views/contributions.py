"""Contributions API: list/retrieve/create, official actions, CSV export and the contribution schedule."""

from __future__ import annotations

import csv
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from chamahub.exceptions import PermissionDenied
from finance.filters_contributions import ContributionFilterSet
from finance.selectors.contributions import (
    contribution_export_list,
    contribution_group_list,
    contribution_list,
    contribution_schedule_get,
)
from finance.serializers.contributions import (
    ContributionCreateInputSerializer,
    ContributionReasonInputSerializer,
    ContributionScheduleQuerySerializer,
    ContributionScheduleSerializer,
    ContributionSerializer,
)
from finance.services.contributions import (
    contribution_confirm,
    contribution_fail,
    contribution_reconcile,
    contribution_record,
    contribution_reverse,
)
from groups.selectors import group_get, is_official, membership_require, official_group_ids, official_require


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class CSVRenderer(renderers.BaseRenderer):
    """Lets clients ask for text/csv; the export writes its own streaming response."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, (bytes, str)):
            return data
        return json.dumps(data, cls=DjangoJSONEncoder)  # error bodies


class _Echo:
    def write(self, value: str) -> str:
        return value


EXPORT_COLUMNS = [
    "ID",
    "Group",
    "Member",
    "Amount (KES)",
    "Payment Method",
    "Reference Number",
    "Status",
    "Reconciled By",
    "Reconciled At",
    "Notes",
    "Created At",
    "Updated At",
]


def _export_rows(queryset):
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for c in queryset.iterator(chunk_size=500):
        yield writer.writerow(
            [
                c.id,
                c.group.name,
                c.member.full_name,
                c.amount,
                c.payment_method,
                c.reference_number or "",
                c.status,
                c.reconciled_by.full_name if c.reconciled_by else "",
                c.reconciled_at.isoformat() if c.reconciled_at else "",
                c.notes,
                c.created_at.isoformat(),
                c.updated_at.isoformat(),
            ]
        )


_OFFICIAL_ACTION = (
    "Officials of the contribution's group only (403 for plain members, 404 for other groups). Wrong state -> 409."
)


@extend_schema_view(
    list=extend_schema(summary="Contributions: a member sees their own; an official sees their groups'."),
    retrieve=extend_schema(summary="One contribution."),
)
class ContributionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ContributionSerializer
    filterset_class = ContributionFilterSet
    search_fields = ["reference_number", "notes"]
    ordering_fields = ["paid_at", "amount", "created_at"]
    ordering = ["-paid_at", "-id"]
    lookup_value_regex = r"\d+"

    _GROUP_ACTIONS = frozenset({"confirm", "fail", "reverse", "reconcile"})

    def get_queryset(self):
        user = self.request.user
        if self.action in self._GROUP_ACTIONS:
            return contribution_group_list(user=user)  # the service then requires an official (403)
        if self.action == "export":
            return contribution_export_list(user=user)
        return contribution_list(user=user)

    def _out(self, contribution, code=status.HTTP_200_OK) -> Response:
        return Response(ContributionSerializer(contribution).data, status=code)

    @extend_schema(
        summary="Record a contribution",
        description=(
            "A plain member records their own (stays PENDING until an official confirms it). An official may "
            "record for any active member; CASH/BANK records by an official are confirmed at once. MPESA records "
            "stay PENDING until the payment callback. `status` is ignored. Duplicate reference_number -> 409."
        ),
        request=ContributionCreateInputSerializer,
        responses={201: ContributionSerializer},
    )
    def create(self, request: Request) -> Response:
        data = validated(ContributionCreateInputSerializer, request.data)
        contribution = contribution_record(
            actor=request.user,
            group_id=data["group"],
            amount=data["amount"],
            payment_method=data["payment_method"],
            reference_number=data.get("reference_number"),
            notes=data.get("notes", ""),
            period=data.get("period"),
            paid_at=data.get("paid_at"),
            member_id=data.get("member"),
        )
        return self._out(contribution, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Confirm (PENDING -> CONFIRMED; posts to the ledger)",
        description=_OFFICIAL_ACTION,
        request=None,
        responses={200: ContributionSerializer},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk=None) -> Response:
        contribution = self.get_object()
        return self._out(contribution_confirm(contribution_id=contribution.id, actor=request.user))

    @extend_schema(
        summary="Mark failed (PENDING -> FAILED)",
        description=_OFFICIAL_ACTION,
        request=ContributionReasonInputSerializer,
        responses={200: ContributionSerializer},
    )
    @action(detail=True, methods=["post"])
    def fail(self, request: Request, pk=None) -> Response:
        contribution = self.get_object()
        data = validated(ContributionReasonInputSerializer, request.data)
        return self._out(contribution_fail(contribution_id=contribution.id, actor=request.user, reason=data["reason"]))

    @extend_schema(
        summary="Reverse (CONFIRMED -> REVERSED; posts the reversing entry)",
        description=_OFFICIAL_ACTION,
        request=ContributionReasonInputSerializer,
        responses={200: ContributionSerializer},
    )
    @action(detail=True, methods=["post"])
    def reverse(self, request: Request, pk=None) -> Response:
        contribution = self.get_object()
        data = validated(ContributionReasonInputSerializer, request.data)
        return self._out(
            contribution_reverse(contribution_id=contribution.id, actor=request.user, reason=data["reason"])
        )

    @extend_schema(
        summary="Reconcile (first web client): mark checked against the statement; confirms a PENDING one first",
        description=_OFFICIAL_ACTION,
        request=None,
        responses={200: ContributionSerializer},
    )
    @action(detail=True, methods=["post"])
    def reconcile(self, request: Request, pk=None) -> Response:
        contribution = self.get_object()
        return self._out(contribution_reconcile(contribution_id=contribution.id, actor=request.user))

    @extend_schema(
        summary="Export contributions as CSV (officials)",
        description="Columns of the first web client's export; respects the list filters. Officials only.",
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description="CSV file")},
    )
    @action(
        detail=False, methods=["get"], pagination_class=None, renderer_classes=[renderers.JSONRenderer, CSVRenderer]
    )
    def export(self, request: Request):
        group = request.query_params.get("group")
        if group:
            official_require(request.user, group, field="group")
        elif not official_group_ids(request.user):
            raise PermissionDenied("Only officials may export contributions.")
        queryset = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(_export_rows(queryset), content_type="text/csv; charset=utf-8")
        filename = f"contributions_{timezone.localtime():%Y%m%d_%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        summary="Contribution schedule: expected, paid, arrears and late fines per period",
        description=(
            "For each active member of the group (a plain member: only themselves), the periods from "
            "max(cycle start, joined) to today per the group's frequency, with totals."
        ),
        parameters=[
            OpenApiParameter("group", OpenApiTypes.INT, required=True, description="Group id"),
            OpenApiParameter("member", OpenApiTypes.INT, description="Member (user) id; officials only"),
        ],
        responses={200: ContributionScheduleSerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def schedule(self, request: Request) -> Response:
        query = validated(ContributionScheduleQuerySerializer, request.query_params)
        group_id = query["group"]
        membership_require(request.user, group_id, field="group")
        member_id = query.get("member")
        if not is_official(request.user, group_id):
            if member_id not in (None, request.user.pk):
                raise PermissionDenied("Members see only their own schedule.")
            member_id = request.user.pk
        group = group_get(group_id)
        members = contribution_schedule_get(
            group_id=group_id, member_ids=None if member_id is None else [member_id], as_of=timezone.localdate()
        )
        payload = {
            "group": group.id,
            "contribution_frequency": group.contribution_frequency,
            "as_of": timezone.localdate(),
            "members": members,
        }
        return Response(ContributionScheduleSerializer(payload).data)
