"""FilterSets for the books: the transactions feed, ledger accounts and journal entries."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q
from rest_framework.exceptions import ValidationError

from chamahub.api.filters import CollectionOrderingFilter as OrderingFilter
from chamahub.api.filters import IdFilter
from finance.choices import AccountKind, AccountType, EntryKind
from finance.models import JournalEntry, LedgerAccount, Posting

# Legacy feed types ("loan", "fine") name a family of entry kinds.
_ENTRY_FAMILIES = {
    "LOAN": [k for k in EntryKind if k.startswith("LOAN_")],
    "FINE": [k for k in EntryKind if k.startswith("FINE_")],
}
TRANSACTION_STATUSES = ("completed", "reversed")


def _entry_kinds(value: str, *, field: str) -> list[str]:
    key = value.strip().upper()
    if key in EntryKind.values:
        return [key]
    if key in _ENTRY_FAMILIES:
        return _ENTRY_FAMILIES[key]
    allowed = ", ".join([k.lower() for k in EntryKind] + [f.lower() for f in _ENTRY_FAMILIES])
    raise ValidationError({field: [f"Unknown type {value!r}. Choose one of: {allowed}."]})


def _account_kind(value: str, *, field: str) -> str:
    key = value.strip().upper()
    if key not in AccountKind.values:
        allowed = ", ".join(k.lower() for k in AccountKind)
        raise ValidationError({field: [f"Unknown account kind {value!r}. Choose one of: {allowed}."]})
    return key


class AliasOrderingFilter(OrderingFilter):
    """OrderingFilter that maps a public ordering name onto an annotation (view.ordering_aliases)."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        aliases = getattr(view, "ordering_aliases", {})
        if not ordering or not aliases:
            return ordering
        mapped = []
        for term in ordering:
            desc = term.startswith("-")
            name = term.lstrip("-")
            mapped.append(("-" if desc else "") + aliases.get(name, name))
        return mapped


class TransactionFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    type = django_filters.CharFilter(
        method="filter_type",
        help_text="Entry kind, any case (contribution, loan_disbursement…); 'loan'/'fine' match the family.",
    )
    category = django_filters.CharFilter(
        method="filter_category", help_text="Account kind, any case (member_savings…)."
    )
    account_kind = django_filters.CharFilter(method="filter_category", help_text="Alias of category.")
    member = IdFilter(
        method="filter_member", help_text="Lines on the member's accounts and lines of entries about the member."
    )
    date_from = django_filters.DateFilter(field_name="entry_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="entry_date", lookup_expr="lte")
    status = django_filters.CharFilter(method="filter_status", help_text="completed | reversed (any case).")
    entry = IdFilter(field_name="entry_id")

    class Meta:
        model = Posting
        fields = ["group", "type", "category", "account_kind", "member", "date_from", "date_to", "status", "entry"]

    def filter_type(self, queryset, name, value):
        return queryset.filter(entry__kind__in=_entry_kinds(value, field=name)) if value else queryset

    def filter_category(self, queryset, name, value):
        return queryset.filter(account__kind=_account_kind(value, field=name)) if value else queryset

    def filter_member(self, queryset, name, value):
        return queryset.filter(Q(member_id=value) | Q(member__isnull=True, entry__member_id=value))

    def filter_status(self, queryset, name, value):
        key = (value or "").strip().lower()
        if not key:
            return queryset
        if key not in TRANSACTION_STATUSES:
            raise ValidationError({name: ["Choose completed or reversed."]})
        return queryset.filter(is_reversed=(key == "reversed"))


class LedgerAccountFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    kind = django_filters.CharFilter(method="filter_kind", help_text="Account kind, any case.")
    account_type = django_filters.ChoiceFilter(choices=AccountType.choices)
    member = IdFilter(field_name="member_id")

    class Meta:
        model = LedgerAccount
        fields = ["group", "kind", "account_type", "member"]

    def filter_kind(self, queryset, name, value):
        return queryset.filter(kind=_account_kind(value, field=name)) if value else queryset


class JournalEntryFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    kind = django_filters.CharFilter(method="filter_kind", help_text="Entry kind, any case; 'loan'/'fine' families.")
    date_from = django_filters.DateFilter(field_name="entry_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="entry_date", lookup_expr="lte")
    member = IdFilter(method="filter_member", help_text="Entries about the member or touching one of their accounts.")
    reference = django_filters.CharFilter(field_name="reference")

    class Meta:
        model = JournalEntry
        fields = ["group", "kind", "date_from", "date_to", "member", "reference"]

    def filter_kind(self, queryset, name, value):
        return queryset.filter(kind__in=_entry_kinds(value, field=name)) if value else queryset

    def filter_member(self, queryset, name, value):
        touches = Exists(Posting.objects.filter(entry_id=OuterRef("pk"), member_id=value))
        return queryset.filter(Q(member_id=value) | touches)
