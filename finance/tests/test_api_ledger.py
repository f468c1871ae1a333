"""Group summaries and the officials' read-only ledger routes (ledger-accounts, journal-entries)."""

from datetime import date
from decimal import Decimal

import pytest

from finance.choices import AccountKind, LoanStatus
from finance.models import JournalEntry, LedgerAccount, Loan
from finance.services.ledger import chart_of_accounts_create, journal_entry_reverse
from finance.tests.books_data import contribution, count_queries, expense, fine, loan, repayment, share_out
from groups.choices import Role
from groups.tests.factories import add_member, chair_of, make_group

pytestmark = pytest.mark.django_db

SUMMARY_URL = "/api/v1/finance/group-summaries/"
ACCOUNTS_URL = "/api/v1/finance/ledger-accounts/"
ENTRIES_URL = "/api/v1/finance/journal-entries/"


@pytest.fixture
def books():
    group = make_group(name="Umoja")
    chair = chair_of(group)
    treasurer = add_member(group, role=Role.TREASURER).user
    alice = add_member(group).user
    bob = add_member(group).user
    contribution(group, alice, "5000", date(2024, 1, 5), description="January dues")
    contribution(group, bob, "3000", date(2024, 1, 6))
    loan(group, alice, "2000", date(2024, 2, 1))
    repayment(group, alice, "500", "150", date(2024, 3, 1))
    fine(group, bob, "100", date(2024, 2, 10))
    expense(group, "250", date(2024, 3, 2))
    share_out(group, {alice: "90", bob: "60"}, date(2024, 3, 31))
    Loan.objects.create(
        group=group,
        borrower=alice,
        principal_amount=Decimal("2000"),
        interest_rate=Decimal("10"),
        interest_method="FLAT",
        duration_months=6,
        purpose="School fees",
        status=LoanStatus.ACTIVE,
    )
    return group, chair, treasurer, alice, bob


# --- group summary ----------------------------------------------------------------------------------


