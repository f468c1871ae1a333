"""Filters for the investment lists. Foreign keys filter by id (no lookup query, no existence leak)."""

from __future__ import annotations

import django_filters

from chamahub.api.filters import IdFilter
from investments.choices import InvestmentStatus, InvestmentTransactionType, InvestmentType
from investments.models import Investment, InvestmentTransaction, Portfolio, StockHolding


class InvestmentFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    portfolio = IdFilter(field_name="portfolio_id")
    investment_type = django_filters.ChoiceFilter(choices=InvestmentType.choices)
    status = django_filters.ChoiceFilter(choices=InvestmentStatus.choices)

    class Meta:
        model = Investment
        fields = ["group", "portfolio", "investment_type", "status"]


class InvestmentTransactionFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    investment = IdFilter(field_name="investment_id")
    transaction_type = django_filters.ChoiceFilter(choices=InvestmentTransactionType.choices)
    date_from = django_filters.DateFilter(field_name="transaction_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="transaction_date", lookup_expr="lte")

    class Meta:
        model = InvestmentTransaction
        fields = ["group", "investment", "transaction_type", "date_from", "date_to"]


class StockHoldingFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    stock_symbol = django_filters.CharFilter(lookup_expr="iexact")
    exchange = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = StockHolding
        fields = ["group", "stock_symbol", "exchange"]


class PortfolioFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    is_default = django_filters.BooleanFilter()

    class Meta:
        model = Portfolio
        fields = ["group", "is_default"]
