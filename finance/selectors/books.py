"""
Reads for "the books": statements, the transactions feed, wallets, group summaries, ledger routes.

Everything here is derived from postings (LedgerAccount.balance is their running total, kept in the
same transaction). Scoping follows groups.selectors: only ACTIVE members see a group; a plain member
sees only lines on their own accounts; officials see every line of their groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from chamahub.exceptions import ValidationFailed
from chamahub.money import ZERO, money_str
from finance.choices import PER_MEMBER_KINDS, AccountKind, LoanStatus
from finance.models import JournalEntry, LedgerAccount, Loan, Posting
from finance.selectors.ledger import kind_totals, natural_amount_expression, normal_sign, signed
from groups.choices import MembershipStatus
from groups.models import ChamaGroup, Membership
from groups.selectors import active_group_ids, memberships_by_group, official_group_ids, own_rows_q

# --- Statements -------------------------------------------------------------------------------------

MEMBER_ACCOUNT_ALIASES = {
    "savings": AccountKind.MEMBER_SAVINGS,
    "loans": AccountKind.LOANS_RECEIVABLE,
    "fines": AccountKind.FINES_RECEIVABLE,
}
KIND_ALIASES = {kind: alias for alias, kind in MEMBER_ACCOUNT_ALIASES.items()}

# A statement returns every line of the window asked for (no pagination, so opening + Σ lines = closing
# always holds within one response). A window with more lines than this is refused with 400: ask for a
# shorter date range.
STATEMENT_MAX_LINES = 10_000


def account_kind_parse(value: str | None, *, default: str, member_level: bool, field: str = "account") -> str:
    """'savings'/'loans'/'fines' or any AccountKind name, any case -> AccountKind; 400 otherwise."""
    raw = (value or "").strip()
    if not raw:
        return default
    alias = MEMBER_ACCOUNT_ALIASES.get(raw.lower())
    if alias is not None:
        return alias
    try:
        kind = AccountKind(raw.upper())
    except ValueError:
        kind = None
    if kind is None or (member_level and kind not in PER_MEMBER_KINDS):
        allowed = (
            "savings, loans, fines"
            if member_level
            else ", ".join(k.lower() for k in AccountKind if k not in PER_MEMBER_KINDS)
        )
        raise ValidationFailed(f"Unknown account {raw!r}.", fields={field: [f"Choose one of: {allowed}."]})
    return kind


@dataclass(frozen=True)
class Statement:
    group_id: int
    kind: str
    member_id: int | None
    date_from: date | None
    date_to: date | None
    opening_balance: Decimal
    lines: list[dict]
    total_debits: Decimal
    total_credits: Decimal
    closing_balance: Decimal


def statement_build(
    *, group_id: int, kind: str, member_id: int | None = None, date_from: date | None, date_to: date | None
) -> Statement:
    """
    One account's statement (or, for a per-member kind with member_id=None, the control view over
    every member's account of that kind), in the account's natural sign.

    At most three queries whatever the number of lines: the account id (group-level kinds only, so the
    (account, entry_date, id) index serves the lines), the opening balance (one aggregate over postings
    dated before date_from), and the lines (one values() query ordered by entry_date, id).
    Debit and credit are in the accounting sense; balance moves by sign × (debit − credit), so a
    credit to savings raises a savings balance and a debit to cash raises the cash book.
    """
    sign = normal_sign(kind)
    if member_id is not None:  # the (group, member) posting index, then the account's kind
        scope = Q(group_id=group_id, member_id=member_id, account__kind=kind)
    elif kind in PER_MEMBER_KINDS:  # control view over every member's account of that kind
        scope = Q(group_id=group_id, account__kind=kind)
    else:
        account_id = (
            LedgerAccount.objects.filter(group_id=group_id, kind=kind, member_id=member_id)
            .values_list("id", flat=True)
            .first()
        )
        if account_id is None:  # never used: an empty statement
            return Statement(group_id, kind, member_id, date_from, date_to, ZERO, [], ZERO, ZERO, ZERO)
        scope = Q(account_id=account_id)

    opening = ZERO
    if date_from is not None:
        raw = Posting.objects.filter(scope, entry_date__lt=date_from).aggregate(t=Sum("amount"))["t"]
        opening = signed(raw, sign)

    window = Posting.objects.filter(scope)
    if date_from is not None:
        window = window.filter(entry_date__gte=date_from)
    if date_to is not None:
        window = window.filter(entry_date__lte=date_to)
    rows = list(
        window.order_by("entry_date", "id").values(
            "id", "entry_id", "entry_date", "amount", "memo", "entry__kind", "entry__description"
        )[: STATEMENT_MAX_LINES + 1]
    )
    if len(rows) > STATEMENT_MAX_LINES:
        raise ValidationFailed(
            f"More than {STATEMENT_MAX_LINES} lines in this window; ask for a shorter date range.",
            fields={"date_from": ["Narrow the window with date_from / date_to."]},
            code="statement_too_long",
        )

    balance = opening
    total_debits = ZERO
    total_credits = ZERO
    lines = []
    for row in rows:
        amount = row["amount"]
        debit_amount = amount if amount > 0 else ZERO
        credit_amount = -amount if amount < 0 else ZERO
        total_debits += debit_amount
        total_credits += credit_amount
        balance = balance + amount * sign + ZERO
        lines.append(
            {
                "date": row["entry_date"].isoformat(),
                "entry_id": row["entry_id"],
                "posting_id": row["id"],
                "kind": row["entry__kind"],
                "description": row["memo"] or row["entry__description"],
                "debit": money_str(debit_amount),
                "credit": money_str(credit_amount),
                "balance": money_str(balance),
            }
        )
    return Statement(
        group_id, kind, member_id, date_from, date_to, opening, lines, total_debits, total_credits, balance
    )


def statement_member_get(*, group_id: int, member_id: int) -> Membership | None:
    """The member's membership of the group in any status (a former member still has a statement)."""
    return Membership.objects.filter(group_id=group_id, user_id=member_id).select_related("user").first()


