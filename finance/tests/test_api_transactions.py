import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from finance.models import Posting
from finance.services.ledger import journal_entry_reverse
from finance.tests.books_data import contribution, count_queries, expense, fine, loan, repayment
from groups.tests.factories import add_member, chair_of, make_group

pytestmark = pytest.mark.django_db

URL = "/api/v1/finance/transactions/"
D = Decimal


@pytest.fixture
def books():
    group = make_group()
    chair = chair_of(group)
    alice = add_member(group).user
    bob = add_member(group).user
    contribution(group, alice, "1000", date(2024, 1, 5), description="January dues")
    wrong = contribution(group, alice, "700", date(2024, 1, 20), description="Typo")
    journal_entry_reverse(entry=wrong, entry_date=date(2024, 1, 21))
    contribution(group, bob, "2000", date(2024, 1, 6))
    loan(group, alice, "3000", date(2024, 2, 1))
    repayment(group, alice, "1000", "100", date(2024, 3, 1))
    fine(group, bob, "50", date(2024, 2, 10))
    expense(group, "200", date(2024, 3, 2))
    other = make_group()
    contribution(other, add_member(other).user, "999", date(2024, 1, 1))
    return group, chair, alice, bob, other


def _results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_plain_member_sees_only_lines_on_their_own_accounts(make_client, books):
    group, _, alice, _, _ = books
    rows = _results(make_client(alice).get(URL))
    ids = {row["id"] for row in rows}
    assert ids == set(Posting.objects.filter(group=group, member=alice).values_list("id", flat=True))
    assert all(row["member"] == alice.id for row in rows)
    kinds = sorted(row["type"] for row in rows)
    assert kinds == ["contribution", "contribution", "loan_disbursement", "loan_repayment", "reversal"]


def test_member_lines_have_legacy_fields_in_natural_sign(make_client, books):
    group, _, alice, _, _ = books
    rows = _results(make_client(alice).get(URL, {"type": "contribution", "ordering": "entry_date"}))
    first = rows[0]
    assert first["type"] == "contribution" and first["category"] == "MEMBER_SAVINGS"
    assert first["amount"] == "1000.00" and first["credit"] == "1000.00" and first["debit"] == "0.00"
    assert first["balance_after"] == "1000.00"
    assert first["group"] == group.id and first["group_name"] == group.name
    assert first["user_name"] == alice.get_full_name() and first["description"] == "January dues"
    assert first["status"] == "completed" and first["entry_date"] == "2024-01-05"
    for key in ("id", "entry_id", "account_code", "created_at"):
        assert key in first
    # the reversed contribution says so; the reversal itself is a completed debit
    assert rows[1]["status"] == "reversed" and rows[1]["amount"] == "700.00"
    reversal = _results(make_client(alice).get(URL, {"type": "REVERSAL"}))
    assert len(reversal) == 1 and reversal[0]["amount"] == "-700.00" and reversal[0]["status"] == "completed"


def test_official_sees_every_line_of_the_group_and_nothing_else(make_client, books):
    group, chair, _, _, other = books
    rows = _results(make_client(chair).get(URL, {"page_size": 100}))
    assert {row["id"] for row in rows} == set(Posting.objects.filter(group=group).values_list("id", flat=True))
    assert not Posting.objects.filter(group=other, id__in=[row["id"] for row in rows]).exists()


def test_outsider_sees_nothing_and_404_on_details(make_client, books):
    group, *_ = books
    outsider = add_member(make_group()).user
    client = make_client(outsider)
    assert _results(client.get(URL, {"group": group.id})) == []
    posting = Posting.objects.filter(group=group).first()
    assert client.get(f"{URL}{posting.id}/").status_code == 404


