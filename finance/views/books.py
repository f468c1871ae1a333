"""
The books, read-only: statements, the transactions feed, wallets, group summaries, ledger accounts
and journal entries. Nothing here writes; every figure comes from the ledger.

Access:
- statements: any ACTIVE member; a plain member gets only their own member statement (another
  member's -> 403, since members of a group can already see who the members are); officials get
  any member, current or former; outsiders 404.
- transactions: officials see every line of their groups; plain members the lines on their own accounts.
- wallets / group summaries: the caller's own ACTIVE groups; another group answers 404.
- ledger-accounts / journal-entries: officials only. A plain member gets 403 (their lines are in the
  statements and the transactions feed); a group the caller does not belong to answers 404.
"""

from __future__ import annotations

import csv
import io
import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.pagination import _positive_int
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from chamahub.api.filters import CollectionFilterBackend, CollectionSearchFilter
from chamahub.api.pagination import StandardPagination
from chamahub.api.schema import ErrorSerializer
from chamahub.exceptions import NotFound, PermissionDenied
from chamahub.money import CURRENCY, ZERO
from finance.choices import PER_MEMBER_KINDS, AccountKind
from finance.filters_books import (
    AliasOrderingFilter,
    JournalEntryFilterSet,
    LedgerAccountFilterSet,
    TransactionFilterSet,
)
from finance.selectors.books import (
    KIND_ALIASES,
    account_kind_parse,
    group_summaries,
    journal_entry_list,
    journal_entry_visible,
    ledger_account_list,
    ledger_account_visible,
    posting_feed_list,
    statement_build,
    statement_member_get,
    wallet_rows,
)
from finance.selectors.ledger import signed, type_sign
from finance.serializers.books import (
    GroupStatementSerializer,
    GroupSummarySerializer,
    JournalEntrySerializer,
    LedgerAccountSerializer,
    MemberStatementSerializer,
    StatementQuerySerializer,
    TransactionSerializer,
    WalletGroupSerializer,
    WalletSerializer,
)
from groups.selectors import active_group_ids, is_official, membership_require, official_group_ids, official_require

EXPORT_MAX_ROWS = 10_000
_GROUP_ID_PATH = OpenApiParameter("group_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The group's id.")


def _user_name(user) -> str:
    return user.get_full_name() or user.phone_number


# --- Statements -------------------------------------------------------------------------------------


class GroupStatementQuerySerializer(StatementQuerySerializer):
    """group, account (default cash; any group-level kind, any case), date_from, date_to."""

    member = None


def _statement_payload(statement, *, account_label: str) -> dict:
    return {
        "group": statement.group_id,
        "account": account_label,
        "account_kind": statement.kind,
        "currency": CURRENCY,
        "date_from": statement.date_from.isoformat() if statement.date_from else None,
        "date_to": statement.date_to.isoformat() if statement.date_to else None,
        "opening_balance": f"{statement.opening_balance:.2f}",
        "lines": statement.lines,
        "total_debits": f"{statement.total_debits:.2f}",
        "total_credits": f"{statement.total_credits:.2f}",
        "closing_balance": f"{statement.closing_balance:.2f}",
    }


class StatementViewSet(viewsets.GenericViewSet):
    """
    Statements that always agree with the ledger: opening balance (Σ postings before date_from),
    every line of the window ordered by (entry_date, id), closing balance = opening + lines.
    No pagination: the whole window is returned (at most 10,000 lines, else 400 — ask for a shorter window).
    """

    filter_backends: list = []
    pagination_class = None
    serializer_class = MemberStatementSerializer

    @extend_schema(
        parameters=[StatementQuerySerializer],
        responses={200: MemberStatementSerializer, 404: ErrorSerializer},
        summary="A member's statement (savings, loans or fines)",
        description=(
            "`member` defaults to the caller and `account` to savings. A plain member may only ask for "
            "their own (another member -> 403); officials may ask for any current or former member."
        ),
    )
    @action(detail=False, methods=["get"])
    def member(self, request):
        query = StatementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        group_id = params["group"]
        membership_require(request.user, group_id, field="group")
        member_id = params.get("member") or request.user.pk
        kind = account_kind_parse(params.get("account"), default=AccountKind.MEMBER_SAVINGS, member_level=True)
        if member_id == request.user.pk:
            member_name = _user_name(request.user)
        else:
            if not is_official(request.user, group_id):
                raise PermissionDenied(
                    "Only the group's officials may see another member's statement.",
                    fields={"member": ["You may only see your own statement."]},
                )
            target = statement_member_get(group_id=group_id, member_id=member_id)
            if target is None:
                raise NotFound("Member not found.", fields={"member": ["Not a member of this group."]})
            member_name = _user_name(target.user)
        statement = statement_build(
            group_id=group_id,
            kind=kind,
            member_id=member_id,
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
        )
        payload = _statement_payload(statement, account_label=KIND_ALIASES[kind])
        payload.update(member=member_id, member_name=member_name)
        return Response(payload)

    @extend_schema(
        parameters=[GroupStatementQuerySerializer],
        responses={200: GroupStatementSerializer, 404: ErrorSerializer},
        summary="A group account's statement (the cash book by default)",
        description=(
            "`account` is any group-level account kind, any case (cash, mpesa_clearing, interest_income…). "
            "Officials may also ask for a per-member kind (savings, loans, fines): the control view over "
            "every member's account of that kind; plain members get 403 for those."
        ),
    )
    @action(detail=False, methods=["get"])
    def group(self, request):
        query = GroupStatementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        group_id = params["group"]
        membership_require(request.user, group_id, field="group")
        kind = account_kind_parse(params.get("account"), default=AccountKind.CASH, member_level=False)
        if kind in PER_MEMBER_KINDS and not is_official(request.user, group_id):
            raise PermissionDenied(
                "Only officials may see every member's accounts together.",
                fields={"account": ["Use the member statement for your own account."]},
            )
        statement = statement_build(
            group_id=group_id,
            kind=kind,
            member_id=None,
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
        )
        return Response(_statement_payload(statement, account_label=kind.lower()))


