"""
Seed one large group for the benchmark: 1,000 members x 24 months = 24,000 confirmed contributions,
2,000 loans (disbursed, with a 12-month schedule) and 6,000 repayments — every money movement a
balanced journal entry, written with bulk inserts (the services post one entry at a time, which would
take minutes here). Ends by checking the invariants: trial balance 0 and every account's running
balance equal to the sum of its postings.

Usage (from the repo root): DATABASE_URL=postgres://... .venv/bin/python bench/seed_large.py
Prints the group id, a member's phone and an official's phone (password: bench-pass-123).
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chamahub.settings.base")

import django

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import DecimalField, OuterRef, Subquery, Sum  # noqa: E402
from django.db.models.functions import Coalesce  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from finance.choices import AccountKind, ContributionStatus, EntryKind, LoanStatus, PaymentMethod  # noqa: E402
from finance.models import (  # noqa: E402
    Contribution,
    JournalEntry,
    LedgerAccount,
    Loan,
    LoanInstallment,
    LoanRepayment,
    Posting,
)
from finance.services.amortization import schedule_build  # noqa: E402
from finance.services.ledger import chart_of_accounts_create, ledger_account_get_or_create  # noqa: E402
from groups.choices import MembershipStatus, Role  # noqa: E402
from groups.models import ChamaGroup, Membership  # noqa: E402
from groups.services import group_create  # noqa: E402

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "1000"))
MONTHS = int(os.environ.get("BENCH_MONTHS", "24"))
LOANS_PER_MEMBER = 2
REPAYMENTS_PER_LOAN = 3
PASSWORD = "bench-pass-123"
CODE = "BENCH01"
BATCH = 2000
TZ = timezone.get_current_timezone()


def _month_start(start: date, k: int) -> date:
    month = start.month - 1 + k
    return date(start.year + month // 12, month % 12 + 1, 1)


@transaction.atomic
def seed() -> ChamaGroup:
    existing = ChamaGroup.objects.filter(code=CODE).first()
    if existing is not None:
        print(f"group {existing.id} already seeded")
        return existing
    started = datetime.now()
    hashed = make_password(PASSWORD)
    cycle_start = _month_start(timezone.localdate().replace(day=1), -MONTHS)
    chair = User.objects.create(phone_number="+254700900000", first_name="Bench", last_name="Chair", password=hashed)
    group = group_create(
        creator=chair,
        name="Benchmark Chama",
        code=CODE,
        cycle_start_date=cycle_start,
        contribution_amount=Decimal("1000.00"),
        required_approvals=1,
        max_loan_multiple=Decimal("3.00"),
    )
    chart_of_accounts_create(group_id=group.id)
    users = User.objects.bulk_create(
        [
            User(phone_number=f"+2547009{n:05d}", first_name=f"Member{n}", last_name="Bench", password=hashed)
            for n in range(1, MEMBERS)
        ],
        batch_size=BATCH,
    )
    joined = timezone.make_aware(datetime.combine(cycle_start, time(9)), TZ)
    Membership.objects.bulk_create(
        [
            Membership(
                group=group,
                user=u,
                role=Role.TREASURER if i == 0 else Role.MEMBER,
                status=MembershipStatus.ACTIVE,
                member_number=i + 2,
                joined_at=joined,
                approved_at=joined,
            )
            for i, u in enumerate(users)
        ],
        batch_size=BATCH,
    )
    members = [chair, *users]
    for kind in (AccountKind.MEMBER_SAVINGS, AccountKind.LOANS_RECEIVABLE):
        ledger_account_get_or_create(group_id=group.id, kind=kind, member_id=chair.id)
        LedgerAccount.objects.bulk_create(
            [
                LedgerAccount(
                    group=group,
                    kind=kind,
                    member=u,
                    code=f"{'2000' if kind == AccountKind.MEMBER_SAVINGS else '1300'}-{u.id}",
                    name=f"{kind.label} — member {u.id}",
                    account_type="LIABILITY" if kind == AccountKind.MEMBER_SAVINGS else "ASSET",
                )
                for u in users
            ],
            batch_size=BATCH,
        )
    accounts = {(a.kind, a.member_id): a for a in LedgerAccount.objects.filter(group=group)}
    running: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))

    def leg(entry, kind, member_id, amount, day):
        account = accounts[(kind, member_id)]
        running[account.id] += amount
        return Posting(
            group=group,
            entry=entry,
            account=account,
            member_id=account.member_id,
            amount=amount,
            balance_after=running[account.id],
            entry_date=day,
        )

    # Contributions
    contributions = []
    for m in range(MONTHS):
        period = _month_start(cycle_start, m)
        for i, u in enumerate(members):
            paid_day = period + timedelta(days=(i % 20))
            paid_at = timezone.make_aware(datetime.combine(paid_day, time(10)), TZ)
            contributions.append(
                Contribution(
                    group=group,
                    member=u,
                    amount=Decimal("1000.00"),
                    period=period,
                    payment_method=PaymentMethod.MPESA,
                    status=ContributionStatus.CONFIRMED,
                    reference_number=f"B{m:02d}{i:05d}X",
                    paid_at=paid_at,
                    confirmed_at=paid_at,
                )
            )
    with transaction.atomic():
        Contribution.objects.bulk_create(contributions, batch_size=BATCH)
        entries = JournalEntry.objects.bulk_create(
            [
                JournalEntry(
                    group=group,
                    entry_date=c.paid_at.astimezone(TZ).date(),
                    kind=EntryKind.CONTRIBUTION,
                    description=f"Contribution for {c.period:%b %Y}",
                    reference=f"contribution:{c.id}",
                    member_id=c.member_id,
                )
                for c in contributions
            ],
            batch_size=BATCH,
        )
        postings = []
        for c, e in zip(contributions, entries, strict=True):
            c.journal_entry_id = e.id
            postings.append(leg(e, AccountKind.CASH, None, c.amount, e.entry_date))
            postings.append(leg(e, AccountKind.MEMBER_SAVINGS, c.member_id, -c.amount, e.entry_date))
        Posting.objects.bulk_create(postings, batch_size=BATCH)
        Contribution.objects.bulk_update(contributions, ["journal_entry"], batch_size=BATCH)
    print(f"contributions: {len(contributions)} ({datetime.now() - started})")

    # Loans, disbursed at month MONTHS-12 with a 12-month FLAT schedule, 3 instalments repaid.
    disbursed_on = _month_start(cycle_start, max(MONTHS - 12, 0)) + timedelta(days=14)
    loans, installments, repayments = [], [], []
    for i, u in enumerate(members):
        for k in range(LOANS_PER_MEMBER):
            principal = Decimal(5000 + 1000 * ((i + k) % 5))
            plan = schedule_build(
                principal=principal,
                annual_rate=Decimal("12"),
                months=12,
                method="FLAT",
                start_date=disbursed_on,
                processing_fee=Decimal("0"),
            )
            loans.append(
                (
                    Loan(
                        group=group,
                        borrower=u,
                        principal_amount=principal,
                        interest_rate=Decimal("12"),
                        interest_method="FLAT",
                        duration_months=12,
                        purpose="Stock for the shop",
                        status=LoanStatus.ACTIVE,
                        total_interest=plan.total_interest,
                        total_amount=plan.total_amount,
                        monthly_payment=plan.monthly_payment,
                        disbursed_at=timezone.make_aware(datetime.combine(disbursed_on, time(11)), TZ),
                        disbursement_date=disbursed_on,
                        due_date=plan.lines[-1].due_date,
                    ),
                    plan,
                )
            )
    with transaction.atomic():
        Loan.objects.bulk_create([loan for loan, _ in loans], batch_size=BATCH)
        disb_entries = JournalEntry.objects.bulk_create(
            [
                JournalEntry(
                    group=group,
                    entry_date=disbursed_on,
                    kind=EntryKind.LOAN_DISBURSEMENT,
                    description=f"Loan {loan.id} disbursed",
                    reference=f"loan-disbursement:{loan.id}",
                    member_id=loan.borrower_id,
                )
                for loan, _ in loans
            ],
            batch_size=BATCH,
        )
        postings = []
        for (loan, plan), e in zip(loans, disb_entries, strict=True):
            postings.append(leg(e, AccountKind.LOANS_RECEIVABLE, loan.borrower_id, loan.principal_amount, disbursed_on))
            postings.append(leg(e, AccountKind.CASH, None, -loan.principal_amount, disbursed_on))
            for n, line in enumerate(plan.lines, start=1):
                paid = n <= REPAYMENTS_PER_LOAN
                installments.append(
                    LoanInstallment(
                        group=group,
                        loan=loan,
                        number=n,
                        due_date=line.due_date,
                        principal_due=line.principal,
                        interest_due=line.interest,
                        fee_due=line.fee,
                        principal_paid=line.principal if paid else Decimal("0.00"),
                        interest_paid=line.interest if paid else Decimal("0.00"),
                        fee_paid=line.fee if paid else Decimal("0.00"),
                    )
                )
                if paid:
                    paid_at = timezone.make_aware(datetime.combine(line.due_date, time(12)), TZ)
                    repayments.append(
                        LoanRepayment(
                            group=group,
                            loan=loan,
                            member_id=loan.borrower_id,
                            amount=line.principal + line.interest + line.fee,
                            fee_portion=line.fee,
                            interest_portion=line.interest,
                            principal_portion=line.principal,
                            payment_method=PaymentMethod.MPESA,
                            paid_at=paid_at,
                        )
                    )
        Posting.objects.bulk_create(postings, batch_size=BATCH)
        LoanInstallment.objects.bulk_create(installments, batch_size=BATCH)
        LoanRepayment.objects.bulk_create(repayments, batch_size=BATCH)
        rep_entries = JournalEntry.objects.bulk_create(
            [
                JournalEntry(
                    group=group,
                    entry_date=r.paid_at.astimezone(TZ).date(),
                    kind=EntryKind.LOAN_REPAYMENT,
                    description=f"Repayment of loan {r.loan_id}",
                    reference=f"loan-repayment:{r.id}",
                    member_id=r.member_id,
                )
                for r in repayments
            ],
            batch_size=BATCH,
        )
        postings = []
        for r, e in zip(repayments, rep_entries, strict=True):
            r.journal_entry_id = e.id
            postings.append(leg(e, AccountKind.CASH, None, r.amount, e.entry_date))
            postings.append(leg(e, AccountKind.INTEREST_INCOME, None, -r.interest_portion, e.entry_date))
            postings.append(leg(e, AccountKind.LOANS_RECEIVABLE, r.member_id, -r.principal_portion, e.entry_date))
        Posting.objects.bulk_create([p for p in postings if p.amount != 0], batch_size=BATCH)
        LoanRepayment.objects.bulk_update(repayments, ["journal_entry"], batch_size=BATCH)
        totals = Posting.objects.filter(account=OuterRef("pk")).values("account").annotate(t=Sum("amount")).values("t")
        LedgerAccount.objects.filter(group=group).update(
            balance=Coalesce(
                Subquery(totals, output_field=DecimalField(max_digits=14, decimal_places=2)), Decimal("0.00")
            )
        )
    print(f"loans: {len(loans)}, repayments: {len(repayments)} ({datetime.now() - started})")
    trial = Posting.objects.filter(group=group).aggregate(t=Sum("amount"))["t"]
    assert trial == 0, f"trial balance {trial}"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return group


if __name__ == "__main__":
    g = seed()
    treasurer = Membership.objects.filter(group=g, role=Role.TREASURER).select_related("user").first()
    member = Membership.objects.filter(group=g, role=Role.MEMBER).select_related("user").first()
    print(f"GROUP={g.id} TREASURER={treasurer.user.phone_number} MEMBER_ID={member.user_id}")
