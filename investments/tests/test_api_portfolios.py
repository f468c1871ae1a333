"""Portfolios: figures aggregated from the investments; the default portfolio comes first."""

from __future__ import annotations

from decimal import Decimal

import pytest

from investments.models import Portfolio
from investments.tests.factories import API

pytestmark = pytest.mark.django_db


def _portfolios(world, who="member") -> list[dict]:
    response = world.client(who).get(f"{API}/portfolios/", {"group": world.group.id})
    assert response.status_code == 200
    return response.json()["results"]


def test_first_investment_creates_the_default_portfolio_listed_first(world):
    assert _portfolios(world) == []
    world.client().post(f"{API}/portfolios/", {"group": world.group.id, "name": "Aardvark fund"}, format="json")
    inv = world.create_investment()
    rows = _portfolios(world)
    assert [(r["name"], r["is_default"]) for r in rows] == [("Main portfolio", True), ("Aardvark fund", False)]
    assert inv["portfolio"] == rows[0]["id"]
    assert rows[0]["total_invested"] == "10000.00"
    assert rows[1]["total_invested"] == "0.00"
    world.create_investment(name="Second")
    assert Portfolio.objects.filter(group=world.group, is_default=True).count() == 1


def test_portfolio_figures_worked_example(world):
    world.create_investment(investment_type="MONEY_MARKET", principal_amount="50000.00", current_value="50000.00")
    world.create_investment(investment_type="TREASURY_BOND", principal_amount="30000.00", current_value="30000.00")
    equity = world.create_investment(investment_type="EQUITY", principal_amount="20000.00", current_value="20000.00")

    main = _portfolios(world)[0]
    assert (main["total_invested"], main["current_value"], main["total_return"]) == ("100000.00", "100000.00", "0.00")
    assert (main["cash_percentage"], main["bonds_percentage"], main["stocks_percentage"]) == ("50.00", "30.00", "20.00")
    assert (main["real_estate_percentage"], main["other_percentage"]) == ("0.00", "0.00")
    assert main["is_diversified"] is True

    world.record(equity["id"], "VALUATION", "26000.00")
    world.record(equity["id"], "DIVIDEND", "1500.00")
    main = _portfolios(world)[0]
    # value 106,000: 50,000 → 47.17%, 30,000 → 28.30%, 26,000 → 24.53% (sum 100.00)
    assert (main["total_invested"], main["current_value"]) == ("100000.00", "106000.00")
    assert (main["total_return"], main["total_return_percentage"]) == ("6000.00", "6.00")
    assert (main["cash_percentage"], main["bonds_percentage"], main["stocks_percentage"]) == ("47.17", "28.30", "24.53")
    assert main["ytd_return"] == "1.50"  # 1,500 income this year ÷ 100,000 invested
    assert main["investment_count"] == 3

    world.record(equity["id"], "SELL", "26000.00")  # realised gain 6,000; leaves the figures
    main = _portfolios(world)[0]
    assert (main["total_invested"], main["current_value"]) == ("80000.00", "80000.00")
    assert (main["cash_percentage"], main["bonds_percentage"], main["stocks_percentage"]) == ("62.50", "37.50", "0.00")
    assert main["is_diversified"] is False  # money market above 60%
    assert main["ytd_return"] == "9.38"  # (1,500 + 6,000) ÷ 80,000
    percentages = [main[f"{c}_percentage"] for c in ("stocks", "bonds", "real_estate", "cash", "other")]
    assert sum(Decimal(p) for p in percentages) == Decimal("100.00")


def test_investments_in_a_named_portfolio_count_there(world):
    created = world.client().post(
        f"{API}/portfolios/", {"group": world.group.id, "name": "Property", "description": "Land"}, format="json"
    )
    assert created.status_code == 201, created.json()
    property_id = created.json()["id"]
    world.create_investment(
        investment_type="REAL_ESTATE", principal_amount="40000.00", current_value="40000.00", portfolio=property_id
    )
    world.create_investment(investment_type="SACCO_SHARES", principal_amount="5000.00", current_value="5000.00")
    rows = {r["name"]: r for r in _portfolios(world)}
    assert rows["Property"]["real_estate_percentage"] == "100.00"
    assert rows["Property"]["total_invested"] == "40000.00"
    assert rows["Main portfolio"]["other_percentage"] == "100.00"
    assert rows["Main portfolio"]["total_invested"] == "5000.00"

    other_group_portfolio = Portfolio.objects.create(group=world.other_group, name="Theirs")
    response = world.client().post(
        f"{API}/investments/",
        {
            "group": world.group.id,
            "investment_type": "OTHER",
            "name": "X",
            "principal_amount": "1.00",
            "purchase_date": "2020-01-01",
            "portfolio": other_group_portfolio.id,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "portfolio" in response.json()["fields"]


def test_portfolio_create_and_update_rules(world):
    client = world.client()
    assert (
        client.post(f"{API}/portfolios/", {"group": world.group.id, "name": "Growth"}, format="json").status_code == 201
    )
    dup = client.post(f"{API}/portfolios/", {"group": world.group.id, "name": "growth"}, format="json")
    assert dup.status_code == 400 and "name" in dup.json()["fields"]
    portfolio = Portfolio.objects.get(name="Growth")
    renamed = client.patch(f"{API}/portfolios/{portfolio.pk}/", {"name": "Long-term growth"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Long-term growth"
    moved = client.patch(f"{API}/portfolios/{portfolio.pk}/", {"group": world.other_group.id}, format="json")
    assert moved.status_code == 400 and "group" in moved.json()["fields"]
    assert client.delete(f"{API}/portfolios/{portfolio.pk}/").status_code == 405
    portfolio.refresh_from_db()
    assert (portfolio.group_id, portfolio.name) == (world.group.id, "Long-term growth")
