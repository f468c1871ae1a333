from datetime import date
from decimal import Decimal

import pytest

from chamahub import extensions
from finance.services.ledger import journal_entry_reverse
from finance.tests.books_data import contribution, count_queries, expense, fine, loan, share_out
from groups.tests.factories import add_member, make_group

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def two_groups():
    first, second = make_group(), make_group()
    a, b = add_member(first).user, add_member(first).user
    c = add_member(second).user
    contribution(first, a, "1000", date(2024, 1, 10))
    contribution(first, b, "2000", date(2024, 2, 10))
    wrong = contribution(first, a, "300", date(2024, 2, 15))
    journal_entry_reverse(entry=wrong, entry_date=date(2024, 2, 16))
    loan(first, a, "500", date(2024, 3, 1))
    fine(first, b, "50", date(2024, 3, 2))
    contribution(second, c, "700", date(2024, 1, 1))
    expense(second, "100", date(2024, 1, 2))
    return first, second, a, b


def test_providers_are_registered():
    names = {"group.financial_summary", "group.goal_progress", "group.member_contributions"}
    assert names <= set(extensions.registered())


def test_financial_summary_for_many_groups_in_two_queries(two_groups):
    first, second, _a, _b = two_groups
    empty = make_group()
    queries, result = count_queries(
        lambda: extensions.call("group.financial_summary", group_ids=[first.id, second.id, empty.id], default={})
    )
    assert queries <= 2
    assert result[first.id] == {
        "total_balance": D("2500.00"),  # 3000 in − 500 lent (the 300 came and went)
        "total_savings": D("3000.00"),
        "total_contributions": D("3000.00"),
        "total_loans_outstanding": D("500.00"),
        "total_fines_outstanding": D("50.00"),
    }
    assert result[second.id]["total_balance"] == D("600.00")
    assert result[second.id]["total_contributions"] == D("700.00")
    assert result[empty.id] == dict.fromkeys(result[empty.id], D("0.00"))
    assert str(result[empty.id]["total_contributions"]) == "0.00"


def test_total_contributions_excludes_share_outs_but_savings_include_them(two_groups):
    first, _, a, b = two_groups
    share_out(first, {a: "40", b: "60"}, date(2024, 3, 31))
    totals = extensions.call("group.financial_summary", [first.id])[first.id]
    assert totals["total_contributions"] == D("3000.00")
    assert totals["total_savings"] == D("3100.00")


def test_member_contributions_per_member_in_one_query(two_groups):
    first, second, a, b = two_groups
    share_out(first, {a: "40", b: "60"}, date(2024, 3, 31))
    queries, result = count_queries(
        lambda: extensions.call("group.member_contributions", group_ids=[first.id, second.id], default={})
    )
    assert queries == 1
    assert result[first.id] == {a.id: D("1000.00"), b.id: D("2000.00")}  # the reversed 300 and share-out excluded
    assert list(result[second.id].values()) == [D("700.00")]


def test_goal_progress_sums_each_window_in_one_query(two_groups):
    first, second, *_ = two_groups
    windows = [
        (1, first.id, date(2024, 1, 1), date(2024, 1, 31)),  # 1000
        (2, first.id, date(2024, 2, 1), date(2024, 2, 28)),  # 2000 + 300 − 300
        (3, first.id, date(2024, 2, 1), date(2024, 2, 15)),  # 2300: the reversal is after the window
        (4, first.id, None, None),  # all time
        (5, second.id, date(2024, 1, 1), None),
        (6, second.id, date(2025, 1, 1), date(2025, 12, 31)),  # nothing yet
    ]
    queries, result = count_queries(lambda: extensions.call("group.goal_progress", windows=windows, default={}))
    assert queries == 1
    assert result == {
        1: D("1000.00"),
        2: D("2000.00"),
        3: D("2300.00"),
        4: D("3000.00"),
        5: D("700.00"),
        6: D("0.00"),
    }
    assert str(result[6]) == "0.00"


def test_goal_progress_with_no_windows_runs_no_query():
    queries, result = count_queries(lambda: extensions.call("group.goal_progress", windows=[]))
    assert queries == 0 and result == {}
