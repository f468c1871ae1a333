"""Filter sets for contributions, fines and share-outs."""

from __future__ import annotations

import django_filters

from chamahub.api.filters import IdFilter
from finance.choices import LEGACY_CONTRIBUTION_STATUS, ContributionStatus, FineKind, FineStatus, PaymentMethod
from finance.models import Contribution, Fine, ShareOut

_STATUS_CHOICES = [
    *ContributionStatus.choices,
    *[(k, f"{k} (legacy: {v.value})") for k, v in LEGACY_CONTRIBUTION_STATUS.items()],
]


class ContributionFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    member = IdFilter(field_name="member_id")
    status = django_filters.ChoiceFilter(
        choices=_STATUS_CHOICES,
        method="filter_status",
        help_text="PENDING, CONFIRMED, FAILED, REVERSED; the first client's COMPLETED and RECONCILED mean CONFIRMED.",
    )
    payment_method = django_filters.ChoiceFilter(choices=PaymentMethod.choices)
    period = django_filters.DateFilter(field_name="period")
    date_from = django_filters.DateFilter(
        field_name="paid_at", lookup_expr="date__gte", help_text="paid_at on or after"
    )
    date_to = django_filters.DateFilter(field_name="paid_at", lookup_expr="date__lte", help_text="paid_at on or before")

    class Meta:
        model = Contribution
        fields = ["group", "member", "status", "payment_method", "period", "date_from", "date_to"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(status=LEGACY_CONTRIBUTION_STATUS.get(value, value))


class FineFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    member = IdFilter(field_name="member_id")
    status = django_filters.ChoiceFilter(choices=FineStatus.choices)
    kind = django_filters.ChoiceFilter(choices=FineKind.choices)

    class Meta:
        model = Fine
        fields = ["group", "member", "status", "kind"]


class ShareOutFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")

    class Meta:
        model = ShareOut
        fields = ["group", "status"]