# --- Transactions feed ------------------------------------------------------------------------------


class TransactionPagination(StandardPagination):
    """20 per page; `page_size` (or the first web client's `limit`) up to 100."""

    legacy_page_size_query_param = "limit"

    def get_page_size(self, request):
        params = request.query_params
        if self.page_size_query_param not in params and self.legacy_page_size_query_param in params:
            try:
                return _positive_int(params[self.legacy_page_size_query_param], strict=True, cutoff=self.max_page_size)
            except (KeyError, ValueError):
                pass
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        parameters.append(
            {
                "name": self.legacy_page_size_query_param,
                "required": False,
                "in": "query",
                "description": "Alias of page_size (first web client).",
                "schema": {"type": "integer"},
            }
        )
        return parameters


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, (str, bytes)):
            return data
        return json.dumps(data, default=str)  # an error body on the CSV route


_EXPORT_COLUMNS = [
    "ID",
    "Entry",
    "Date",
    "Type",
    "Category",
    "Account",
    "Group",
    "Member",
    "Member Name",
    "Description",
    "Reference",
    "Debit",
    "Credit",
    "Amount (KES)",
    "Balance After",
    "Status",
    "Created At",
]


@extend_schema_view(
    list=extend_schema(summary="Ledger lines the caller may see", responses=TransactionSerializer(many=True)),
    retrieve=extend_schema(summary="One ledger line", responses=TransactionSerializer),
)
class TransactionViewSet(viewsets.ReadOnlyModelViewSet):
    """
    The transactions feed: postings, newest first. Officials see every posting of their groups;
    plain members see the postings on their own accounts. `amount` and `balance_after` are in the
    account's natural sign.
    """

    serializer_class = TransactionSerializer
    filterset_class = TransactionFilterSet
    filter_backends = [CollectionFilterBackend, CollectionSearchFilter, AliasOrderingFilter]
    search_fields = ["entry__description", "memo", "entry__reference"]
    ordering_fields = ["entry_date", "id", "amount"]
    ordering_aliases = {"amount": "natural_amount"}
    pagination_class = TransactionPagination

    def get_queryset(self):
        return posting_feed_list(user=self.request.user)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if "ordering" in self.request.query_params:  # a stable order for pagination
            queryset = queryset.order_by(*queryset.query.order_by, "-id")
        return queryset

    @extend_schema(
        summary="CSV export of the filtered feed (at most 10,000 rows)",
        filters=True,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer], pagination_class=None)
    def export(self, request):
        rows = list(self.filter_queryset(self.get_queryset())[: EXPORT_MAX_ROWS + 1])
        truncated = len(rows) > EXPORT_MAX_ROWS
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_EXPORT_COLUMNS)
        for p in rows[:EXPORT_MAX_ROWS]:
            member = p.member if p.member_id else p.entry.member
            writer.writerow(
                [
                    p.id,
                    p.entry_id,
                    p.entry_date.isoformat(),
                    p.entry.kind.lower(),
                    p.account.kind,
                    p.account.code,
                    p.group.name,
                    member.pk if member else "",
                    _user_name(member) if member else "",
                    p.memo or p.entry.description,
                    p.entry.reference or "",
                    f"{p.debit:.2f}",
                    f"{p.credit:.2f}",
                    f"{p.natural_amount:.2f}",
                    f"{signed(p.balance_after, type_sign(p.account.account_type)):.2f}",
                    "reversed" if p.is_reversed else "completed",
                    p.entry.posted_at.isoformat(),
                ]
            )
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d_%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="transactions_{stamp}.csv"'
        if truncated:
            response["X-Export-Truncated"] = "true"
        return response


# --- Wallets ----------------------------------------------------------------------------------------