def test_group_summary_figures_come_from_the_ledger(make_client, books):
    group, _, _, alice, _ = books
    response = make_client(alice).get(f"{SUMMARY_URL}{group.id}/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["group"] == group.id and data["group_name"] == "Umoja" and data["currency"] == "KES"
    assert data["cash_balance"] == "6400.00"  # 8000 − 2000 + 650 − 250
    assert data["total_savings"] == "8150.00"  # 8000 + 150 shared out
    assert data["loans_outstanding"] == "1500.00"
    assert data["fines_outstanding"] == "100.00"
    assert data["income"] == {"interest": "0.00", "fees": "0.00", "fines": "100.00", "investment": "0.00"}
    assert data["expenses"] == "250.00" and data["bad_debts"] == "0.00"
    assert data["member_count"] == 4 and data["active_loans"] == 1
    assert data["trial_balance"] == "0.00"


def test_group_summary_list_shows_only_my_groups(make_client, books):
    group, _, _, alice, _ = books
    other = make_group()
    contribution(other, add_member(other).user, "1")
    mine = make_group()
    add_member(mine, user=alice)
    rows = make_client(alice).get(SUMMARY_URL).json()["results"]
    assert {row["group"] for row in rows} == {group.id, mine.id}
    assert all(row["trial_balance"] == "0.00" for row in rows)


def test_group_summary_of_another_group_is_404(make_client, books):
    group, *_ = books
    outsider = add_member(make_group()).user
    assert make_client(outsider).get(f"{SUMMARY_URL}{group.id}/").status_code == 404


def test_group_summary_query_count_is_constant(make_client, books):
    group, chair, _, alice, bob = books
    client = make_client(chair)
    before, _ = count_queries(lambda: client.get(f"{SUMMARY_URL}{group.id}/"))
    for day in range(1, 20):
        contribution(group, alice if day % 2 else bob, "10", date(2024, 4, day))
    after, _ = count_queries(lambda: client.get(f"{SUMMARY_URL}{group.id}/"))
    assert before == after <= 6


# --- ledger accounts --------------------------------------------------------------------------------


def test_officials_see_the_chart_with_natural_balances(make_client, books):
    group, _, treasurer, alice, _ = books
    response = make_client(treasurer).get(ACCOUNTS_URL, {"group": group.id, "page_size": 100})
    assert response.status_code == 200
    rows = response.json()["results"]
    by_key = {(row["kind"], row["member"]): row for row in rows}
    savings = by_key[("MEMBER_SAVINGS", alice.id)]
    assert savings["balance"] == "5090.00" and savings["debit_balance"] == "-5090.00"
    assert savings["member_name"] == alice.get_full_name()
    assert by_key[("CASH", None)]["balance"] == "6400.00"
    assert {row["group"] for row in rows} == {group.id}
    filtered = make_client(treasurer).get(ACCOUNTS_URL, {"kind": "member_savings"}).json()["results"]
    assert {row["kind"] for row in filtered} == {"MEMBER_SAVINGS"} and len(filtered) == 2


def test_plain_members_get_403_and_outsiders_404_on_ledger_accounts(make_client, books):
    group, _, _, alice, _ = books
    account = LedgerAccount.objects.get(group=group, kind=AccountKind.CASH)
    member = make_client(alice)
    assert member.get(ACCOUNTS_URL).status_code == 403
    assert member.get(ACCOUNTS_URL, {"group": group.id}).status_code == 403
    assert member.get(f"{ACCOUNTS_URL}{account.id}/").status_code == 403
    outsider = make_client(chair_of(make_group()))
    assert outsider.get(f"{ACCOUNTS_URL}{account.id}/").status_code == 404
    assert outsider.get(ACCOUNTS_URL, {"group": group.id}).status_code == 404
    assert group.id not in {row["group"] for row in outsider.get(ACCOUNTS_URL).json()["results"]}


def test_ledger_accounts_query_count_is_constant(make_client):
    group = make_group()
    chart_of_accounts_create(group_id=group.id)  # the 11 group-level accounts
    chair = chair_of(group)
    members = [add_member(group).user for _ in range(14)]
    client = make_client(chair)
    small, response = count_queries(lambda: client.get(ACCOUNTS_URL, {"page_size": 5}))
    assert len(response.json()["results"]) == 5
    for member in members:
        contribution(group, member, "10")
    large, response = count_queries(lambda: client.get(ACCOUNTS_URL, {"page_size": 25}))
    assert len(response.json()["results"]) == 25
    assert small == large


# --- journal entries --------------------------------------------------------------------------------


def test_journal_entries_nest_balanced_postings(make_client, books):
    group, chair, _, _alice, _ = books
    client = make_client(chair)
    rows = client.get(ENTRIES_URL, {"group": group.id, "page_size": 100}).json()["results"]
    assert len(rows) == JournalEntry.objects.filter(group=group).count() == 7
    for row in rows:
        assert sum(Decimal(p["amount"]) for p in row["postings"]) == 0
        assert Decimal(row["total"]) == sum(Decimal(p["debit"]) for p in row["postings"])
    repayment_row = next(r for r in rows if r["kind"] == "LOAN_REPAYMENT")
    assert len(repayment_row["postings"]) == 3 and repayment_row["total"] == "650.00"
    detail = client.get(f"{ENTRIES_URL}{repayment_row['id']}/").json()
    assert detail["postings"] == repayment_row["postings"]


def test_journal_entry_filters_and_reversal_link(make_client, books):
    group, chair, _, _alice, bob = books
    entry = JournalEntry.objects.get(group=group, kind="EXPENSE")
    reversal = journal_entry_reverse(entry=entry)
    client = make_client(chair)
    detail = client.get(f"{ENTRIES_URL}{entry.id}/").json()
    assert detail["is_reversed"] is True and detail["reversed_by"] == reversal.id
    assert client.get(f"{ENTRIES_URL}{reversal.id}/").json()["reverses"] == entry.id

    def ids(params):
        return {row["id"] for row in client.get(ENTRIES_URL, {"group": group.id, **params}).json()["results"]}

    assert ids({"kind": "contribution"}) == set(
        JournalEntry.objects.filter(kind="CONTRIBUTION").values_list("id", flat=True)
    )
    assert len(ids({"kind": "loan"})) == 2
    assert len(ids({"date_from": "2024-02-01", "date_to": "2024-02-28"})) == 2
    assert len(ids({"search": "january"})) == 1
    # bob: his contribution, his fine and the share-out that credited him
    assert len(ids({"member": bob.id})) == 3
    assert client.get(ENTRIES_URL, {"kind": "nonsense"}).status_code == 400


def test_plain_members_get_403_and_outsiders_404_on_journal_entries(make_client, books):
    group, _, _, alice, _ = books
    entry = JournalEntry.objects.filter(group=group).first()
    assert make_client(alice).get(ENTRIES_URL).status_code == 403
    assert make_client(alice).get(f"{ENTRIES_URL}{entry.id}/").status_code == 403
    assert make_client(chair_of(make_group())).get(f"{ENTRIES_URL}{entry.id}/").status_code == 404


def test_journal_entries_query_count_is_constant(make_client):
    group = make_group()
    chair = chair_of(group)
    member = add_member(group).user
    for day in range(1, 6):
        contribution(group, member, "10", date(2024, 1, day))
    client = make_client(chair)
    small, response = count_queries(lambda: client.get(ENTRIES_URL, {"page_size": 5}))
    assert len(response.json()["results"]) == 5
    loan(group, member, "100", date(2024, 1, 6))
    for day in range(7, 26):
        if day % 2:
            repayment(group, member, "1", "1", date(2024, 1, day))
        else:
            contribution(group, member, "10", date(2024, 1, day))
    large, response = count_queries(lambda: client.get(ENTRIES_URL, {"page_size": 25}))
    assert len(response.json()["results"]) == 25
    assert small == large


def test_ledger_routes_are_read_only(make_client, books):
    group, chair, *_ = books
    client = make_client(chair)
    assert client.post(ACCOUNTS_URL, {"group": group.id}).status_code == 405
    entry = JournalEntry.objects.filter(group=group).first()
    assert client.delete(f"{ENTRIES_URL}{entry.id}/").status_code == 405
    assert client.post("/api/v1/finance/transactions/", {}).status_code == 405


def test_ledger_admin_pages_load_and_are_read_only(client, books):
    from accounts.models import User

    group, *_ = books
    admin_user = User.objects.create_superuser(phone_number="+254799000111", password="Passw0rd!234")
    client.force_login(admin_user)
    entry = JournalEntry.objects.filter(group=group).first()
    for url in (
        "/admin/finance/ledgeraccount/",
        "/admin/finance/journalentry/",
        "/admin/finance/posting/",
        f"/admin/finance/journalentry/{entry.id}/change/",
        "/admin/finance/ledgeraccount/?q=1000",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/finance/journalentry/add/").status_code == 403
    assert client.post(f"/admin/finance/journalentry/{entry.id}/delete/", {"post": "yes"}).status_code == 403
    assert JournalEntry.objects.filter(id=entry.id).exists()
