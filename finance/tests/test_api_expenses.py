"""Expenses through the API: request -> approvals -> payment from cash, refusals, export, scoping."""

from __future__ import annotations

import csv
import io

import pytest

from finance.choices import AccountKind
from finance.models import Expense, JournalEntry
from finance.selectors.ledger import account_balance
from finance.services.approvals import approval_sign
from finance.services.expenses import expense_create
from finance.tests.loan_fixtures import (
    EXPENSES,
    SIGNATURES,
    D,
    assert_books_balance,
    count_queries,
    events_named,
    fresh,
    give_savings,
    loan_rows_snapshot,
    make_chama,
    outsider,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chama():
    c = make_chama()
    give_savings(c.group, c.member, "1000")
    return c


def _create(client, chama, **body):
    body = {"group": chama.group.id, "category": "WELFARE", "description": "Hospital visit", "amount": "600.00", **body}
    return client.post(EXPENSES, body, format="json")


def _approved(chama, amount="600"):
    expense = expense_create(
        group_id=chama.group.id, requested_by=fresh(chama.member), category="OTHER", description="x", amount=D(amount)
    )
    for official in (chama.chair, chama.treasurer):
        approval_sign(approval_id=expense.approval.id, approver=fresh(official), approved=True)
    return expense


def test_member_requests_officials_approve_treasurer_pays(make_client, chama):
    r = _create(make_client(chama.member), chama, notes="for Wanjiku")
    assert r.status_code == 201, r.json()
    expense = r.json()
    assert (expense["status"], expense["requested_by"], expense["approval"]["required_approvals"]) == (
        "PENDING",
        chama.member.id,
        2,
    )
    approval_id = expense["approval"]["id"]
    for official in (chama.chair, chama.secretary):
        body = {"approval": approval_id, "approved": True}
        assert make_client(official).post(SIGNATURES, body, format="json").status_code == 201
    assert make_client(chama.member).get(f"{EXPENSES}{expense['id']}/").json()["status"] == "APPROVED"

    r = make_client(chama.treasurer).post(f"{EXPENSES}{expense['id']}/pay/")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "DISBURSED" and r.json()["disbursed_at"]
    group_id = chama.group.id
    assert account_balance(group_id=group_id, kind=AccountKind.CASH) == D("400.00")
    assert account_balance(group_id=group_id, kind=AccountKind.EXPENSES) == D("600.00")
    assert JournalEntry.objects.filter(reference=f"expense:{expense['id']}").count() == 1
    assert len(events_named("expense.paid")) == 1
    assert_books_balance(chama.group)
    assert make_client(chama.treasurer).post(f"{EXPENSES}{expense['id']}/pay/").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [({"amount": "0"}, "amount"), ({"amount": "1.234"}, "amount"), ({"category": "PARTY"}, "category")],
)
def test_bad_expense_input_is_400(make_client, chama, body, field):
    before = loan_rows_snapshot()
    r = _create(make_client(chama.member), chama, **body)
    assert r.status_code == 400 and field in r.json()["fields"]
    assert loan_rows_snapshot() == before


def test_paying_before_approval_or_without_cash_is_409_and_nothing_written(make_client, chama):
    pending = _create(make_client(chama.member), chama).json()
    before = loan_rows_snapshot()
    r = make_client(chama.treasurer).post(f"{EXPENSES}{pending['id']}/pay/")
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    assert loan_rows_snapshot() == before
    big = _approved(chama, amount="1000.01")
    before = loan_rows_snapshot()
    r = make_client(chama.treasurer).post(f"{EXPENSES}{big.id}/pay/")
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    assert loan_rows_snapshot() == before
    assert Expense.objects.get(pk=big.id).status == "APPROVED"


def test_a_plain_member_cannot_pay(make_client, chama):
    expense = _approved(chama)
    before = loan_rows_snapshot()
    assert make_client(chama.member).post(f"{EXPENSES}{expense.id}/pay/").status_code == 403
    assert loan_rows_snapshot() == before


def test_outsiders_get_404(make_client, chama):
    expense = _approved(chama)
    client = make_client(outsider())
    before = loan_rows_snapshot()
    assert client.get(EXPENSES).json()["count"] == 0
    assert client.get(f"{EXPENSES}{expense.id}/").status_code == 404
    assert client.post(f"{EXPENSES}{expense.id}/pay/").status_code == 404
    r = _create(client, chama)
    assert r.status_code == 404 and "group" in r.json()["fields"]
    assert loan_rows_snapshot() == before


def test_filters_and_csv_export_for_officials(make_client, chama):
    _approved(chama)
    _create(make_client(chama.member), chama, description="Tent hire", category="OPERATIONAL")
    member = make_client(chama.guarantor)
    assert member.get(f"{EXPENSES}?category=OPERATIONAL").json()["count"] == 1
    assert member.get(f"{EXPENSES}?status=APPROVED&group={chama.group.id}").json()["count"] == 1
    assert member.get(f"{EXPENSES}?search=tent").json()["count"] == 1
    assert member.get(f"{EXPENSES}export/").status_code == 403

    r = make_client(chama.chair).get(f"{EXPENSES}export/?category=OPERATIONAL")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0][0] == "ID" and len(rows) == 2 and rows[1][3] == "Tent hire"
    assert make_client(outsider()).get(f"{EXPENSES}export/").content.decode().count("\n") == 1


def test_expense_list_query_count_does_not_grow(make_client, chama):
    def add(n):
        for _ in range(n):
            _approved(chama, amount="1")

    client = make_client(chama.member)
    add(5)
    small, body = count_queries(client, f"{EXPENSES}?page_size=100")
    assert body["count"] == 5
    add(20)
    large, body = count_queries(client, f"{EXPENSES}?page_size=100")
    assert body["count"] == 25 and small == large
