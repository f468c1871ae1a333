"""Ledger data for the books tests, posted through the one posting service (journal_entry_post)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance.choices import AccountKind, EntryKind
from finance.models import JournalEntry
from finance.services.ledger import credit, debit, journal_entry_post

D = Decimal


def contribution(group, member, amount, on: date | None = None, description: str = "Contribution") -> JournalEntry:
    amount = D(amount)
    return journal_entry_post(
        group_id=group.id,
        kind=EntryKind.CONTRIBUTION,
        description=description,
        legs=[debit(AccountKind.CASH, amount), credit(AccountKind.MEMBER_SAVINGS, amount, member.id)],
        entry_date=on,
        member_id=member.id,
    )


def loan(group, member, amount, on: date | None = None) -> JournalEntry:
    amount = D(amount)
    return journal_entry_post(
        group_id=group.id,
        kind=EntryKind.LOAN_DISBURSEMENT,
        description="Loan disbursed",
        legs=[debit(AccountKind.LOANS_RECEIVABLE, amount, member.id), credit(AccountKind.CASH, amount)],
        entry_date=on,
        member_id=member.id,
    )


def repayment(group, member, principal, interest, on: date | None = None) -> JournalEntry:
    principal, interest = D(principal), D(interest)
    return journal_entry_post(
        group_id=group.id,
        kind=EntryKind.LOAN_REPAYMENT,
        description="Loan repayment",
        legs=[
            debit(AccountKind.CASH, principal + interest),
            credit(AccountKind.LOANS_RECEIVABLE, principal, member.id),
            credit(AccountKind.INTEREST_INCOME, interest),
        ],
        entry_date=on,
        member_id=member.id,
    )


def fine(group, member, amount, on: date | None = None) -> JournalEntry:
    amount = D(amount)
    return journal_entry_post(
        group_id=group.id,
        kind=EntryKind.FINE_CHARGE,
        description="Late fine",
        legs=[debit(AccountKind.FINES_RECEIVABLE, amount, member.id), credit(AccountKind.FINES_INCOME, amount)],
        entry_date=on,
        member_id=member.id,
    )


def expense(group, amount, on: date | None = None, description: str = "Stationery") -> JournalEntry:
    amount = D(amount)
    return journal_entry_post(
        group_id=group.id,
        kind=EntryKind.EXPENSE,
        description=description,
        legs=[debit(AccountKind.EXPENSES, amount), credit(AccountKind.CASH, amount)],
        entry_date=on,
    )


def share_out(group, members_amounts: dict, on: date | None = None) -> JournalEntry:
    total = sum((D(a) for a in members_amounts.values()), D("0"))
    legs = [debit(AccountKind.INTEREST_INCOME, total)]
    legs += [credit(AccountKind.MEMBER_SAVINGS, D(a), m.id) for m, a in members_amounts.items()]
    return journal_entry_post(
        group_id=group.id, kind=EntryKind.SHARE_OUT, description="Share-out", legs=legs, entry_date=on
    )


def count_queries(func) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        result = func()
    return len(ctx.captured_queries), result
