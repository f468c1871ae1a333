"""Share-out API: preview a cycle, post it (officials), list and retrieve posted share-outs."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from finance.filters_contributions import ShareOutFilterSet
from finance.selectors.shareout import member_names_get, share_out_list
from finance.serializers.shareout import (
    ShareOutCreateInputSerializer,
    ShareOutPreviewSerializer,
    ShareOutSerializer,
)
from finance.services.shareout import share_out_post, share_out_preview
from finance.views.contributions import validated
from groups.selectors import membership_require


def _preview_payload(plan) -> dict:
    names = member_names_get(group_id=plan.group_id, user_ids=[a.member_id for a in plan.allocations])
    return {
        "group": plan.group_id,
        "cycle_start": plan.cycle_start,
        "cycle_end": plan.cycle_end,
        "days": plan.days,
        "pool": {
            "interest_income": plan.pool_by_kind["INTEREST_INCOME"],
            "fees_income": plan.pool_by_kind["FEES_INCOME"],
            "fines_income": plan.pool_by_kind["FINES_INCOME"],
            "total": plan.pool,
        },
        "total_savings_days": plan.total_weight,
        "allocations": [
            {
                "member_id": a.member_id,
                "member_name": names.get(a.member_id, ""),
                "savings_days": a.savings_days,
                "share_percent": a.share_percent,
                "amount": a.amount,
            }
            for a in plan.allocations
        ],
    }


@extend_schema_view(
    list=extend_schema(summary="Posted share-outs of your groups, with allocations."),
    retrieve=extend_schema(summary="One share-out with its allocations."),
)
class ShareOutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ShareOutSerializer
    filterset_class = ShareOutFilterSet
    search_fields = ["group__name"]
    ordering_fields = ["cycle_end", "cycle_start", "created_at", "total_distributed"]
    ordering = ["-cycle_end", "-id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return share_out_list(user=self.request.user)

    @extend_schema(
        summary="Post a share-out (officials)",
        description=(
            "Distributes the cycle's net interest, fees and fines income to members pro rata to savings × days "
            "held, in one journal entry. Investment income is kept by the group. Overlapping a posted share-out "
            "or an empty pool -> 409."
        ),
        request=ShareOutCreateInputSerializer,
        responses={201: ShareOutSerializer},
    )
    def create(self, request: Request) -> Response:
        data = validated(ShareOutCreateInputSerializer, request.data)
        share_out = share_out_post(
            actor=request.user, group_id=data["group"], cycle_start=data["cycle_start"], cycle_end=data["cycle_end"]
        )
        share_out = self.get_queryset().get(pk=share_out.pk)
        return Response(ShareOutSerializer(share_out).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Preview a share-out (active members)",
        description="The same computation the post uses, without writing anything.",
        parameters=[
            OpenApiParameter("group", OpenApiTypes.INT, required=True),
            OpenApiParameter("cycle_start", OpenApiTypes.DATE, required=True),
            OpenApiParameter("cycle_end", OpenApiTypes.DATE, required=True),
        ],
        responses={200: ShareOutPreviewSerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def preview(self, request: Request) -> Response:
        query = validated(ShareOutCreateInputSerializer, request.query_params)
        membership_require(request.user, query["group"], field="group")
        plan = share_out_preview(
            group_id=query["group"], cycle_start=query["cycle_start"], cycle_end=query["cycle_end"]
        )
        return Response(ShareOutPreviewSerializer(_preview_payload(plan)).data)
