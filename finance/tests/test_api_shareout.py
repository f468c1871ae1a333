"""
Share-out through the API, with a hand-computed worked example.

Cycle 2024-01-01 .. 2024-01-10 (10 days). Savings (all CASH contributions recorded by the chair):
  A: 1000 paid 2023-12-15 (before the cycle)  -> opening 1000 × 10 days            = 10 000
  B: 2000 paid 2024-01-06                     -> 2000 × 5 days (6th..10th)          = 10 000
  C:  500 paid 2024-01-01 and 500 on 2024-01-10 -> 500 × 10 + 500 × 1              =  5 500
                                                                          total weight = 25 500
Income inside the cycle: fines 40.00 (2024-01-03) + interest 60.00 (2024-01-05) = pool 100.00.
Not in the pool: investment income 1000 (kept by the group), fines 50 on 2023-12-20, fees 30 on 2024-01-11.
Pro rata in cents: A 10000/25500 × 10000 = 3921.57, B 3921.57, C 2156.86 -> floors 3921 + 3921 + 2156 = 9998;
the 2 leftover cents go to the largest remainders: C (.86) then A (.57, ahead of B by order) ->
  A 39.22, B 39.21, C 21.57 (sum 100.00).
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from finance.choices import AccountKind, EntryKind
from finance.models import JournalEntry, ShareOut, ShareOutAllocation
from finance.selectors.ledger import account_balance
from finance.services.contributions import contribution_record
from finance.services.ledger import credit, debit, journal_entry_post
from finance.services.shareout import share_out_compute
from finance.tests.contribution_helpers import SHARE_OUTS_URL, assert_ledger_consistent, aware
from groups.tests.factories import add_member, chair_of, make_group

pytestmark = pytest.mark.django_db

START, END = date(2024, 1, 1), date(2024, 1, 10)


def _income(group, kind, amount, day, receivable_member=None):
    debit_leg = (
        debit(AccountKind.FINES_RECEIVABLE, Decimal(amount), receivable_member.id)
        if receivable_member
        else debit(AccountKind.CASH, Decimal(amount))
    )
    journal_entry_post(
        group_id=group.id,
        kind=EntryKind.ADJUSTMENT,
        description=f"{kind} {amount}",
        legs=[debit_leg, credit(kind, Decimal(amount))],
        entry_date=day,
    )


@pytest.fixture
def example():
    group = make_group(cycle_start_date=date(2023, 12, 1))
    chair = chair_of(group)
    a, b, c = (add_member(group).user for _ in range(3))
    for member, amount, day in (
        (a, "1000", date(2023, 12, 15)),
        (b, "2000", date(2024, 1, 6)),
        (c, "500", date(2024, 1, 1)),
        (c, "500", date(2024, 1, 10)),
    ):
        contribution_record(
            actor=chair,
            group_id=group.id,
            amount=Decimal(amount),
            payment_method="CASH",
            member_id=member.id,
            paid_at=aware(day),
        )
    _income(group, AccountKind.FINES_INCOME, "40", date(2024, 1, 3), receivable_member=a)
    _income(group, AccountKind.INTEREST_INCOME, "60", date(2024, 1, 5))
    _income(group, AccountKind.INVESTMENT_INCOME, "1000", date(2024, 1, 4))
    _income(group, AccountKind.FINES_INCOME, "50", date(2023, 12, 20), receivable_member=b)
    _income(group, AccountKind.FEES_INCOME, "30", date(2024, 1, 11))
    return group, chair, (a, b, c)


def _params(group, start=START, end=END):
    return {"group": group.id, "cycle_start": start.isoformat(), "cycle_end": end.isoformat()}


def test_worked_example_preview_and_post_agree(make_client, example):
    group, chair, (a, b, c) = example
    preview = make_client(a).get(f"{SHARE_OUTS_URL}preview/", _params(group))
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert body["days"] == 10
    assert body["pool"] == {
        "interest_income": "60.00",
        "fees_income": "0.00",
        "fines_income": "40.00",
        "total": "100.00",
    }
    assert body["total_savings_days"] == "25500.00"
    expected = {a.id: ("10000.00", "39.22"), b.id: ("10000.00", "39.21"), c.id: ("5500.00", "21.57")}
    assert {row["member"]: (row["savings_days"], row["amount"]) for row in body["allocations"]} == expected
    assert sum(Decimal(row["amount"]) for row in body["allocations"]) == Decimal("100.00")
    assert {row["member"]: row["member_name"] for row in body["allocations"]}[a.id] == a.full_name
    assert not ShareOut.objects.exists()

    posted = make_client(chair).post(SHARE_OUTS_URL, _params(group), format="json")
    assert posted.status_code == 201, posted.json()
    out = posted.json()
    assert out["total_distributed"] == "100.00"
    assert out["status"] == "POSTED"
    assert {row["member"]: (row["savings_days"], row["amount"]) for row in out["allocations"]} == expected
    assert [row["share_percent"] for row in out["allocations"]] == [row["share_percent"] for row in body["allocations"]]

    entry = JournalEntry.objects.get(pk=out["journal_entry"])
    assert entry.kind == EntryKind.SHARE_OUT
    assert entry.reference == f"share-out:{group.id}:2024-01-01:2024-01-10"
    assert entry.entry_date == END
    assert JournalEntry.objects.filter(group=group, kind=EntryKind.SHARE_OUT).count() == 1
    savings = lambda m: account_balance(group_id=group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=m.id)  # noqa: E731
    assert (savings(a), savings(b), savings(c)) == (Decimal("1039.22"), Decimal("2039.21"), Decimal("1021.57"))
    assert account_balance(group_id=group.id, kind=AccountKind.INTEREST_INCOME) == 0
    assert account_balance(group_id=group.id, kind=AccountKind.FINES_INCOME) == Decimal("50.00")
    assert account_balance(group_id=group.id, kind=AccountKind.INVESTMENT_INCOME) == Decimal("1000.00")
    assert account_balance(group_id=group.id, kind=AccountKind.FEES_INCOME) == Decimal("30.00")
    assert_ledger_consistent(group)

    # The share-out's own postings do not change the cycle's numbers.
    again = share_out_compute(group_id=group.id, cycle_start=START, cycle_end=END)
    assert again.pool == Decimal("100.00")
    assert {x.member_id: x.amount for x in again.allocations} == {
        a.id: Decimal("39.22"),
        b.id: Decimal("39.21"),
        c.id: Decimal("21.57"),
    }


def test_posted_share_out_is_listed_with_allocations_and_scoped(make_client, example):
    group, chair, (a, _b, _c) = example
    share_out_id = make_client(chair).post(SHARE_OUTS_URL, _params(group), format="json").json()["id"]
    listing = make_client(a).get(SHARE_OUTS_URL)
    assert listing.status_code == 200
    [row] = listing.json()["results"]
    assert row["id"] == share_out_id
    assert len(row["allocations"]) == 3
    assert make_client(a).get(f"{SHARE_OUTS_URL}{share_out_id}/").status_code == 200
    outsider = make_client(UserFactory())
    assert outsider.get(SHARE_OUTS_URL).json()["count"] == 0
    assert outsider.get(f"{SHARE_OUTS_URL}{share_out_id}/").status_code == 404


def test_overlapping_or_repeated_cycles_are_409_and_write_nothing(make_client, example):
    group, chair, _members = example
    client = make_client(chair)
    assert client.post(SHARE_OUTS_URL, _params(group), format="json").status_code == 201
    entries = JournalEntry.objects.count()
    for start, end in ((START, END), (date(2024, 1, 5), date(2024, 1, 20)), (date(2023, 12, 1), START)):
        response = client.post(SHARE_OUTS_URL, _params(group, start, end), format="json")
        assert response.status_code == 409, (start, end)
    assert client.get(f"{SHARE_OUTS_URL}preview/", _params(group)).status_code == 409
    assert JournalEntry.objects.count() == entries
    assert ShareOut.objects.count() == 1
    assert ShareOutAllocation.objects.count() == 3


def test_empty_pool_is_409(make_client, example):
    group, chair, _members = example
    params = _params(group, date(2024, 2, 1), date(2024, 2, 10))
    preview = make_client(chair).get(f"{SHARE_OUTS_URL}preview/", params)
    assert preview.status_code == 200
    assert preview.json()["pool"]["total"] == "0.00"
    assert all(row["amount"] == "0.00" for row in preview.json()["allocations"])
    entries = JournalEntry.objects.count()
    response = make_client(chair).post(SHARE_OUTS_URL, params, format="json")
    assert response.status_code == 409
    assert JournalEntry.objects.count() == entries
    assert not ShareOut.objects.exists()


def test_bad_cycles_are_400(make_client, example):
    group, chair, _members = example
    client = make_client(chair)
    backwards = client.post(SHARE_OUTS_URL, _params(group, END, START), format="json")
    assert backwards.status_code == 400
    assert "cycle_end" in backwards.json()["fields"]
    tomorrow = timezone.localdate() + timedelta(days=1)
    future = client.post(SHARE_OUTS_URL, _params(group, START, tomorrow), format="json")
    assert future.status_code == 400
    assert "cycle_end" in future.json()["fields"]
    assert client.get(f"{SHARE_OUTS_URL}preview/", _params(group, END, START)).status_code == 400
    assert client.get(f"{SHARE_OUTS_URL}preview/", {"group": group.id}).status_code == 400
    assert not ShareOut.objects.exists()


def test_members_cannot_post_and_outsiders_get_404(make_client, example):
    group, _chair, (a, _b, _c) = example
    entries = JournalEntry.objects.count()
    assert make_client(a).post(SHARE_OUTS_URL, _params(group), format="json").status_code == 403
    outsider = make_client(UserFactory())
    assert outsider.post(SHARE_OUTS_URL, _params(group), format="json").status_code == 404
    assert outsider.get(f"{SHARE_OUTS_URL}preview/", _params(group)).status_code == 404
    assert JournalEntry.objects.count() == entries
    assert not ShareOut.objects.exists()


def test_members_without_savings_get_nothing_and_a_withdrawn_member_only_for_the_days_held():
    group = make_group(cycle_start_date=date(2023, 12, 1))
    chair = chair_of(group)
    saver, leaver, idle = (add_member(group).user for _ in range(3))
    for member, amount in ((saver, "1000"), (leaver, "1000")):
        contribution_record(
            actor=chair,
            group_id=group.id,
            amount=Decimal(amount),
            payment_method="CASH",
            member_id=member.id,
            paid_at=aware(date(2023, 12, 20)),
        )
    # the leaver withdraws everything on day 6: held 1000 for 5 days
    journal_entry_post(
        group_id=group.id,
        kind=EntryKind.ADJUSTMENT,
        description="withdrawal",
        legs=[debit(AccountKind.MEMBER_SAVINGS, Decimal("1000"), leaver.id), credit(AccountKind.CASH, Decimal("1000"))],
        entry_date=date(2024, 1, 6),
    )
    _income(group, AccountKind.INTEREST_INCOME, "30", date(2024, 1, 2))
    plan = share_out_compute(group_id=group.id, cycle_start=START, cycle_end=END)
    weights = {x.member_id: x.savings_days for x in plan.allocations}
    assert weights == {saver.id: Decimal("10000.00"), leaver.id: Decimal("5000.00")}
    assert idle.id not in weights
    assert {x.member_id: x.amount for x in plan.allocations} == {
        saver.id: Decimal("20.00"),
        leaver.id: Decimal("10.00"),
    }


def test_share_out_list_query_count_does_not_grow(make_client, example):
    group, chair, _members = example
    client = make_client(chair)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(SHARE_OUTS_URL)
        return len(ctx.captured_queries), response.json()["count"]

    client.post(SHARE_OUTS_URL, _params(group), format="json")
    small, one = count()
    _income(group, AccountKind.INTEREST_INCOME, "10", date(2024, 1, 15))
    _income(group, AccountKind.INTEREST_INCOME, "10", date(2024, 1, 25))
    client.post(SHARE_OUTS_URL, _params(group, date(2024, 1, 11), date(2024, 1, 20)), format="json")
    client.post(SHARE_OUTS_URL, _params(group, date(2024, 1, 21), date(2024, 1, 31)), format="json")
    large, three = count()
    assert (one, three) == (1, 3)
    assert small == large
