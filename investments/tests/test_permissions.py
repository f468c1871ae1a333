"""Permission matrix: a plain member may read but not write (403); an outsider sees nothing (404)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from chamahub.models import OutboxEvent
from finance.models import JournalEntry
from investments.models import Investment, InvestmentTransaction, Portfolio, StockHolding
from investments.tests.factories import API, legacy_payload

pytestmark = pytest.mark.django_db

LISTS = ["investments", "investment-transactions", "stock-holdings", "portfolios"]


@pytest.fixture
def objects(world) -> dict:
    inv = world.create_investment()
    holding = (
        world.client()
        .post(
            f"{API}/stock-holdings/",
            {
                "group": world.group.id,
                "stock_symbol": "EQTY",
                "stock_name": "Equity Group",
                "shares_quantity": 10,
                "purchase_price_per_share": "40.00",
                "purchase_date": timezone.localdate().isoformat(),
            },
            format="json",
        )
        .json()
    )
    return {
        "inv": inv["id"],
        "txn": InvestmentTransaction.objects.filter(investment_id=inv["id"]).first().pk,
        "holding": holding["id"],
        "portfolio": inv["portfolio"],
    }


def _writes(world, o) -> list[tuple[str, str, dict]]:
    today = timezone.localdate().isoformat()
    return [
        ("post", f"{API}/investments/", legacy_payload(world.group)),
        ("patch", f"{API}/investments/{o['inv']}/", {"name": "x"}),
        ("put", f"{API}/investments/{o['inv']}/", {"name": "x"}),
        ("post", f"{API}/investments/{o['inv']}/valuation/", {"current_value": "1.00"}),
        (
            "post",
            f"{API}/investment-transactions/",
            {"investment": o["inv"], "transaction_type": "DIVIDEND", "amount": "5.00", "transaction_date": today},
        ),
        (
            "post",
            f"{API}/stock-holdings/",
            {
                "group": world.group.id,
                "stock_symbol": "KCB",
                "stock_name": "KCB",
                "shares_quantity": 1,
                "purchase_price_per_share": "30.00",
                "purchase_date": today,
            },
        ),
        ("post", f"{API}/stock-holdings/{o['holding']}/update_price/", {"current_price_per_share": "41.00"}),
        ("post", f"{API}/stock-holdings/{o['holding']}/sell/", {"shares_quantity": 1, "price_per_share": "41.00"}),
        ("post", f"{API}/stock-holdings/{o['holding']}/buy/", {"shares_quantity": 1, "price_per_share": "41.00"}),
        ("post", f"{API}/portfolios/", {"group": world.group.id, "name": "New"}),
        ("patch", f"{API}/portfolios/{o['portfolio']}/", {"name": "x"}),
        ("put", f"{API}/portfolios/{o['portfolio']}/", {"name": "x"}),
    ]


def _details(o) -> list[str]:
    return [
        f"{API}/investments/{o['inv']}/",
        f"{API}/investment-transactions/{o['txn']}/",
        f"{API}/stock-holdings/{o['holding']}/",
        f"{API}/portfolios/{o['portfolio']}/",
    ]


def _snapshot():
    return (
        list(Investment.objects.order_by("id").values_list("id", "name", "principal_amount", "current_value")),
        list(StockHolding.objects.order_by("id").values_list("id", "shares_quantity", "current_price_per_share")),
        list(Portfolio.objects.order_by("id").values_list("id", "name")),
        InvestmentTransaction.objects.count(),
        JournalEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


@pytest.mark.parametrize(("who", "expected"), [("member", 403), ("outsider", 404)])
def test_writes_are_refused_and_write_nothing(world, objects, who, expected):
    client = world.client(who)
    before = _snapshot()
    for method, url, payload in _writes(world, objects):
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code == expected, (method, url, response.status_code, response.json())
        assert set(response.json()) == {"code", "message", "fields"}
    assert _snapshot() == before


def test_outsider_gets_404_on_every_detail_and_sees_no_rows(world, objects):
    client = world.client("outsider")
    for url in _details(objects):
        assert client.get(url).status_code == 404, url
    for name in LISTS:
        response = client.get(f"{API}/{name}/")
        assert response.status_code == 200
        assert all(row["group"] != world.group.id for row in response.json()["results"]), name
        assert client.get(f"{API}/{name}/", {"group": world.group.id}).json()["results"] == []


def test_member_reads_everything(world, objects):
    client = world.client("member")
    for url in _details(objects):
        assert client.get(url).status_code == 200, url
    for name in LISTS:
        assert client.get(f"{API}/{name}/").json()["count"] >= 1, name


def test_anonymous_gets_401(world, objects, api_client):
    for name in LISTS:
        assert api_client.get(f"{API}/{name}/").status_code == 401
