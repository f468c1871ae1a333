"""
Money under concurrency (PostgreSQL only: SQLite serialises writers and ignores row locks).

Threads are lined up on a barrier and fire the same money operation at once, each on its own database
connection. Row locks and unique constraints — not check-then-act — must leave exactly one effect.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections

from chamahub.exceptions import DomainError
from finance.choices import AccountKind, EntryKind, LoanStatus, PaymentMethod
from finance.models import JournalEntry, LoanRepayment
from finance.selectors.ledger import account_balance, trial_balance
from finance.services.contributions import contribution_confirm, contribution_record
from finance.services.ledger import credit, debit, journal_entry_post
from finance.services.loans import loan_apply, loan_decide, loan_disburse, loan_repayment_record
from finance.tests.loan_fixtures import fresh, give_savings, make_chama

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs real row locks (PostgreSQL)",
    ),
]
THREADS = 8


def _race(work, n: int = THREADS) -> tuple[list, list]:
    """Run work(i) in n threads released together; return (results, domain errors)."""
    barrier = threading.Barrier(n)
    results, errors, crashes = [], [], []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work(i))
        except DomainError as exc:
            errors.append(exc)
        except Exception as exc:  # anything else is a bug (a 500 in the API)
            crashes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not crashes, crashes
    return results, errors


def test_confirming_one_contribution_concurrently_posts_it_once():
    chama = make_chama()
    contribution = contribution_record(
        actor=chama.treasurer,
        group_id=chama.group.id,
        member_id=chama.member.id,
        amount=Decimal("750.00"),
        payment_method=PaymentMethod.MPESA,
    )
    results, errors = _race(lambda i: contribution_confirm(contribution_id=contribution.id, actor=None))
    assert len(results) + len(errors) == THREADS and not errors  # confirming a confirmed one is a no-op
    assert JournalEntry.objects.filter(reference=f"contribution:{contribution.id}").count() == 1
    assert account_balance(group_id=chama.group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=chama.member.id) == (
        Decimal("750.00")
    )
    assert trial_balance(group_id=chama.group.id) == 0


def _approved_loan(chama, principal: Decimal):
    give_savings(chama.group, chama.borrower, principal)
    loan = loan_apply(
        group_id=chama.group.id,
        borrower=fresh(chama.borrower),
        principal_amount=principal,
        duration_months=6,
        purpose="stock",
    )
    for official in (chama.chair, chama.treasurer):
        loan_decide(loan_id=loan.id, approver=fresh(official), approved=True)
    return loan


def test_disbursing_one_loan_concurrently_pays_out_once():
    chama = make_chama()
    loan = _approved_loan(chama, Decimal("3000.00"))
    results, errors = _race(lambda i: loan_disburse(loan_id=loan.id, actor=fresh(chama.treasurer)))
    assert len(results) == 1 and len(errors) == THREADS - 1
    assert JournalEntry.objects.filter(kind=EntryKind.LOAN_DISBURSEMENT, group=chama.group).count() == 1
    assert account_balance(
        group_id=chama.group.id, kind=AccountKind.LOANS_RECEIVABLE, member_id=chama.borrower.id
    ) == Decimal("3000.00")
    assert trial_balance(group_id=chama.group.id) == 0


def test_concurrent_repayments_never_exceed_what_is_owed():
    chama = make_chama()
    loan = _approved_loan(chama, Decimal("1200.00"))
    loan_disburse(loan_id=loan.id, actor=fresh(chama.treasurer))
    loan.refresh_from_db()
    owed = loan.total_amount  # principal + interest + fee
    share = (owed / 3).quantize(Decimal("0.01"))
    # 8 officials' cash receipts of a third of the debt each, at the same moment: only 3 can fit.
    results, errors = _race(
        lambda i: loan_repayment_record(
            loan_id=loan.id, amount=share, payment_method=PaymentMethod.CASH, actor=fresh(chama.treasurer)
        )
    )
    assert len(results) == 3 and len(errors) == THREADS - 3
    paid = sum((r.amount for r in LoanRepayment.objects.filter(loan=loan)), Decimal("0"))
    assert paid == share * 3 <= owed
    assert trial_balance(group_id=chama.group.id) == 0
    assert JournalEntry.objects.filter(kind=EntryKind.LOAN_REPAYMENT, group=chama.group).count() == 3
    loan.refresh_from_db()
    assert loan.status in (LoanStatus.ACTIVE, LoanStatus.REPAID)


def test_two_loans_cannot_overdraw_the_cash_account():
    chama = make_chama()
    first = _approved_loan(chama, Decimal("2000.00"))
    second = _approved_loan(chama, Decimal("2000.00"))
    cash = account_balance(group_id=chama.group.id, kind=AccountKind.CASH)
    assert cash == Decimal("4000.00")
    # Spend a quarter of the cash: 3,000 left, so only one of the two 2,000 loans can be paid out.
    journal_entry_post(
        group_id=chama.group.id,
        kind=EntryKind.EXPENSE,
        description="spent",
        legs=[debit(AccountKind.EXPENSES, Decimal("1000.00")), credit(AccountKind.CASH, Decimal("1000.00"))],
    )
    loans = [first, second]
    results, errors = _race(lambda i: loan_disburse(loan_id=loans[i].id, actor=fresh(chama.treasurer)), n=2)
    assert len(results) == 1 and len(errors) == 1
    assert account_balance(group_id=chama.group.id, kind=AccountKind.CASH) == Decimal("1000.00")