# --- Transactions feed ------------------------------------------------------------------------------


def posting_feed_list(*, user) -> QuerySet[Posting]:
    """
    Ledger lines the caller may see: every posting of the groups where they are an official, and
    postings on their own accounts (member = caller) in the other groups where they are active.
    Annotated with `is_reversed` and `natural_amount` (the amount in the account's natural sign).
    """
    scope = own_rows_q(user, owner_field="member_id")
    return (
        Posting.objects.filter(scope)
        .select_related("entry", "entry__member", "account", "group", "member")
        .annotate(
            is_reversed=Exists(JournalEntry.objects.filter(reverses_id=OuterRef("entry_id"))),
            natural_amount=natural_amount_expression(),
        )
        .order_by("-entry_date", "-id")
    )


# --- Wallets ----------------------------------------------------------------------------------------


def wallet_rows(*, user, group_ids: list[int] | None = None) -> list[dict]:
    """
    One row per ACTIVE membership of the caller: {group, group_name, currency, savings,
    loans_outstanding, fines_outstanding, net}. Two queries (+ the cached memberships): group names,
    and the caller's per-member account balances across those groups.
    """
    ids = sorted(memberships_by_group(user)) if group_ids is None else group_ids
    if not ids:
        return []
    groups = {g["id"]: g for g in ChamaGroup.objects.filter(id__in=ids).values("id", "name", "currency").order_by()}
    balances: dict[int, dict[str, Decimal]] = {gid: {} for gid in ids}
    for row in LedgerAccount.objects.filter(group_id__in=ids, member_id=user.pk).values_list(
        "group_id", "kind", "balance"
    ):
        gid, kind, balance = row
        balances[gid][kind] = signed(balance, normal_sign(kind))
    rows = []
    for gid in sorted(ids, key=lambda g: (groups.get(g, {}).get("name", ""), g)):
        if gid not in groups:
            continue
        savings = balances[gid].get(AccountKind.MEMBER_SAVINGS, ZERO)
        loans = balances[gid].get(AccountKind.LOANS_RECEIVABLE, ZERO)
        fines = balances[gid].get(AccountKind.FINES_RECEIVABLE, ZERO)
        rows.append(
            {
                "group": gid,
                "group_name": groups[gid]["name"],
                "currency": groups[gid]["currency"],
                "savings": savings,
                "loans_outstanding": loans,
                "fines_outstanding": fines,
                "net": savings - loans - fines,
            }
        )
    return rows


