from datetime import date
from decimal import Decimal

import pytest

from finance.choices import AccountKind
from finance.models import LedgerAccount
from finance.selectors.ledger import account_balance
from finance.services.ledger import journal_entry_reverse
from finance.tests.books_data import contribution, count_queries, expense, fine, loan, repayment
from groups.choices import Role
from groups.tests.factories import add_member, chair_of, make_group

pytestmark = pytest.mark.django_db

MEMBER_URL = "/api/v1/finance/statements/member/"
GROUP_URL = "/api/v1/finance/statements/group/"
D = Decimal


@pytest.fixture
def books():
    group = make_group()
    chair = chair_of(group)
    alice = add_member(group).user
    bob = add_member(group).user
    contribution(group, alice, "1000", date(2024, 1, 5))
    contribution(group, alice, "1000", date(2024, 2, 5))
    wrong = contribution(group, alice, "700", date(2024, 2, 20))
    journal_entry_reverse(entry=wrong, entry_date=date(2024, 2, 21))
    contribution(group, alice, "1500", date(2024, 3, 5))
    contribution(group, bob, "2000", date(2024, 1, 6))
    loan(group, alice, "3000", date(2024, 2, 1))
    repayment(group, alice, "1000", "100", date(2024, 3, 1))
    fine(group, alice, "50", date(2024, 2, 10))
    expense(group, "200", date(2024, 3, 2))
    return group, chair, alice, bob


def _sum_lines(data):
    return sum((D(line["credit"]) - D(line["debit"]) for line in data["lines"]), D("0"))


def test_member_statement_defaults_to_own_savings_and_agrees_with_the_ledger(make_client, books):
    group, _, alice, _ = books
    response = make_client(alice).get(MEMBER_URL, {"group": group.id})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["member"] == alice.id and data["account"] == "savings" and data["currency"] == "KES"
    assert data["member_name"] == alice.get_full_name()
    assert data["opening_balance"] == "0.00"
    # 4 contributions + the reversal, ordered by entry date
    assert [line["kind"] for line in data["lines"]] == [
        "CONTRIBUTION",
        "CONTRIBUTION",
        "CONTRIBUTION",
        "REVERSAL",
        "CONTRIBUTION",
    ]
    assert [line["balance"] for line in data["lines"]] == ["1000.00", "2000.00", "2700.00", "2000.00", "3500.00"]
    assert data["total_credits"] == "4200.00" and data["total_debits"] == "700.00"
    account = LedgerAccount.objects.get(group=group, kind=AccountKind.MEMBER_SAVINGS, member=alice)
    assert D(data["closing_balance"]) == account.normal_balance == D("3500.00")
    assert D(data["opening_balance"]) + _sum_lines(data) == D(data["closing_balance"])


def test_date_windows_split_the_statement_and_chain(make_client, books):
    group, _, alice, _ = books
    client = make_client(alice)
    first = client.get(MEMBER_URL, {"group": group.id, "date_to": "2024-02-20"}).json()
    second = client.get(MEMBER_URL, {"group": group.id, "date_from": "2024-02-21"}).json()
    assert first["closing_balance"] == "2700.00"
    assert second["opening_balance"] == first["closing_balance"]
    assert [line["date"] for line in second["lines"]] == ["2024-02-21", "2024-03-05"]
    assert D(second["opening_balance"]) + _sum_lines(second) == D(second["closing_balance"]) == D("3500.00")
    middle = client.get(MEMBER_URL, {"group": group.id, "date_from": "2024-02-01", "date_to": "2024-02-28"}).json()
    assert middle["opening_balance"] == "1000.00" and middle["closing_balance"] == "2000.00"
    assert middle["date_from"] == "2024-02-01" and middle["date_to"] == "2024-02-28"
    assert len(middle["lines"]) == 3


def test_loans_and_fines_statements_are_debit_normal(make_client, books):
    group, _, alice, _ = books
    client = make_client(alice)
    loans = client.get(MEMBER_URL, {"group": group.id, "account": "loans"}).json()
    assert [line["balance"] for line in loans["lines"]] == ["3000.00", "2000.00"]
    assert (
        loans["closing_balance"]
        == "2000.00"
        == f"{account_balance(group_id=group.id, kind='LOANS_RECEIVABLE', member_id=alice.id):.2f}"
    )
    fines = client.get(MEMBER_URL, {"group": group.id, "account": "FINES_RECEIVABLE"}).json()
    assert fines["account"] == "fines" and fines["closing_balance"] == "50.00"


