"""Each list endpoint runs the same number of queries for 5 rows as for 25."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from investments import services
from investments.tests.factories import API

pytestmark = pytest.mark.django_db


def _seed(world, start: int, stop: int) -> None:
    """Rows start..stop-1 of every kind: a portfolio, an investment in it, a dividend, a stock holding."""
    today = timezone.localdate()
    for i in range(start, stop):
        portfolio = services.portfolio_create(group_id=world.group.id, name=f"P{i}")
        investment = services.investment_create(
            group_id=world.group.id,
            user=world.treasurer,
            investment_type=["MONEY_MARKET", "TREASURY_BOND", "EQUITY", "SACCO_SHARES"][i % 4],
            name=f"Investment {i}",
            principal_amount=Decimal("100.00"),
            current_value=Decimal("110.00"),
            purchase_date=today,
            portfolio_id=portfolio.pk,
        )
        services.investment_transaction_record(
            investment=investment,
            user=world.treasurer,
            transaction_type="DIVIDEND",
            amount=Decimal("3.00"),
            transaction_date=today,
        )
        services.stock_holding_create(
            group_id=world.group.id,
            user=world.treasurer,
            stock_symbol=f"S{i}",
            stock_name=f"Stock {i}",
            shares_quantity=10,
            purchase_price_per_share=Decimal("5.00"),
            purchase_date=today,
        )


def _count(world, url: str, rows: int) -> int:
    client = world.client("member")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"page_size": 100})
    assert response.status_code == 200
    assert response.json()["count"] >= rows
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", ["investments", "investment-transactions", "stock-holdings", "portfolios"])
def test_list_query_count_does_not_grow_with_rows(world, name):
    url = f"{API}/{name}/"
    _seed(world, 0, 5)
    small = _count(world, url, 5)
    _seed(world, 5, 25)
    large = _count(world, url, 25)
    assert small == large, (small, large)