def test_detail_is_scoped_to_the_callers_lines(make_client, books):
    group, chair, alice, bob, _ = books
    own = Posting.objects.filter(group=group, member=alice).first()
    bobs = Posting.objects.filter(group=group, member=bob).first()
    cash = Posting.objects.filter(group=group, member__isnull=True).first()
    client = make_client(alice)
    assert client.get(f"{URL}{own.id}/").json()["id"] == own.id
    assert client.get(f"{URL}{bobs.id}/").status_code == 404
    assert client.get(f"{URL}{cash.id}/").status_code == 404
    assert make_client(chair).get(f"{URL}{cash.id}/").status_code == 200


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "contribution"}, 6),
        ({"type": "CONTRIBUTION"}, 6),
        ({"type": "loan"}, 5),  # the loan family: disbursement (2 legs) + repayment (3 legs)
        ({"type": "fine_charge"}, 2),
        ({"category": "cash"}, 7),
        ({"category": "MEMBER_SAVINGS"}, 4),
        ({"date_from": "2024-02-01", "date_to": "2024-02-28"}, 4),
        ({"status": "reversed"}, 2),
        ({"status": "COMPLETED"}, 15),
        ({"search": "january"}, 2),
    ],
)
def test_feed_filters(make_client, books, params, expected):
    group, chair, *_ = books
    rows = _results(make_client(chair).get(URL, {"group": group.id, "page_size": 100, **params}))
    assert len(rows) == expected, [(r["type"], r["category"]) for r in rows]


def test_member_filter_includes_entries_about_the_member(make_client, books):
    _group, chair, alice, _, _ = books
    rows = _results(make_client(chair).get(URL, {"member": alice.id, "page_size": 100}))
    assert all(row["member"] == alice.id for row in rows)
    # her contributions (2 legs each), the reversal (2), loan (2) and repayment (3)
    assert len(rows) == 11


def test_legacy_limit_is_a_page_size_alias(make_client, books):
    group, chair, *_ = books
    client = make_client(chair)
    assert len(_results(client.get(URL, {"group": group.id, "limit": 3}))) == 3
    assert len(_results(client.get(URL, {"group": group.id, "limit": 3, "page_size": 5}))) == 5
    response = client.get(URL, {"limit": 1000})
    assert response.json()["count"] == 17 and len(response.json()["results"]) == 17  # capped at 100, 17 rows


def test_ordering_by_amount_uses_the_natural_sign(make_client, books):
    _group, _, alice, _, _ = books
    rows = _results(make_client(alice).get(URL, {"ordering": "-amount"}))
    amounts = [D(row["amount"]) for row in rows]
    assert amounts == sorted(amounts, reverse=True)
    assert amounts[0] == D("3000.00")  # the loan raised her loan balance


@pytest.mark.parametrize("params", [{"type": "bogus"}, {"status": "pending"}, {"category": "x"}, {"date_from": "x"}])
def test_bad_filters_answer_400(make_client, books, params):
    _, chair, *_ = books
    response = make_client(chair).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == set(params)


def test_csv_export_matches_the_filtered_feed(make_client, books):
    group, chair, alice, _, _ = books
    client = make_client(chair)
    response = client.get(f"{URL}export/", {"group": group.id, "type": "contribution"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="transactions_')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    feed = _results(client.get(URL, {"group": group.id, "type": "contribution", "page_size": 100}))
    assert [int(r["ID"]) for r in rows] == [row["id"] for row in feed]
    assert [r["Amount (KES)"] for r in rows] == [row["amount"] for row in feed]
    assert [r["Status"] for r in rows] == [row["status"] for row in feed]
    own = list(csv.DictReader(io.StringIO(make_client(alice).get(f"{URL}export/").content.decode())))
    assert {int(r["ID"]) for r in own} == set(Posting.objects.filter(member=alice).values_list("id", flat=True))


def test_csv_export_accepts_text_csv(make_client, books):
    _, chair, *_ = books
    response = make_client(chair).get(f"{URL}export/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response.content.startswith(b"ID,Entry,Date")


def test_list_query_count_does_not_grow_with_rows(make_client):
    group = make_group()
    chair = chair_of(group)
    members = [add_member(group).user for _ in range(5)]
    for index, member in enumerate(members):
        contribution(group, member, "100", date(2024, 1, index + 1))
    client = make_client(chair)
    small, response = count_queries(lambda: client.get(URL, {"page_size": 5}))
    assert len(response.json()["results"]) == 5
    for day in range(10, 20):
        contribution(group, members[day % 5], "100", date(2024, 1, day))
    large, response = count_queries(lambda: client.get(URL, {"page_size": 25}))
    assert len(response.json()["results"]) == 25
    assert small == large
