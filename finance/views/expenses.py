"""Expenses: any member requests, officials approve (approval-signatures) and pay."""

from __future__ import annotations

import csv

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from chamahub.exceptions import PermissionDenied
from finance.filters_loans import ExpenseFilterSet
from finance.models import Expense
from finance.selectors.loans import expense_list
from finance.serializers.approvals import ExpenseCreateInputSerializer, ExpenseSerializer
from finance.services.expenses import expense_create, expense_pay
from groups.selectors import official_group_ids

EXPORT_COLUMNS = [
    "ID",
    "Group",
    "Category",
    "Description",
    "Amount (KES)",
    "Status",
    "Requested By",
    "Requested At",
    "Approved At",
    "Disbursed At",
    "Notes",
]


class ExpenseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Group expenses. Any active member may request one (it opens an EXPENSE approval for the officials);
    once APPROVED an official pays it from the group's cash (409 when there is not enough).
    """

    serializer_class = ExpenseSerializer
    filterset_class = ExpenseFilterSet
    search_fields = ["description", "notes"]
    ordering_fields = ["requested_at", "amount", "status"]
    ordering = ["-requested_at", "-id"]

    def get_queryset(self) -> QuerySet[Expense]:
        if getattr(self, "swagger_fake_view", False):
            return Expense.objects.none()
        return expense_list(user=self.request.user)

    @extend_schema(request=ExpenseCreateInputSerializer, responses={201: ExpenseSerializer})
    def create(self, request, *args, **kwargs):
        data = ExpenseCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        expense = expense_create(
            group_id=data.validated_data["group"],
            requested_by=request.user,
            category=data.validated_data["category"],
            description=data.validated_data["description"],
            amount=data.validated_data["amount"],
            notes=data.validated_data["notes"],
        )
        out = self.get_queryset().get(pk=expense.pk)
        return Response(ExpenseSerializer(out).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ExpenseSerializer})
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        """An official pays an APPROVED expense: Dr EXPENSES / Cr CASH."""
        expense = self.get_object()
        expense_pay(expense_id=expense.id, actor=request.user)
        return Response(ExpenseSerializer(self.get_queryset().get(pk=expense.pk)).data)

    @extend_schema(
        request=None,
        responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description="CSV of expenses.")},
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """CSV of the expenses of the groups where the caller is an official (respects the list filters)."""
        groups = official_group_ids(request.user)
        if not groups:
            raise PermissionDenied("Only the group's officials may export expenses.")
        rows = self.filter_queryset(self.get_queryset()).filter(group_id__in=groups)
        stamp = timezone.localtime().strftime("%Y%m%d_%H%M%S")
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="expenses_{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(EXPORT_COLUMNS)
        for e in rows.iterator(chunk_size=500):
            writer.writerow(
                [
                    e.id,
                    e.group.name,
                    e.category,
                    e.description,
                    e.amount,
                    e.status,
                    e.requested_by.full_name,
                    e.requested_at.isoformat(),
                    e.approved_at.isoformat() if e.approved_at else "",
                    e.disbursed_at.isoformat() if e.disbursed_at else "",
                    e.notes,
                ]
            )
        return response
