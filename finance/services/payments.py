"""
Money that moves through a payment rail (M-Pesa today): suspense, payouts in transit, savings payouts.

Every function posts one balanced journal entry and takes the payment's external identifier (the M-Pesa receipt, or
a payout attempt's id) as the entry's reference, so the unique (group, reference) constraint makes a second post of
the same money fail with DuplicateReference instead of counting it twice.

Accounts:
- SUSPENSE (liability): money received that we cannot yet attribute (wrong amount, unknown account number, a loan
  already repaid). Dr CASH / Cr SUSPENSE on receipt; an official's allocation posts Dr SUSPENSE / Cr CASH and then
  the ordinary purpose entry (Dr CASH / Cr savings, loan, fine), so the purpose services stay the only writers of
  their own postings.
- MPESA_CLEARING (asset): payouts in transit. Sending a B2C payout reserves the cash (Dr MPESA_CLEARING / Cr CASH,
  refused when cash is short, under the CASH row lock); its success settles the purpose from clearing (a loan
  receivable, a member's savings); its failure releases the reservation (Dr CASH / Cr MPESA_CLEARING).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from chamahub.exceptions import ValidationFailed
from chamahub.money import money_require, split_pro_rata
from finance.choices import AccountKind, EntryKind
from finance.exceptions import InsufficientFunds
from finance.models import JournalEntry, LedgerAccount
from finance.selectors.ledger import normal_sign
from finance.services.cash import cash_require
from finance.services.ledger import credit, debit, journal_entry_post, ledger_account_get_or_create


def _balance_locked(*, group_id: int, kind: str, member_id: int | None = None) -> Decimal:
    account = ledger_account_get_or_create(group_id=group_id, kind=kind, member_id=member_id)
    return LedgerAccount.objects.select_for_update().get(pk=account.pk).balance * normal_sign(kind)


@transaction.atomic
def suspense_receive(
    *, group_id: int, amount: Decimal, reference: str, description: str, member_id: int | None = None
) -> JournalEntry:
    """Money arrived that cannot be attributed yet: Dr CASH / Cr SUSPENSE."""
    amount = money_require(amount)
    return journal_entry_post(
        group_id=group_id,
        kind=EntryKind.SUSPENSE,
        description=description,
        legs=[debit(AccountKind.CASH, amount), credit(AccountKind.SUSPENSE, amount)],
        reference=reference,
        member_id=member_id,
    )


@transaction.atomic
def suspense_release(
    *, group_id: int, amount: Decimal, reference: str, description: str, created_by_id: int | None = None
) -> JournalEntry:
    """Take money out of suspense to allocate it (Dr SUSPENSE / Cr CASH). Refuses more than suspense holds."""
    amount = money_require(amount)
    held = _balance_locked(group_id=group_id, kind=AccountKind.SUSPENSE)
    if held < amount:
        raise InsufficientFunds(
            f"Suspense holds KES {held}; KES {amount} cannot be allocated from it.",
            fields={"amount": [f"Only KES {held} is held in suspense."]},
        )
    return journal_entry_post(
        group_id=group_id,
        kind=EntryKind.SUSPENSE,
        description=description,
        legs=[debit(AccountKind.SUSPENSE, amount), credit(AccountKind.CASH, amount)],
        reference=reference,
        created_by_id=created_by_id,
    )


@transaction.atomic
def payout_reserve(
    *,
    group_id: int,
    amount: Decimal,
    reference: str,
    description: str,
    member_id: int | None = None,
    require_cash: bool = True,
) -> JournalEntry:
    """
    Before a payout is sent: move its amount from CASH to MPESA_CLEARING (refused when cash is short).
    `require_cash=False` records a payout M-Pesa reports as already made (the money left whatever the books say).
    """
    amount = money_require(amount)
    if require_cash:
        cash_require(group_id=group_id, amount=amount)
    return journal_entry_post(
        group_id=group_id,
        kind=EntryKind.ADJUSTMENT,
        description=description,
        legs=[debit(AccountKind.MPESA_CLEARING, amount), credit(AccountKind.CASH, amount)],
        reference=reference,
        member_id=member_id,
    )


@transaction.atomic
def payout_release(
    *, group_id: int, amount: Decimal, reference: str, description: str, member_id: int | None = None
) -> JournalEntry:
    """A payout failed: its reserved amount returns to CASH (Dr CASH / Cr MPESA_CLEARING)."""
    amount = money_require(amount)
    return journal_entry_post(
        group_id=group_id,
        kind=EntryKind.ADJUSTMENT,
        description=description,
        legs=[debit(AccountKind.CASH, amount), credit(AccountKind.MPESA_CLEARING, amount)],
        reference=reference,
        member_id=member_id,
    )


def member_savings_require(*, group_id: int, member_id: int, amount: Decimal, field: str = "amount") -> Decimal:
    """A payout from a member's savings must not exceed them (read, unlocked: the payout posts under a lock)."""
    account = ledger_account_get_or_create(group_id=group_id, kind=AccountKind.MEMBER_SAVINGS, member_id=member_id)
    held = account.balance * normal_sign(AccountKind.MEMBER_SAVINGS)
    if held < amount:
        raise ValidationFailed(
            f"Member {member_id} holds KES {held} in savings; KES {amount} cannot be paid out.",
            fields={field: [f"Member {member_id} holds only KES {held} in savings."]},
        )
    return held


@transaction.atomic
def savings_payout_post(
    *, group_id: int, member_id: int, amount: Decimal, reference: str, description: str
) -> JournalEntry:
    """A share-out or refund payout reached the member: Dr MEMBER_SAVINGS(member) / Cr MPESA_CLEARING."""
    amount = money_require(amount)
    return journal_entry_post(
        group_id=group_id,
        kind=EntryKind.SHARE_OUT,
        description=description,
        legs=[debit(AccountKind.MEMBER_SAVINGS, amount, member_id), credit(AccountKind.MPESA_CLEARING, amount)],
        reference=reference,
        member_id=member_id,
    )


@transaction.atomic
def merry_go_round_payout_post(
    *, group_id: int, recipient_id: int, contributor_ids: list[int], amount: Decimal, reference: str, description: str
) -> JournalEntry:
    """
    A merry-go-round pot reached this round's recipient. The pot is every member's contribution for the round, so
    it is debited from the contributors' savings in equal shares (to the cent, summing exactly to the pot) and
    credited out of MPESA_CLEARING.
    """
    amount = money_require(amount)
    if not contributor_ids:
        raise ValidationFailed("A merry-go-round payout needs contributors.", fields={"member": ["No contributors."]})
    ordered = sorted(set(contributor_ids))
    shares = split_pro_rata(amount, {member_id: 1 for member_id in ordered}, order=ordered)
    legs = [debit(AccountKind.MEMBER_SAVINGS, share, member_id) for member_id, share in shares.items() if share]
    legs.append(credit(AccountKind.MPESA_CLEARING, amount))
    return journal_entry_post(
        group_id=group_id,
        kind=EntryKind.SHARE_OUT,
        description=description,
        legs=legs,
        reference=reference,
        member_id=recipient_id,
    )
