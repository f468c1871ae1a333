"""
Posting to the double-entry ledger. `journal_entry_post` is the only code that writes postings.

Guarantees:
- an entry balances (Σ postings = 0) or nothing is written (UnbalancedEntry);
- every leg is non-zero, in cents, on an account of the entry's group;
- account rows are locked in id order before their running balances change, so concurrent posts
  to the same account serialise and never deadlock;
- a `reference` is unique per group: the unique constraint (not a check-then-insert) makes a second
  post with the same reference fail with DuplicateReference;
- posted entries are never changed; `journal_entry_reverse` posts the mirror entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from chamahub.money import to_money
from finance.choices import ACCOUNT_CODES, KIND_TYPES, PER_MEMBER_KINDS, AccountKind, EntryKind
from finance.exceptions import AlreadyReversed, DuplicateReference, UnbalancedEntry
from finance.models import JournalEntry, LedgerAccount, Posting


@dataclass(frozen=True)
class Leg:
    """One side of an entry: a positive amount debits the account, a negative amount credits it."""

    kind: str
    amount: Decimal
    member_id: int | None = None
    memo: str = ""


def debit(kind: str, amount: Decimal, member_id: int | None = None, memo: str = "") -> Leg:
    return Leg(kind=kind, amount=to_money(amount), member_id=member_id, memo=memo)


def credit(kind: str, amount: Decimal, member_id: int | None = None, memo: str = "") -> Leg:
    return Leg(kind=kind, amount=-to_money(amount), member_id=member_id, memo=memo)


_GROUP_KINDS = [k for k in AccountKind if k not in PER_MEMBER_KINDS]


def chart_of_accounts_create(*, group_id: int) -> list[LedgerAccount]:
    """Create the group-level accounts of a new group (idempotent)."""
    return [ledger_account_get_or_create(group_id=group_id, kind=kind) for kind in _GROUP_KINDS]


def ledger_account_get_or_create(*, group_id: int, kind: str, member_id: int | None = None) -> LedgerAccount:
    kind = AccountKind(kind)
    if (kind in PER_MEMBER_KINDS) != (member_id is not None):
        raise ValueError(f"{kind} accounts {'need' if kind in PER_MEMBER_KINDS else 'take no'} member_id")
    lookup = {"group_id": group_id, "kind": kind, "member_id": member_id}
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    code = ACCOUNT_CODES[kind] + (f"-{member_id}" if member_id is not None else "")
    name = kind.label + (f" — member {member_id}" if member_id is not None else "")
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(code=code, name=name, account_type=KIND_TYPES[kind], **lookup)
    except IntegrityError:  # created concurrently
        return LedgerAccount.objects.get(**lookup)


def journal_entry_post(
    *,
    group_id: int,
    kind: str,
    description: str,
    legs: Sequence[Leg],
    entry_date: date | None = None,
    reference: str | None = None,
    member_id: int | None = None,
    created_by_id: int | None = None,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Post one balanced entry. Raises UnbalancedEntry or DuplicateReference; writes nothing then."""
    legs = [leg for leg in legs if to_money(leg.amount) != 0]
    if len(legs) < 2:
        raise UnbalancedEntry("A journal entry needs at least two non-zero postings.")
    for leg in legs:
        if to_money(leg.amount) != leg.amount:
            raise UnbalancedEntry("Posting amounts must be whole cents.", fields={"amount": ["At most 2 decimals."]})
    total = sum((leg.amount for leg in legs), Decimal("0.00"))
    if total != 0:
        raise UnbalancedEntry(f"Journal entry does not balance: debits minus credits = {total}.")
    entry_date = entry_date or timezone.localdate()

    with transaction.atomic():
        accounts = {}
        for leg in legs:
            key = (leg.kind, leg.member_id)
            if key not in accounts:
                accounts[key] = ledger_account_get_or_create(group_id=group_id, kind=leg.kind, member_id=leg.member_id)
        try:
            with transaction.atomic():
                entry = JournalEntry.objects.create(
                    group_id=group_id,
                    kind=EntryKind(kind),
                    description=description[:255],
                    reference=reference,
                    entry_date=entry_date,
                    member_id=member_id,
                    created_by_id=created_by_id,
                    reverses=reverses,
                )
        except IntegrityError as exc:
            if reverses is not None and JournalEntry.objects.filter(reverses=reverses).exists():
                raise AlreadyReversed() from exc
            raise DuplicateReference(fields={"reference": [f"Reference {reference!r} was already posted."]}) from exc

        locked = {
            a.id: a
            for a in LedgerAccount.objects.select_for_update()
            .filter(id__in=[a.id for a in accounts.values()])
            .order_by("id")
        }
        postings = []
        for leg in legs:
            account = locked[accounts[(leg.kind, leg.member_id)].id]
            account.balance = account.balance + leg.amount
            postings.append(
                Posting(
                    group_id=group_id,
                    entry=entry,
                    account=account,
                    member_id=account.member_id,
                    amount=leg.amount,
                    balance_after=account.balance,
                    entry_date=entry_date,
                    memo=leg.memo[:255],
                )
            )
        Posting.objects.bulk_create(postings)
        LedgerAccount.objects.bulk_update(list(locked.values()), ["balance"])
    return entry


def journal_entry_reverse(
    *,
    entry: JournalEntry,
    description: str | None = None,
    created_by_id: int | None = None,
    entry_date: date | None = None,
) -> JournalEntry:
    """Post the mirror image of `entry`. An entry can be reversed once (a unique one-to-one link)."""
    if entry.reverses_id is not None:
        raise AlreadyReversed("A reversal cannot itself be reversed; post a new entry instead.")
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise AlreadyReversed()
    legs = [
        Leg(kind=p.account.kind, amount=-p.amount, member_id=p.account.member_id, memo=f"Reversal of JE{entry.pk}")
        for p in entry.postings.select_related("account")
    ]
    return journal_entry_post(
        group_id=entry.group_id,
        kind=EntryKind.REVERSAL,
        description=description or f"Reversal of: {entry.description}",
        legs=legs,
        entry_date=entry_date,
        member_id=entry.member_id,
        created_by_id=created_by_id,
        reverses=entry,
    )
