from decimal import Decimal

import pytest

from finance.choices import AccountKind, EntryKind
from finance.exceptions import AlreadyReversed, DuplicateReference, UnbalancedEntry
from finance.models import JournalEntry, LedgerAccount, Posting
from finance.services.ledger import credit, debit, journal_entry_post, journal_entry_reverse
from groups.tests.factories import add_member, make_group

pytestmark = pytest.mark.django_db


def _sum(qs):
    return sum((p.amount for p in qs), Decimal("0"))


def test_balanced_entry_posts_and_updates_running_balances():
    group = make_group()
    member = add_member(group).user
    entry = journal_entry_post(
        group_id=group.id,
        kind=EntryKind.CONTRIBUTION,
        description="Jan contribution",
        legs=[debit(AccountKind.CASH, Decimal("500")), credit(AccountKind.MEMBER_SAVINGS, Decimal("500"), member.id)],
        reference="contribution:1",
    )
    assert _sum(entry.postings.all()) == 0
    savings = LedgerAccount.objects.get(group=group, kind=AccountKind.MEMBER_SAVINGS, member=member)
    assert savings.balance == Decimal("-500.00")
    assert savings.normal_balance == Decimal("500.00")
    assert savings.balance == _sum(Posting.objects.filter(account=savings))


def test_unbalanced_entry_is_refused_and_writes_nothing():
    group = make_group()
    with pytest.raises(UnbalancedEntry):
        journal_entry_post(
            group_id=group.id,
            kind=EntryKind.ADJUSTMENT,
            description="bad",
            legs=[debit(AccountKind.CASH, Decimal("10")), credit(AccountKind.FINES_INCOME, Decimal("9.99"))],
        )
    assert not JournalEntry.objects.filter(group=group).exists()
    assert not Posting.objects.filter(group=group).exists()


def test_duplicate_reference_is_refused():
    group = make_group()
    legs = [debit(AccountKind.CASH, Decimal("10")), credit(AccountKind.FINES_INCOME, Decimal("10"))]
    journal_entry_post(group_id=group.id, kind=EntryKind.ADJUSTMENT, description="a", legs=legs, reference="r1")
    with pytest.raises(DuplicateReference):
        journal_entry_post(group_id=group.id, kind=EntryKind.ADJUSTMENT, description="b", legs=legs, reference="r1")
    assert JournalEntry.objects.filter(group=group).count() == 1


def test_reversal_mirrors_and_only_once():
    group = make_group()
    entry = journal_entry_post(
        group_id=group.id,
        kind=EntryKind.ADJUSTMENT,
        description="a",
        legs=[debit(AccountKind.CASH, Decimal("10")), credit(AccountKind.FINES_INCOME, Decimal("10"))],
    )
    reversal = journal_entry_reverse(entry=entry)
    assert sorted(p.amount for p in reversal.postings.all()) == sorted(-p.amount for p in entry.postings.all())
    cash = LedgerAccount.objects.get(group=group, kind=AccountKind.CASH)
    assert cash.balance == 0
    with pytest.raises(AlreadyReversed):
        journal_entry_reverse(entry=entry)
