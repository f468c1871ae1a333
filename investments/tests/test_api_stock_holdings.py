"""Stock holdings: each is an EQUITY investment; price updates are valuations, sales are SELLs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from finance.choices import AccountKind
from finance.models import JournalEntry
from investments.models import Investment, InvestmentTransaction, StockHolding
from investments.tests.factories import API, balance, entry_legs

pytestmark = pytest.mark.django_db
C, INV, INC = AccountKind.CASH, AccountKind.INVESTMENTS, AccountKind.INVESTMENT_INCOME


def _create(world, **overrides) -> dict:
    payload = {
        "group": world.group.id,
        "stock_symbol": "scom",
        "stock_name": "Safaricom PLC",
        "shares_quantity": 100,
        "purchase_price_per_share": "25.50",
        "current_price_per_share": "30.00",
        "cdsc_account_number": "CDS-123",
        "purchase_date": timezone.localdate().isoformat(),
        **overrides,
    }
    response = world.client().post(f"{API}/stock-holdings/", payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_makes_a_linked_equity_investment_and_posts_the_buy(world):
    body = _create(world)
    assert (body["stock_symbol"], body["exchange"], body["status"]) == ("SCOM", "NSE", "ACTIVE")
    assert body["total_purchase_value"] == "2550.00"
    assert body["current_total_value"] == "3000.00"
    assert body["profit_loss"] == "450.00"
    assert body["profit_loss_percentage"] == "17.65"  # 450 / 2,550
    investment = Investment.objects.get(pk=body["investment"])
    assert (investment.investment_type, investment.principal_amount) == ("EQUITY", Decimal("2550.00"))
    buy = InvestmentTransaction.objects.get(investment=investment, transaction_type="BUY")
    assert entry_legs(buy.journal_entry_id) == {INV: Decimal("2550.00"), C: Decimal("-2550.00")}


def test_update_price_is_a_valuation(world):
    body = _create(world)
    entries = JournalEntry.objects.count()
    response = world.client().post(
        f"{API}/stock-holdings/{body['id']}/update_price/", {"current_price_per_share": "28.00"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["current_total_value"] == "2800.00"
    assert response.json()["current_price_per_share"] == "28.00"
    assert JournalEntry.objects.count() == entries
    assert Investment.objects.get(pk=body["investment"]).current_value == Decimal("2800.00")


def test_sell_releases_the_cost_of_the_shares_sold(world):
    body = _create(world)
    response = world.client().post(
        f"{API}/stock-holdings/{body['id']}/sell/", {"shares_quantity": 40, "price_per_share": "32.00"}, format="json"
    )
    assert response.status_code == 200, response.json()
    out = response.json()
    # Marked to 32: value 3,200. Proceeds 40 × 32 = 1,280; cost = 2,550 × 1,280/3,200 = 1,020; gain 260.
    assert out["shares_quantity"] == 60
    assert (out["total_purchase_value"], out["current_total_value"]) == ("1530.00", "1920.00")
    sell = InvestmentTransaction.objects.get(investment_id=body["investment"], transaction_type="SELL")
    assert entry_legs(sell.journal_entry_id) == {
        C: Decimal("1280.00"),
        INV: Decimal("-1020.00"),
        INC: Decimal("-260.00"),
    }
    assert balance(world.group, INV) == Decimal("1530.00")

    rest = world.client().post(
        f"{API}/stock-holdings/{body['id']}/sell/", {"shares_quantity": 60, "price_per_share": "20.00"}, format="json"
    )
    assert rest.status_code == 200, rest.json()
    assert (rest.json()["shares_quantity"], rest.json()["status"]) == (0, "SOLD")
    assert balance(world.group, INV) == Decimal("0.00")
    assert balance(world.group, INC) == Decimal("-70.00")  # +260, then 60 × 20 − 1,530 = −330


def test_selling_more_shares_than_held_is_400_and_writes_nothing(world):
    body = _create(world)
    counts = (JournalEntry.objects.count(), InvestmentTransaction.objects.count())
    response = world.client().post(
        f"{API}/stock-holdings/{body['id']}/sell/", {"shares_quantity": 101, "price_per_share": "30.00"}, format="json"
    )
    assert response.status_code == 400
    assert "shares_quantity" in response.json()["fields"]
    assert (JournalEntry.objects.count(), InvestmentTransaction.objects.count()) == counts
    assert StockHolding.objects.get(pk=body["id"]).shares_quantity == 100


def test_buy_more_shares_averages_the_cost(world):
    body = _create(world, current_price_per_share="25.50")
    response = world.client().post(
        f"{API}/stock-holdings/{body['id']}/buy/", {"shares_quantity": 50, "price_per_share": "31.50"}, format="json"
    )
    assert response.status_code == 200, response.json()
    out = response.json()
    assert out["shares_quantity"] == 150
    assert out["total_purchase_value"] == "4125.00"  # 2,550 + 1,575
    assert out["purchase_price_per_share"] == "27.50"
    assert out["current_total_value"] == "4725.00"  # 150 × 31.50
    assert balance(world.group, INV) == Decimal("4125.00")


def test_a_second_open_holding_of_the_same_symbol_is_409(world):
    _create(world)
    response = world.client().post(
        f"{API}/stock-holdings/",
        {
            "group": world.group.id,
            "stock_symbol": "SCOM",
            "stock_name": "Safaricom",
            "shares_quantity": 1,
            "purchase_price_per_share": "20.00",
            "purchase_date": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 409
    assert "stock_symbol" in response.json()["fields"]
    assert StockHolding.objects.count() == 1


def test_share_trades_cannot_bypass_the_holding(world):
    body = _create(world)
    response = world.client().post(
        f"{API}/investment-transactions/",
        {
            "investment": body["investment"],
            "transaction_type": "SELL",
            "amount": "100.00",
            "transaction_date": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert "transaction_type" in response.json()["fields"]
    world.record(body["investment"], "DIVIDEND", "150.00")  # dividends are fine


def test_holdings_cannot_be_edited_or_deleted(world):
    body = _create(world)
    client = world.client("chair")
    assert client.patch(f"{API}/stock-holdings/{body['id']}/", {"shares_quantity": 5}, format="json").status_code == 405
    assert client.delete(f"{API}/stock-holdings/{body['id']}/").status_code == 405
