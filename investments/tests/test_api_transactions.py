"""Investment transactions: each cash movement is one balanced entry; exact sale arithmetic."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chamahub.models import OutboxEvent
from chamahub.money import to_money
from finance.choices import AccountKind
from finance.models import JournalEntry
from finance.selectors.ledger import trial_balance
from investments.models import Investment, InvestmentTransaction
from investments.tests.factories import API, balance, entry_legs

pytestmark = pytest.mark.django_db
C, INV, INC = AccountKind.CASH, AccountKind.INVESTMENTS, AccountKind.INVESTMENT_INCOME


def _investment(world, investment_id) -> dict:
    return world.client("member").get(f"{API}/investments/{investment_id}/").json()


def test_sell_with_a_gain_releases_cost_pro_rata(world):
    inv = world.create_investment(principal_amount="10000.00", current_value="12000.00")
    txn = world.record(inv["id"], "SELL", "6000.00")

    # cost = 10,000 × 6,000 / 12,000 = 5,000; gain = 6,000 − 5,000 = 1,000
    assert entry_legs(txn["journal_entry"]) == {
        C: Decimal("6000.00"),
        INV: Decimal("-5000.00"),
        INC: Decimal("-1000.00"),
    }
    assert (txn["principal_change"], txn["income_amount"]) == ("-5000.00", "1000.00")
    body = _investment(world, inv["id"])
    assert (body["principal_amount"], body["current_value"], body["status"]) == ("5000.00", "6000.00", "ACTIVE")
    assert body["returns"] == "1000.00"
    assert balance(world.group, INV) == Decimal("5000.00")
    assert balance(world.group, INC) == Decimal("1000.00")
    assert balance(world.group, C) == Decimal("996000.00")
    assert to_money(trial_balance(group_id=world.group.id)) == 0  # SQLite SUM is a float


def test_sell_at_a_loss_debits_investment_income(world):
    inv = world.create_investment(principal_amount="10000.00", current_value="8000.00")
    txn = world.record(inv["id"], "SELL", "2000.00")

    # cost = 10,000 × 2,000 / 8,000 = 2,500; loss = 500
    assert entry_legs(txn["journal_entry"]) == {C: Decimal("2000.00"), INV: Decimal("-2500.00"), INC: Decimal("500.00")}
    body = _investment(world, inv["id"])
    assert (body["principal_amount"], body["current_value"], body["status"]) == ("7500.00", "6000.00", "ACTIVE")
    assert body["returns"] == "-500.00"
    assert balance(world.group, INC) == Decimal("-500.00")
    assert balance(world.group, INV) == Decimal("7500.00")


def test_selling_more_than_the_value_releases_all_cost_and_closes_it(world):
    inv = world.create_investment(principal_amount="10000.00", current_value="10000.00")
    txn = world.record(inv["id"], "SELL", "10500.00")

    assert entry_legs(txn["journal_entry"]) == {
        C: Decimal("10500.00"),
        INV: Decimal("-10000.00"),
        INC: Decimal("-500.00"),
    }
    body = _investment(world, inv["id"])
    assert (body["principal_amount"], body["current_value"], body["status"]) == ("0.00", "0.00", "SOLD")
    assert balance(world.group, INV) == Decimal("0.00")

    entries = JournalEntry.objects.count()
    late = world.client().post(
        f"{API}/investment-transactions/",
        {
            "investment": inv["id"],
            "transaction_type": "DIVIDEND",
            "amount": "10.00",
            "transaction_date": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert late.status_code == 409
    assert late.json()["code"] == "investment_closed"
    assert JournalEntry.objects.count() == entries


def test_maturity_is_a_full_redemption(world):
    inv = world.create_investment(investment_type="TREASURY_BILL", principal_amount="10000.00")
    txn = world.record(inv["id"], "MATURITY", "10800.00")
    assert entry_legs(txn["journal_entry"]) == {
        C: Decimal("10800.00"),
        INV: Decimal("-10000.00"),
        INC: Decimal("-800.00"),
    }
    body = _investment(world, inv["id"])
    assert (body["principal_amount"], body["current_value"], body["status"]) == ("0.00", "0.00", "MATURED")
    assert body["returns"] == "800.00"


def test_dividend_and_interest_are_income(world):
    inv = world.create_investment(principal_amount="10000.00")
    dividend = world.record(inv["id"], "DIVIDEND", "750.00")
    interest = world.record(inv["id"], "INTEREST", "125.50")

    assert entry_legs(dividend["journal_entry"]) == {C: Decimal("750.00"), INC: Decimal("-750.00")}
    assert entry_legs(interest["journal_entry"]) == {C: Decimal("125.50"), INC: Decimal("-125.50")}
    body = _investment(world, inv["id"])
    assert (body["principal_amount"], body["current_value"]) == ("10000.00", "10000.00")
    assert body["returns"] == "875.50"
    assert balance(world.group, INC) == Decimal("875.50")


def test_top_up_buy_adds_to_cost_and_value(world):
    inv = world.create_investment(principal_amount="10000.00", current_value="10400.00")
    txn = world.record(inv["id"], "BUY", "2500.00")
    assert entry_legs(txn["journal_entry"]) == {INV: Decimal("2500.00"), C: Decimal("-2500.00")}
    body = _investment(world, inv["id"])
    assert (body["principal_amount"], body["current_value"]) == ("12500.00", "12900.00")


def test_valuation_posts_nothing(world):
    inv = world.create_investment(principal_amount="10000.00")
    entries, postings_cash = JournalEntry.objects.count(), balance(world.group, C)
    txn = world.record(inv["id"], "VALUATION", "9100.00")
    assert txn["journal_entry"] is None
    assert JournalEntry.objects.count() == entries
    assert balance(world.group, C) == postings_cash
    body = _investment(world, inv["id"])
    assert (body["principal_amount"], body["current_value"], body["profit_loss"]) == ("10000.00", "9100.00", "-900.00")
    assert body["roi"] == "-9.00"


def test_buy_without_enough_cash_is_409_and_writes_nothing(world):
    inv = world.create_investment(principal_amount="10000.00")  # cash left: 990,000.00
    counts = (JournalEntry.objects.count(), InvestmentTransaction.objects.count(), OutboxEvent.objects.count())
    response = world.client().post(
        f"{API}/investment-transactions/",
        {
            "investment": inv["id"],
            "transaction_type": "BUY",
            "amount": "990000.01",
            "transaction_date": timezone.localdate().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_funds"
    assert "amount" in response.json()["fields"]
    assert (JournalEntry.objects.count(), InvestmentTransaction.objects.count(), OutboxEvent.objects.count()) == counts
    investment = Investment.objects.get(pk=inv["id"])
    assert (investment.principal_amount, investment.current_value) == (Decimal("10000.00"), Decimal("10000.00"))
    assert balance(world.group, C) == Decimal("990000.00")

    world.record(inv["id"], "BUY", "990000.00")  # exactly the cash held is fine
    assert balance(world.group, C) == Decimal("0.00")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "0"),
        ("amount", "-5.00"),
        ("amount", "10.005"),
        ("transaction_type", "GIFT"),
        ("transaction_date", (timezone.localdate() + timedelta(days=1)).isoformat()),
        ("transaction_date", (timezone.localdate() - timedelta(days=400)).isoformat()),  # before the purchase
    ],
)
def test_bad_transactions_are_400_and_write_nothing(world, field, value):
    inv = world.create_investment()
    counts = (JournalEntry.objects.count(), InvestmentTransaction.objects.count())
    payload = {
        "investment": inv["id"],
        "transaction_type": "DIVIDEND",
        "amount": "100.00",
        "transaction_date": timezone.localdate().isoformat(),
        field: value,
    }
    response = world.client().post(f"{API}/investment-transactions/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert (JournalEntry.objects.count(), InvestmentTransaction.objects.count()) == counts


def test_transactions_are_immutable(world):
    inv = world.create_investment()
    txn = InvestmentTransaction.objects.get(investment_id=inv["id"])
    url = f"{API}/investment-transactions/{txn.pk}/"
    client = world.client("chair")
    assert client.put(url, {"amount": "1.00"}, format="json").status_code == 405
    assert client.patch(url, {"amount": "1.00"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    txn.refresh_from_db()
    assert txn.amount == Decimal("10000.00")


def test_transaction_list_filters(world):
    a = world.create_investment(name="A")
    b = world.create_investment(name="B")
    world.record(a["id"], "DIVIDEND", "10.00")
    world.record(b["id"], "INTEREST", "20.00")
    client = world.client("member")
    rows = client.get(f"{API}/investment-transactions/", {"investment": a["id"]}).json()["results"]
    assert sorted(r["transaction_type"] for r in rows) == ["BUY", "DIVIDEND"]
    rows = client.get(f"{API}/investment-transactions/", {"transaction_type": "INTEREST"}).json()["results"]
    assert [(r["investment_name"], r["amount"]) for r in rows] == [("B", "20.00")]
    rows = client.get(f"{API}/investment-transactions/", {"group": world.other_group.id}).json()["results"]
    assert rows == []


def test_a_sequence_keeps_the_ledger_in_step(world):
    inv = world.create_investment(principal_amount="3333.33", current_value="3333.33")
    world.record(inv["id"], "VALUATION", "4000.00")
    world.record(inv["id"], "SELL", "1234.56")
    world.record(inv["id"], "BUY", "100.01")
    world.record(inv["id"], "SELL", "777.77")
    world.record(inv["id"], "DIVIDEND", "33.33")
    investment = Investment.objects.get(pk=inv["id"])
    assert balance(world.group, INV) == investment.principal_amount
    income = sum(InvestmentTransaction.objects.filter(investment=investment).values_list("income_amount", flat=True))
    assert balance(world.group, INC) == income
    assert to_money(trial_balance(group_id=world.group.id)) == 0  # SQLite SUM is a float