# --- Group summary ----------------------------------------------------------------------------------


def group_summaries(*, group_ids: list[int]) -> list[dict]:
    """
    The books of each group at a glance, in three queries for any number of groups: balances by
    account kind (kind_totals), group names with active member counts, and active loan counts.

    trial_balance is Σ of the debit-positive account balances (each the running total of its
    postings), so it is zero in a healthy ledger.
    """
    if not group_ids:
        return []
    totals = kind_totals(group_ids=group_ids)
    active_members = (
        Membership.objects.filter(group_id=OuterRef("pk"), status=MembershipStatus.ACTIVE)
        .order_by()
        .values("group_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    active_loans = (
        Loan.objects.filter(group_id=OuterRef("pk"), status=LoanStatus.ACTIVE)
        .order_by()
        .values("group_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    groups = list(
        ChamaGroup.objects.filter(id__in=group_ids)
        .annotate(
            member_count=Coalesce(Subquery(active_members), 0),
            active_loan_count=Coalesce(Subquery(active_loans), 0),
        )
        .values("id", "name", "currency", "member_count", "active_loan_count")
        .order_by("name", "id")
    )
    out = []
    for group in groups:
        t = totals.get(group["id"], {})

        def get(kind: str, _t=t) -> Decimal:
            return _t.get(kind, ZERO)

        trial = sum((signed(amount, normal_sign(kind)) for kind, amount in t.items()), ZERO) + ZERO
        out.append(
            {
                "group": group["id"],
                "group_name": group["name"],
                "currency": group["currency"],
                "cash_balance": get(AccountKind.CASH),
                "mpesa_clearing": get(AccountKind.MPESA_CLEARING),
                "suspense": get(AccountKind.SUSPENSE),
                "total_savings": get(AccountKind.MEMBER_SAVINGS),
                "loans_outstanding": get(AccountKind.LOANS_RECEIVABLE),
                "fines_outstanding": get(AccountKind.FINES_RECEIVABLE),
                "investments_at_cost": get(AccountKind.INVESTMENTS),
                "income": {
                    "interest": get(AccountKind.INTEREST_INCOME),
                    "fees": get(AccountKind.FEES_INCOME),
                    "fines": get(AccountKind.FINES_INCOME),
                    "investment": get(AccountKind.INVESTMENT_INCOME),
                },
                "expenses": get(AccountKind.EXPENSES),
                "bad_debts": get(AccountKind.BAD_DEBTS),
                "retained_earnings": get(AccountKind.RETAINED_EARNINGS),
                "member_count": group["member_count"],
                "active_loans": group["active_loan_count"],
                "trial_balance": trial,
            }
        )
    return out


# --- Read-only ledger routes (officials) ------------------------------------------------------------


def ledger_account_list(*, user) -> QuerySet[LedgerAccount]:
    """The chart of accounts of the groups where the caller is an official."""
    return (
        LedgerAccount.objects.filter(group_id__in=official_group_ids(user))
        .select_related("member")
        .order_by("group_id", "code")
    )


def ledger_account_visible(*, user) -> QuerySet[LedgerAccount]:
    """Accounts of every group the caller is active in (detail: 404 outside, 403 for plain members)."""
    return LedgerAccount.objects.filter(group_id__in=active_group_ids(user)).select_related("member")


def _entry_annotations(qs: QuerySet[JournalEntry]) -> QuerySet[JournalEntry]:
    return qs.annotate(
        reversed_by_entry_id=Subquery(JournalEntry.objects.filter(reverses_id=OuterRef("pk")).values("id")[:1])
    ).prefetch_related(
        Prefetch("postings", queryset=Posting.objects.select_related("account").order_by("id")),
    )


def journal_entry_list(*, user) -> QuerySet[JournalEntry]:
    """Journal entries of the groups where the caller is an official, postings prefetched (one query)."""
    return _entry_annotations(JournalEntry.objects.filter(group_id__in=official_group_ids(user))).order_by(
        "-entry_date", "-id"
    )


def journal_entry_visible(*, user) -> QuerySet[JournalEntry]:
    return _entry_annotations(JournalEntry.objects.filter(group_id__in=active_group_ids(user)))
