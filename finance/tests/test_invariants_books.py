"""
Property: whatever sequence of contributions, reversals, fines, loans, repayments, expenses and
share-outs is posted, every statement served by the API agrees with the ledger:

- opening + Σ lines = closing, for any window;
- two adjacent windows chain (the first's closing is the second's opening);
- with no date_to the closing balance is exactly the LedgerAccount balance (natural sign);
- every journal entry balances and the group summary's trial balance is 0.00;
- the transactions feed's balance_after of each account's latest line is that account's balance.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance.choices import AccountKind
from finance.models import JournalEntry, LedgerAccount, Posting
from finance.selectors.books import KIND_ALIASES
from finance.services.ledger import journal_entry_reverse
from finance.tests.books_data import contribution, expense, fine, loan, repayment, share_out
from groups.tests.factories import add_member, chair_of, make_group

pytestmark = pytest.mark.django_db

START = date(2024, 1, 1)
D = Decimal
amounts = st.integers(min_value=1, max_value=500_000).map(lambda cents: D(cents) / 100)
operations = st.lists(
    st.tuples(
        st.sampled_from(["contribution", "reverse", "fine", "loan", "repayment", "expense", "share_out"]),
        st.integers(min_value=0, max_value=2),  # member
        amounts,
        st.integers(min_value=0, max_value=90),  # day
    ),
    min_size=1,
    max_size=25,
)


def _post(group, members, ops):
    for op, who, amount, day in ops:
        member, on = members[who], START + timedelta(days=day)
        if op == "contribution":
            contribution(group, member, amount, on)
        elif op == "fine":
            fine(group, member, amount, on)
        elif op == "loan":
            loan(group, member, amount, on)
        elif op == "repayment":
            repayment(group, member, amount, D("1.50"), on)
        elif op == "expense":
            expense(group, amount, on)
        elif op == "share_out":
            share_out(group, {members[0]: amount, members[1]: D("0.01")}, on)
        else:
            candidate = (
                JournalEntry.objects.filter(group=group, reverses__isnull=True, reversed_by__isnull=True)
                .order_by("id")
                .first()
            )
            if candidate is not None:
                journal_entry_reverse(entry=candidate, entry_date=on)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, split=st.integers(min_value=0, max_value=91))
def test_statements_always_agree_with_the_ledger(make_client, ops, split):
    group = make_group()
    chair = chair_of(group)
    members = [add_member(group).user for _ in range(3)]
    _post(group, members, ops)
    client = make_client(chair)
    cut = START + timedelta(days=split)

    for entry in JournalEntry.objects.filter(group=group).prefetch_related("postings"):
        assert sum(p.amount for p in entry.postings.all()) == 0
    assert client.get(f"/api/v1/finance/group-summaries/{group.id}/").json()["trial_balance"] == "0.00"

    def check(url, params, account):
        whole = client.get(url, params).json()
        before = client.get(url, {**params, "date_to": (cut - timedelta(days=1)).isoformat()}).json()
        after = client.get(url, {**params, "date_from": cut.isoformat()}).json()
        sign = 1 if account is None or account.account_type in ("ASSET", "EXPENSE") else -1
        for data in (whole, before, after):
            lines = sum((D(x["debit"]) - D(x["credit"]) for x in data["lines"]), D("0")) * sign
            assert D(data["opening_balance"]) + lines == D(data["closing_balance"])
            running = D(data["opening_balance"])
            for line in data["lines"]:
                running += (D(line["debit"]) - D(line["credit"])) * sign
                assert D(line["balance"]) == running
        assert before["closing_balance"] == after["opening_balance"]
        assert after["closing_balance"] == whole["closing_balance"]
        assert len(before["lines"]) + len(after["lines"]) == len(whole["lines"])
        expected = account.normal_balance if account is not None else D("0.00")
        assert D(whole["closing_balance"]) == expected

    for member in members:
        for kind in (AccountKind.MEMBER_SAVINGS, AccountKind.LOANS_RECEIVABLE, AccountKind.FINES_RECEIVABLE):
            account = LedgerAccount.objects.filter(group=group, kind=kind, member=member).first()
            params = {"group": group.id, "member": member.id, "account": KIND_ALIASES[kind]}
            check("/api/v1/finance/statements/member/", params, account)
    for kind in (AccountKind.CASH, AccountKind.INTEREST_INCOME, AccountKind.EXPENSES):
        account = LedgerAccount.objects.filter(group=group, kind=kind, member=None).first()
        check("/api/v1/finance/statements/group/", {"group": group.id, "account": kind.lower()}, account)

    # the feed's balance_after on each account's last posting (by id) is the account's balance
    feed = client.get("/api/v1/finance/transactions/", {"group": group.id, "ordering": "-id", "page_size": 100})
    seen = set()
    for row in feed.json()["results"]:
        if row["account_code"] in seen:
            continue
        seen.add(row["account_code"])
        account = LedgerAccount.objects.get(group=group, code=row["account_code"])
        assert D(row["balance_after"]) == account.normal_balance
        assert account.balance == sum(p.amount for p in Posting.objects.filter(account=account))
