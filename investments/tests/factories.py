"""Helpers for the investments tests: API paths, funding a group, reading the ledger, the legacy payload."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from finance.choices import AccountKind, EntryKind
from finance.models import JournalEntry
from finance.selectors.ledger import account_balance
from finance.services.ledger import credit, debit, journal_entry_post

API = "/api/v1/investments"


def fund(group, member, amount) -> None:
    """Give the group cash: a member's savings deposit (Dr CASH / Cr MEMBER_SAVINGS)."""
    amount = Decimal(amount)
    journal_entry_post(
        group_id=group.id,
        kind=EntryKind.CONTRIBUTION,
        description="Test deposit",
        legs=[debit(AccountKind.CASH, amount), credit(AccountKind.MEMBER_SAVINGS, amount, member.id)],
        member_id=member.id,
    )


def balance(group, kind) -> Decimal:
    return account_balance(group_id=group.id, kind=kind)


def entry_legs(entry_id) -> dict[str, Decimal]:
    """{account kind: debit-positive amount} of one journal entry."""
    entry = JournalEntry.objects.get(pk=entry_id)
    return {p.account.kind: p.amount for p in entry.postings.select_related("account")}


def legacy_payload(group, **overrides) -> dict:
    """What the first web client posts to /investments/investments/."""
    data = {
        "group": group.id,
        "investment_type": "MONEY_MARKET",
        "name": "CIC Money Market Fund",
        "description": "Monthly surplus parked in a money market fund",
        "principal_amount": "10000.00",
        "current_value": "10000.00",
        "expected_return_rate": "10.50",
        "purchase_date": timezone.localdate().isoformat(),
        "notes": "",
        "status": "ACTIVE",
    }
    data.update(overrides)
    return data


@dataclass
class World:
    group: object
    chair: object
    treasurer: object
    member: object
    outsider: object
    other_group: object
    make_client: object

    def client(self, who: str = "treasurer"):
        return self.make_client(getattr(self, who))

    def create_investment(self, **overrides) -> dict:
        response = self.client().post(f"{API}/investments/", legacy_payload(self.group, **overrides), format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    def record(self, investment_id, transaction_type, amount, **extra) -> dict:
        payload = {
            "investment": investment_id,
            "transaction_type": transaction_type,
            "amount": str(amount),
            "transaction_date": timezone.localdate().isoformat(),
            **extra,
        }
        response = self.client().post(f"{API}/investment-transactions/", payload, format="json")
        assert response.status_code == 201, response.json()
        return response.json()
