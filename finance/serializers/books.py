"""Serializers for the books: statements, transactions feed, wallets, group summaries, ledger routes."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chamahub.api.fields import MoneyField
from finance.choices import AccountKind, AccountType, EntryKind
from finance.models import JournalEntry, LedgerAccount, Posting
from finance.selectors.ledger import signed, type_sign

# Kinds are plain strings in the schema (listed in the help text): drf-spectacular would otherwise name
# enums by field name, and "kind" means an account kind here and an entry kind there.
_ACCOUNT_KINDS = " | ".join(AccountKind.values)
_ENTRY_KINDS = " | ".join(EntryKind.values)


def _signed_money(**kwargs) -> MoneyField:
    return MoneyField(allow_negative=True, read_only=True, **kwargs)


def _user_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.phone_number


# --- Statements -------------------------------------------------------------------------------------


class StatementQuerySerializer(serializers.Serializer):
    """Query parameters shared by both statements; `date_from`/`date_to` are inclusive entry dates."""

    group = serializers.IntegerField(min_value=1)
    member = serializers.IntegerField(min_value=1, required=False)
    account = serializers.CharField(required=False, allow_blank=True, max_length=30)
    date_from = serializers.DateField(required=False, allow_null=True)
    date_to = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_to": ["date_to must not be before date_from."]})
        return attrs


class StatementLineSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The entry date.")
    entry_id = serializers.IntegerField()
    posting_id = serializers.IntegerField()
    kind = serializers.CharField(help_text=f"The journal entry's kind: {_ENTRY_KINDS}.")
    description = serializers.CharField()
    debit = _signed_money(help_text="Debit to the account (accounting sense).")
    credit = _signed_money(help_text="Credit to the account (accounting sense).")
    balance = _signed_money(help_text="Running balance after this line, in the account's natural sign.")


class _StatementBaseSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    account = serializers.CharField(help_text="savings|loans|fines for members; the lower-case kind for groups.")
    account_kind = serializers.CharField(help_text=f"The account kind: {_ACCOUNT_KINDS}.")
    currency = serializers.CharField()
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    opening_balance = _signed_money(help_text="Σ postings dated before date_from, natural sign.")
    lines = StatementLineSerializer(many=True)
    total_debits = _signed_money()
    total_credits = _signed_money()
    closing_balance = _signed_money(help_text="opening_balance + the lines = the ledger balance as of date_to.")


class MemberStatementSerializer(_StatementBaseSerializer):
    member = serializers.IntegerField()
    member_name = serializers.CharField()


class GroupStatementSerializer(_StatementBaseSerializer):
    pass


# --- Transactions feed ------------------------------------------------------------------------------


class TransactionSerializer(serializers.ModelSerializer):
    """
    One ledger line (a Posting), with the field names of the first web client's feed.
    amount and balance_after are in the account's natural sign (a contribution is +500 on savings);
    debit/credit are in the accounting sense.
    """

    entry_id = serializers.IntegerField(read_only=True)
    type = serializers.SerializerMethodField(help_text="The entry kind, lower case (contribution, loan_repayment…).")
    category = serializers.CharField(source="account.kind", read_only=True, help_text="The account kind.")
    account_code = serializers.CharField(source="account.code", read_only=True)
    amount = _signed_money(source="natural_amount")
    debit = _signed_money()
    credit = _signed_money()
    balance_after = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="entry.posted_at", read_only=True)
    group = serializers.IntegerField(source="group_id", read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)
    member = serializers.SerializerMethodField()
    user_name = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    reference = serializers.CharField(source="entry.reference", read_only=True, allow_null=True)

    class Meta:
        model = Posting
        fields = [
            "id",
            "entry_id",
            "type",
            "category",
            "account_code",
            "amount",
            "debit",
            "credit",
            "balance_after",
            "description",
            "reference",
            "created_at",
            "entry_date",
            "group",
            "group_name",
            "member",
            "user_name",
            "status",
        ]
        read_only_fields = fields

    def get_type(self, obj: Posting) -> str:
        return obj.entry.kind.lower()

    @extend_schema_field(MoneyField(allow_negative=True, help_text="The account's balance after this line."))
    def get_balance_after(self, obj: Posting) -> str:
        return f"{signed(obj.balance_after, type_sign(obj.account.account_type)):.2f}"

    def get_description(self, obj: Posting) -> str:
        return obj.memo or obj.entry.description

    def get_member(self, obj: Posting) -> int | None:
        return obj.member_id or obj.entry.member_id

    def get_user_name(self, obj: Posting) -> str:
        return _user_name(obj.member if obj.member_id else obj.entry.member)

    def get_status(self, obj: Posting) -> str:
        return "reversed" if getattr(obj, "is_reversed", False) else "completed"


# --- Wallets ----------------------------------------------------------------------------------------


class WalletGroupSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    group_name = serializers.CharField()
    currency = serializers.CharField()
    savings = _signed_money()
    loans_outstanding = _signed_money()
    fines_outstanding = _signed_money()
    net = _signed_money(help_text="savings − loans_outstanding − fines_outstanding.")


class WalletSerializer(serializers.Serializer):
    """The caller's money across their ACTIVE groups, from the ledger (legacy MemberWallet field names)."""

    id = serializers.IntegerField(help_text="The user's id (one wallet per user).")
    user = serializers.IntegerField()
    user_email = serializers.EmailField(allow_null=True)
    user_name = serializers.CharField()
    balance = _signed_money(help_text="Σ of the caller's savings across their active groups.")
    loans_outstanding = _signed_money()
    fines_outstanding = _signed_money()
    net = _signed_money()
    currency = serializers.CharField()
    groups = WalletGroupSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="When these figures were computed.")