class WalletViewSet(viewsets.GenericViewSet):
    """The caller's balances in each of their ACTIVE groups, from the ledger (savings, loans, fines)."""

    serializer_class = WalletGroupSerializer
    filter_backends: list = []
    lookup_field = "group_id"
    lookup_value_regex = r"\d+"

    @extend_schema(summary="One row per active group of the caller", responses=WalletGroupSerializer(many=True))
    def list(self, request):
        page = self.paginate_queryset(wallet_rows(user=request.user))
        return self.get_paginated_response(WalletGroupSerializer(page, many=True).data)

    @extend_schema(parameters=[_GROUP_ID_PATH], responses=WalletGroupSerializer, summary="The caller's row in a group")
    def retrieve(self, request, group_id=None):
        membership_require(request.user, group_id)
        rows = wallet_rows(user=request.user, group_ids=[int(group_id)])
        if not rows:
            raise NotFound("Group not found.")
        return Response(WalletGroupSerializer(rows[0]).data)

    @extend_schema(responses=WalletSerializer, summary="The caller's wallet: totals across active groups")
    @action(detail=False, methods=["get"])
    def my_wallet(self, request):
        user = request.user
        rows = wallet_rows(user=user)
        savings = sum((r["savings"] for r in rows), ZERO)
        loans = sum((r["loans_outstanding"] for r in rows), ZERO)
        fines = sum((r["fines_outstanding"] for r in rows), ZERO)
        data = {
            "id": user.pk,
            "user": user.pk,
            "user_email": user.email,
            "user_name": _user_name(user),
            "balance": savings,
            "loans_outstanding": loans,
            "fines_outstanding": fines,
            "net": savings - loans - fines,
            "currency": CURRENCY,
            "groups": rows,
            "created_at": user.created_at,
            "updated_at": timezone.now(),
        }
        return Response(WalletSerializer(data).data)


# --- Group summary ----------------------------------------------------------------------------------


class GroupSummaryViewSet(viewsets.GenericViewSet):
    """The books of a group at a glance (balances by account kind, income, counts, trial balance)."""

    serializer_class = GroupSummarySerializer
    filter_backends: list = []
    lookup_field = "group_id"
    lookup_value_regex = r"\d+"

    @extend_schema(summary="Summaries of the caller's active groups", responses=GroupSummarySerializer(many=True))
    def list(self, request):
        group_ids = sorted(active_group_ids(request.user))
        page = self.paginate_queryset(group_ids)
        return self.get_paginated_response(GroupSummarySerializer(group_summaries(group_ids=page), many=True).data)

    @extend_schema(parameters=[_GROUP_ID_PATH], responses=GroupSummarySerializer, summary="One group's summary")
    def retrieve(self, request, group_id=None):
        membership_require(request.user, group_id)
        rows = group_summaries(group_ids=[int(group_id)])
        if not rows:
            raise NotFound("Group not found.")
        return Response(GroupSummarySerializer(rows[0]).data)


# --- Ledger accounts and journal entries (officials) ------------------------------------------------


class _OfficialsOnlyMixin:
    """List: officials' groups only (?group= of a plain member -> 403). Detail: 404 outside, 403 plain member."""

    def list(self, request, *args, **kwargs):
        group = request.query_params.get("group")
        if group:
            official_require(request.user, group, field="group")
        elif not official_group_ids(request.user):
            raise PermissionDenied("Only the group's officials (chairperson, treasurer, secretary) see the ledger.")
        return super().list(request, *args, **kwargs)

    def get_object(self):
        obj = get_object_or_404(self.visible_queryset(), pk=self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        if not is_official(self.request.user, obj.group_id):
            raise PermissionDenied("Only the group's officials (chairperson, treasurer, secretary) see the ledger.")
        return obj


class LedgerAccountViewSet(_OfficialsOnlyMixin, viewsets.ReadOnlyModelViewSet):
    """The chart of accounts with balances in each account's natural sign (officials only)."""

    serializer_class = LedgerAccountSerializer
    filterset_class = LedgerAccountFilterSet
    search_fields = ["code", "name"]
    ordering_fields = ["code", "kind", "balance", "id"]

    def get_queryset(self):
        return ledger_account_list(user=self.request.user)

    def visible_queryset(self):
        return ledger_account_visible(user=self.request.user)


class JournalEntryViewSet(_OfficialsOnlyMixin, viewsets.ReadOnlyModelViewSet):
    """Journal entries with their postings (officials only). Posted entries never change."""

    serializer_class = JournalEntrySerializer
    filterset_class = JournalEntryFilterSet
    search_fields = ["description", "reference"]
    ordering_fields = ["entry_date", "id", "posted_at"]

    def get_queryset(self):
        return journal_entry_list(user=self.request.user)

    def visible_queryset(self):
        return journal_entry_visible(user=self.request.user)


__all__ = [
    "GroupSummaryViewSet",
    "JournalEntryViewSet",
    "LedgerAccountViewSet",
    "StatementViewSet",
    "TransactionViewSet",
    "WalletViewSet",
]
