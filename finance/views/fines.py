"""Fines API: list/retrieve, manual fines, payments, waivers and a run of the late-fine rule."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from finance.filters_contributions import FineFilterSet
from finance.selectors.contributions import fine_group_list, fine_list
from finance.serializers.contributions import (
    FineChargeLateInputSerializer,
    FineChargeLateResultSerializer,
    FineCreateInputSerializer,
    FinePayInputSerializer,
    FineSerializer,
    FineWaiveInputSerializer,
)
from finance.services.fines import fine_charge, fine_pay, fine_waive, late_fines_charge_for_group
from finance.views.contributions import validated

_OFFICIAL_ACTION = (
    "Officials of the fine's group only (403 for plain members, 404 for other groups). Not UNPAID -> 409."
)


@extend_schema_view(
    list=extend_schema(summary="Fines: a member sees their own; an official sees their groups'."),
    retrieve=extend_schema(summary="One fine."),
)
class FineViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = FineSerializer
    filterset_class = FineFilterSet
    search_fields = ["reason"]
    ordering_fields = ["created_at", "amount", "period"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if self.action in ("pay", "waive"):
            return fine_group_list(user=self.request.user)  # the service then requires an official (403)
        return fine_list(user=self.request.user)

    @extend_schema(
        summary="Charge a manual fine (officials)",
        description="Posts Dr fines receivable (member) / Cr fines income.",
        request=FineCreateInputSerializer,
        responses={201: FineSerializer},
    )
    def create(self, request: Request) -> Response:
        data = validated(FineCreateInputSerializer, request.data)
        fine = fine_charge(
            actor=request.user,
            group_id=data["group"],
            member_id=data["member"],
            amount=data["amount"],
            reason=data["reason"],
        )
        return Response(FineSerializer(fine).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record a payment toward a fine (officials); more than outstanding -> 400",
        description=_OFFICIAL_ACTION,
        request=FinePayInputSerializer,
        responses={200: FineSerializer},
    )
    @action(detail=True, methods=["post"])
    def pay(self, request: Request, pk=None) -> Response:
        fine = self.get_object()
        data = validated(FinePayInputSerializer, request.data)
        fine = fine_pay(
            fine_id=fine.id, actor=request.user, amount=data["amount"], payment_method=data["payment_method"]
        )
        return Response(FineSerializer(fine).data)

    @extend_schema(
        summary="Waive the unpaid remainder of a fine (officials)",
        description=_OFFICIAL_ACTION,
        request=FineWaiveInputSerializer,
        responses={200: FineSerializer},
    )
    @action(detail=True, methods=["post"])
    def waive(self, request: Request, pk=None) -> Response:
        fine = self.get_object()
        data = validated(FineWaiveInputSerializer, request.data)
        return Response(FineSerializer(fine_waive(fine_id=fine.id, actor=request.user, reason=data["reason"])).data)

    @extend_schema(
        summary="Charge late-contribution fines for a group now (officials)",
        description="Runs the daily late-fine rule for one group; a period is fined at most once.",
        request=FineChargeLateInputSerializer,
        responses={200: FineChargeLateResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="charge_late", pagination_class=None, filter_backends=[])
    def charge_late(self, request: Request) -> Response:
        data = validated(FineChargeLateInputSerializer, request.data)
        charged = late_fines_charge_for_group(actor=request.user, group_id=data["group"])
        return Response(FineChargeLateResultSerializer({"charged": charged}).data)