# --- Group summary ----------------------------------------------------------------------------------


class GroupIncomeSerializer(serializers.Serializer):
    interest = _signed_money()
    fees = _signed_money()
    fines = _signed_money()
    investment = _signed_money()


class GroupSummarySerializer(serializers.Serializer):
    group = serializers.IntegerField()
    group_name = serializers.CharField()
    currency = serializers.CharField()
    cash_balance = _signed_money()
    mpesa_clearing = _signed_money()
    suspense = _signed_money()
    total_savings = _signed_money()
    loans_outstanding = _signed_money()
    fines_outstanding = _signed_money()
    investments_at_cost = _signed_money()
    income = GroupIncomeSerializer()
    expenses = _signed_money()
    bad_debts = _signed_money()
    retained_earnings = _signed_money()
    member_count = serializers.IntegerField()
    active_loans = serializers.IntegerField(help_text="Loans in status ACTIVE.")
    trial_balance = _signed_money(help_text="Σ of debit-positive account balances: always 0.00.")


# --- Ledger accounts and journal entries -------------------------------------------------------------


class LedgerAccountSerializer(serializers.ModelSerializer):
    balance = serializers.SerializerMethodField()
    debit_balance = _signed_money(source="balance", help_text="Debit-positive running balance.")
    member_name = serializers.SerializerMethodField()
    account_type = serializers.ChoiceField(choices=AccountType.choices, read_only=True)
    kind = serializers.CharField(read_only=True, help_text=f"{_ACCOUNT_KINDS}.")

    class Meta:
        model = LedgerAccount
        fields = [
            "id",
            "group",
            "code",
            "name",
            "account_type",
            "kind",
            "member",
            "member_name",
            "balance",
            "debit_balance",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneyField(allow_negative=True, help_text="In the account's natural sign."))
    def get_balance(self, obj: LedgerAccount) -> str:
        return f"{signed(obj.balance, type_sign(obj.account_type)):.2f}"

    def get_member_name(self, obj: LedgerAccount) -> str:
        return _user_name(obj.member)


class PostingBriefSerializer(serializers.ModelSerializer):
    account_code = serializers.CharField(source="account.code", read_only=True)
    account_kind = serializers.CharField(source="account.kind", read_only=True, help_text=f"{_ACCOUNT_KINDS}.")
    amount = _signed_money(help_text="Debit positive, credit negative.")
    debit = _signed_money()
    credit = _signed_money()
    balance_after = _signed_money(help_text="The account's debit-positive balance after this posting.")

    class Meta:
        model = Posting
        fields = ["id", "account", "account_code", "account_kind", "member", "amount", "debit", "credit"]
        fields += ["balance_after", "memo"]
        read_only_fields = fields


class JournalEntrySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text=f"{_ENTRY_KINDS}.")
    reversed_by = serializers.IntegerField(source="reversed_by_entry_id", read_only=True, allow_null=True)
    is_reversed = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField(help_text="Σ of the debits (= Σ of the credits).")
    postings = PostingBriefSerializer(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields = [
            "id",
            "group",
            "entry_date",
            "kind",
            "description",
            "reference",
            "reverses",
            "reversed_by",
            "is_reversed",
            "member",
            "created_by",
            "posted_at",
            "total",
            "postings",
        ]
        read_only_fields = fields

    def get_is_reversed(self, obj: JournalEntry) -> bool:
        return getattr(obj, "reversed_by_entry_id", None) is not None

    @extend_schema_field(MoneyField(allow_negative=True))
    def get_total(self, obj: JournalEntry) -> str:
        total = sum((p.amount for p in obj.postings.all() if p.amount > 0), Decimal("0.00"))
        return f"{total:.2f}"