def test_member_with_no_account_gets_an_empty_statement(make_client, books):
    group, _, _, bob = books
    data = make_client(bob).get(MEMBER_URL, {"group": group.id, "account": "loans"}).json()
    assert data["lines"] == [] and data["closing_balance"] == "0.00"


def test_plain_member_cannot_see_another_members_statement(make_client, books):
    group, _, alice, bob = books
    response = make_client(bob).get(MEMBER_URL, {"group": group.id, "member": alice.id})
    assert response.status_code == 403
    assert "member" in response.json()["fields"]


def test_official_sees_any_member_and_404_for_non_members(make_client, books):
    group, chair, alice, _ = books
    client = make_client(chair)
    response = client.get(MEMBER_URL, {"group": group.id, "member": alice.id})
    assert response.status_code == 200 and response.json()["closing_balance"] == "3500.00"
    stranger = add_member(make_group()).user
    assert client.get(MEMBER_URL, {"group": group.id, "member": stranger.id}).status_code == 404


def test_outsiders_get_404_on_both_statements(make_client, books):
    group, *_ = books
    outsider = add_member(make_group()).user
    client = make_client(outsider)
    assert client.get(MEMBER_URL, {"group": group.id}).status_code == 404
    assert client.get(GROUP_URL, {"group": group.id}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "group"),
        ({"date_from": "2024-13-01"}, "date_from"),
        ({"date_from": "2024-03-01", "date_to": "2024-02-01"}, "date_to"),
        ({"account": "shares"}, "account"),
        ({"account": "cash"}, "account"),  # a group-level kind is not a member account
    ],
)
def test_bad_statement_parameters_answer_400_with_the_field(make_client, books, params, field):
    group, _, alice, _ = books
    query = {} if field == "group" else {"group": group.id, **params}
    response = make_client(alice).get(MEMBER_URL, query)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_group_cash_book_agrees_with_the_ledger(make_client, books):
    group, _, _, bob = books
    client = make_client(bob)  # any active member may see the group statement
    data = client.get(GROUP_URL, {"group": group.id}).json()
    assert data["account"] == "cash" and data["account_kind"] == "CASH"
    cash = account_balance(group_id=group.id, kind=AccountKind.CASH)
    # 6200 contributed − 700 reversed − 3000 lent + 1100 repaid − 200 spent
    assert D(data["closing_balance"]) == cash == D("3400.00")
    assert D(data["opening_balance"]) + sum(
        (D(line["debit"]) - D(line["credit"]) for line in data["lines"]), D("0")
    ) == D(data["closing_balance"])
    upper = client.get(GROUP_URL, {"group": group.id, "account": "CASH", "date_from": "2024-03-01"}).json()
    assert upper["closing_balance"] == data["closing_balance"]
    assert upper["opening_balance"] == "1000.00"
    income = client.get(GROUP_URL, {"group": group.id, "account": "interest_income"}).json()
    assert income["closing_balance"] == "100.00"


def test_group_statement_of_a_member_kind_is_for_officials_only(make_client, books):
    group, chair, _, bob = books
    data = make_client(chair).get(GROUP_URL, {"group": group.id, "account": "savings"}).json()
    accounts = LedgerAccount.objects.filter(group=group, kind=AccountKind.MEMBER_SAVINGS)
    assert D(data["closing_balance"]) == sum(a.normal_balance for a in accounts) == D("5500.00")  # 3500 + 2000
    assert make_client(bob).get(GROUP_URL, {"group": group.id, "account": "savings"}).status_code == 403


def test_statement_query_count_does_not_grow_with_lines(make_client):
    group = make_group()
    member = add_member(group, role=Role.MEMBER).user
    contribution(group, member, "10", date(2024, 1, 1))
    client = make_client(member)
    few, response = count_queries(lambda: client.get(MEMBER_URL, {"group": group.id, "date_from": "2024-01-01"}))
    assert len(response.json()["lines"]) == 1
    for day in range(2, 28):
        contribution(group, member, "10", date(2024, 1, day))
    many, response = count_queries(lambda: client.get(MEMBER_URL, {"group": group.id, "date_from": "2024-01-01"}))
    assert len(response.json()["lines"]) == 27
    assert few == many
    cash_few, _ = count_queries(lambda: client.get(GROUP_URL, {"group": group.id, "date_to": "2024-01-01"}))
    cash_many, _ = count_queries(lambda: client.get(GROUP_URL, {"group": group.id}))
    assert cash_few == cash_many
