"""
The double-entry ledger. Every balance shown anywhere is derived from postings.

- LedgerAccount: one row of a group's chart of accounts (per-member kinds carry `member`).
- JournalEntry: an immutable, balanced set of postings; a correction is a reversing entry.
- Posting: one leg; `amount` is signed — debit positive, credit negative — so an entry balances
  when its postings sum to zero and the trial balance is the sum of every posting (zero).

LedgerAccount.balance is a running total kept in the same transaction as the postings (under a row
lock), so reads are O(1); tests prove it always equals the sum of the account's postings.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from finance.choices import AccountKind, AccountType, EntryKind

_money = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_DECIMAL_PLACES}


class LedgerAccount(models.Model):
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    balance = models.DecimalField(default=Decimal("0.00"), **_money, help_text="Debit-positive running balance.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["group", "code"], name="ledger_account_unique_code"),
            models.UniqueConstraint(
                fields=["group", "kind", "member"],
                name="ledger_account_unique_member_kind",
                condition=Q(member__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["group", "kind"], name="ledger_account_unique_group_kind", condition=Q(member__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def normal_balance(self) -> Decimal:
        """Balance in the account's natural sign: credit-normal accounts (savings, income) shown positive."""
        if self.account_type in (AccountType.LIABILITY, AccountType.EQUITY, AccountType.INCOME):
            return -self.balance
        return self.balance


class JournalEntry(models.Model):
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    entry_date = models.DateField(db_index=True)
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    description = models.CharField(max_length=255)
    reference = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        help_text="Idempotency key, unique per group (e.g. contribution:42, mpesa receipt).",
    )
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The member this entry is about, if any (for the transactions feed).",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    posted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-entry_date", "-id"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(
                fields=["group", "reference"],
                name="journal_entry_unique_reference",
                condition=Q(reference__isnull=False),
            )
        ]
        indexes = [models.Index(fields=["group", "entry_date"], name="journal_group_date_idx")]

    def __str__(self) -> str:
        return f"JE{self.pk} {self.kind} {self.entry_date}"


class Posting(models.Model):
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Copied from the account, so a member's lines are one indexed filter away.",
    )
    amount = models.DecimalField(**_money, help_text="Debit positive, credit negative; never zero.")
    balance_after = models.DecimalField(**_money, help_text="The account's running balance after this posting.")
    entry_date = models.DateField()
    memo = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["entry_date", "id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_non_zero")]
        indexes = [
            models.Index(fields=["account", "entry_date", "id"], name="posting_account_date_idx"),
            models.Index(fields=["group", "member", "id"], name="posting_group_member_idx"),
            models.Index(fields=["group", "id"], name="posting_group_id_idx"),
            models.Index(fields=["group", "-entry_date", "-id"], name="posting_group_date_desc"),
            models.Index(fields=["group", "member", "-entry_date", "-id"], name="posting_member_date_desc"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount}"

    @property
    def debit(self) -> Decimal:
        return self.amount if self.amount > 0 else Decimal("0.00")

    @property
    def credit(self) -> Decimal:
        return -self.amount if self.amount < 0 else Decimal("0.00")
