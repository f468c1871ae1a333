"""Investments through the API: the legacy create payload posts its BUY; edits never move money."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chamahub import extensions
from chamahub.models import OutboxEvent
from chamahub.money import to_money
from finance.choices import AccountKind
from finance.models import JournalEntry
from finance.selectors.ledger import trial_balance
from investments.models import Investment, InvestmentTransaction, Portfolio
from investments.tests.factories import API, balance, entry_legs, legacy_payload

pytestmark = pytest.mark.django_db


def test_create_with_legacy_payload_posts_initial_buy(world):
    body = world.create_investment()

    assert body["status"] == "ACTIVE"
    assert body["principal_amount"] == body["amount_invested"] == "10000.00"
    assert body["current_value"] == "10000.00"
    assert body["investment_date"] == body["purchase_date"] == timezone.localdate().isoformat()
    assert body["roi"] == body["roi_percentage"] == "0.00"
    assert body["profit_loss"] == "0.00"
    assert body["returns"] == "0.00"
    assert body["expected_return"] == "1050.00"  # 10,000 × 10.5% for one year (no maturity date)
    txns = list(InvestmentTransaction.objects.filter(investment_id=body["id"]))
    assert [(t.transaction_type, t.amount) for t in txns] == [("BUY", Decimal("10000.00"))]
    assert entry_legs(txns[0].journal_entry_id) == {
        AccountKind.INVESTMENTS: Decimal("10000.00"),
        AccountKind.CASH: Decimal("-10000.00"),
    }
    assert balance(world.group, AccountKind.CASH) == Decimal("990000.00")
    assert to_money(trial_balance(group_id=world.group.id)) == 0  # SQLite SUM is a float
    names = list(OutboxEvent.objects.filter(group_id=world.group.id).values_list("name", flat=True))
    assert "investment.created" in names
    assert "investment.transaction_recorded" in names


def test_ledger_investments_balance_equals_sum_of_principal(world):
    world.create_investment(principal_amount="10000.00", current_value="10000.00")
    world.create_investment(name="KCB fixed deposit", investment_type="FIXED_DEPOSIT", principal_amount="25000.50")
    world.create_investment(name="T-bill 91", investment_type="TREASURY_BILL", principal_amount="49999.99")

    listed = world.client("member").get(f"{API}/investments/", {"group": world.group.id}).json()["results"]
    total = sum(Decimal(i["principal_amount"]) for i in listed)
    assert total == Decimal("85000.49")
    assert balance(world.group, AccountKind.INVESTMENTS) == total


def test_stated_current_value_is_recorded_as_a_valuation_not_a_posting(world):
    body = world.create_investment(principal_amount="10000.00", current_value="10400.00")
    assert body["current_value"] == "10400.00"
    assert body["profit_loss"] == "400.00"
    assert body["roi"] == "4.00"
    types = list(
        InvestmentTransaction.objects.filter(investment_id=body["id"])
        .order_by("id")
        .values_list("transaction_type", "journal_entry")
    )
    assert types[0][0] == "BUY" and types[0][1] is not None
    assert types[1] == ("VALUATION", None)
    assert balance(world.group, AccountKind.INVESTMENTS) == Decimal("10000.00")


def test_current_value_defaults_to_principal_and_empty_maturity_date_is_accepted(world):
    payload = legacy_payload(world.group, maturity_date="")
    del payload["current_value"]
    response = world.client().post(f"{API}/investments/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["current_value"] == "10000.00"
    assert response.json()["maturity_date"] is None


def test_expected_return_runs_to_maturity(world):
    today = timezone.localdate()
    body = world.create_investment(
        principal_amount="10000.00",
        expected_return_rate="12",
        purchase_date=today.isoformat(),
        maturity_date=(today + timedelta(days=182)).isoformat(),
    )
    assert body["expected_return"] == "598.36"  # 10,000 × 12% × 182/365


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("principal_amount", "0"),
        ("principal_amount", "-100.00"),
        ("principal_amount", "100.001"),
        ("status", "SOLD"),
        ("investment_type", "CRYPTO"),
        ("purchase_date", (timezone.localdate() + timedelta(days=1)).isoformat()),
        ("maturity_date", (timezone.localdate() - timedelta(days=1)).isoformat()),
        ("expected_return_rate", "-1"),
    ],
)
def test_bad_input_is_400_with_a_field_message_and_writes_nothing(world, field, value):
    entries = JournalEntry.objects.count()
    response = world.client().post(f"{API}/investments/", legacy_payload(world.group, **{field: value}), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert Investment.objects.count() == 0
    assert Portfolio.objects.count() == 0
    assert JournalEntry.objects.count() == entries


def test_create_without_enough_cash_is_409_and_writes_nothing(world):
    entries, events = JournalEntry.objects.count(), OutboxEvent.objects.count()
    response = world.client().post(
        f"{API}/investments/", legacy_payload(world.group, principal_amount="1000000.01"), format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_funds"
    assert "principal_amount" in response.json()["fields"]
    assert Investment.objects.count() == 0
    assert Portfolio.objects.count() == 0
    assert JournalEntry.objects.count() == entries
    assert OutboxEvent.objects.count() == events
    assert balance(world.group, AccountKind.CASH) == Decimal("1000000.00")


def test_descriptive_fields_can_be_edited(world):
    body = world.create_investment()
    response = world.client("chair").patch(
        f"{API}/investments/{body['id']}/", {"name": "Renamed fund", "expected_return_rate": "9.25"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Renamed fund"
    assert response.json()["expected_return_rate"] == "9.2500"


@pytest.mark.parametrize("field", ["principal_amount", "current_value", "status", "group", "investment_type"])
def test_money_and_status_change_only_through_transactions(world, field):
    body = world.create_investment()
    value = {"status": "SOLD", "group": world.other_group.id, "investment_type": "OTHER"}.get(field, "99999.00")
    response = world.client().patch(f"{API}/investments/{body['id']}/", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    investment = Investment.objects.get(pk=body["id"])
    assert (investment.principal_amount, investment.current_value, investment.status) == (
        Decimal("10000.00"),
        Decimal("10000.00"),
        "ACTIVE",
    )


def test_investments_cannot_be_deleted(world):
    body = world.create_investment()
    assert world.client("chair").delete(f"{API}/investments/{body['id']}/").status_code == 405
    assert Investment.objects.filter(pk=body["id"]).exists()


def test_valuation_action_changes_value_and_posts_nothing(world):
    body = world.create_investment()
    entries = JournalEntry.objects.count()
    response = world.client().post(
        f"{API}/investments/{body['id']}/valuation/", {"current_value": "12000.00"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["current_value"] == "12000.00"
    assert response.json()["profit_loss"] == "2000.00"
    assert response.json()["roi"] == "20.00"
    assert JournalEntry.objects.count() == entries
    assert balance(world.group, AccountKind.INVESTMENTS) == Decimal("10000.00")


def test_list_filters_search_and_ordering(world):
    world.create_investment(name="Alpha MMF", principal_amount="300.00")
    world.create_investment(name="Beta bond", investment_type="TREASURY_BOND", principal_amount="100.00")
    world.create_investment(name="Gamma deposit", investment_type="FIXED_DEPOSIT", principal_amount="200.00")
    client = world.client("member")

    by_type = client.get(f"{API}/investments/", {"investment_type": "TREASURY_BOND"}).json()["results"]
    assert [i["name"] for i in by_type] == ["Beta bond"]
    searched = client.get(f"{API}/investments/", {"search": "deposit"}).json()["results"]
    assert [i["name"] for i in searched] == ["Gamma deposit"]
    ordered = client.get(f"{API}/investments/", {"ordering": "principal_amount"}).json()["results"]
    assert [i["principal_amount"] for i in ordered] == ["100.00", "200.00", "300.00"]
    assert client.get(f"{API}/investments/", {"group": world.other_group.id}).json()["results"] == []


def test_provider_sums_active_investments_per_group_in_one_query(world, django_assert_num_queries):
    first = world.create_investment(principal_amount="10000.00", current_value="11000.00")
    world.create_investment(name="Second", principal_amount="5000.00", current_value="5000.00")
    world.record(first["id"], "SELL", "11000.00")  # sold out: no longer counted

    with django_assert_num_queries(1):
        summary = extensions.call(
            "group.investments_summary", group_ids=[world.group.id, world.other_group.id], default=None
        )
    assert summary == {
        world.group.id: {"total_investments": Decimal("5000.00"), "invested_cost": Decimal("5000.00")},
        world.other_group.id: {"total_investments": Decimal("0.00"), "invested_cost": Decimal("0.00")},
    }
