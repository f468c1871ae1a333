"""Test helpers for contributions, fines and share-outs (not a test module)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from finance.models import Contribution, Fine, JournalEntry, LedgerAccount, Posting
from finance.selectors.ledger import trial_balance
from groups.models import Membership
from groups.tests.factories import add_member, chair_of, make_group

URL = "/api/v1/finance/contributions/"
FINES_URL = "/api/v1/finance/fines/"
SHARE_OUTS_URL = "/api/v1/finance/share-outs/"


def months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def aware(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def backdate_join(group, user, day: date) -> None:
    Membership.objects.filter(group=group, user=user).update(joined_at=aware(day, 8))


def group_with_member(**fields):
    """(group, chair, member) — the chair is an official, the member is not."""
    group = make_group(**fields)
    return group, chair_of(group), add_member(group).user


def snapshot() -> tuple[int, int, int, int]:
    return (Contribution.objects.count(), Fine.objects.count(), JournalEntry.objects.count(), Posting.objects.count())


def assert_ledger_consistent(group) -> None:
    """Trial balance zero; every account's running balance equals the sum of its postings."""
    assert trial_balance(group_id=group.id) == 0
    for account in LedgerAccount.objects.filter(group=group):
        total = Posting.objects.filter(account=account).aggregate(t=Sum("amount"))["t"] or Decimal("0")
        assert account.balance == total, account
    for entry in JournalEntry.objects.filter(group=group):
        assert sum(p.amount for p in entry.postings.all()) == 0
