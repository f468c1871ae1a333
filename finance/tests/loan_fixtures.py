"""Helpers for the loan, repayment, approval and expense tests: a chama with officials, members and savings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from chamahub.models import OutboxEvent
from finance.choices import AccountKind, EntryKind
from finance.models import (
    ApprovalSignature,
    DisbursementApproval,
    Expense,
    JournalEntry,
    Loan,
    LoanGuarantor,
    LoanInstallment,
    LoanRepayment,
)
from finance.selectors.ledger import account_balance, trial_balance
from finance.services.ledger import credit, debit, journal_entry_post
from groups.choices import Role
from groups.tests.factories import add_member, chair_of, make_group

D = Decimal
LOANS = "/api/v1/finance/loans/"
REPAYMENTS = "/api/v1/finance/loan-repayments/"
GUARANTORS = "/api/v1/finance/loan-guarantors/"
EXPENSES = "/api/v1/finance/expenses/"
APPROVALS = "/api/v1/finance/disbursement-approvals/"
SIGNATURES = "/api/v1/finance/approval-signatures/"


@dataclass
class Chama:
    group: object
    chair: object
    treasurer: object
    secretary: object
    borrower: object
    guarantor: object
    member: object

    def balance(self, kind: str, member=None) -> Decimal:
        return account_balance(group_id=self.group.id, kind=kind, member_id=member.id if member else None)


def give_savings(group, user, amount) -> None:
    """A member's savings, as a confirmed contribution would post them: Dr CASH / Cr MEMBER_SAVINGS."""
    journal_entry_post(
        group_id=group.id,
        kind=EntryKind.CONTRIBUTION,
        description="test savings",
        legs=[debit(AccountKind.CASH, D(amount)), credit(AccountKind.MEMBER_SAVINGS, D(amount), user.id)],
        member_id=user.id,
    )


def make_chama(**rules) -> Chama:
    rules.setdefault("loan_interest_rate", D("12"))
    rules.setdefault("loan_interest_method", "FLAT")
    rules.setdefault("loan_processing_fee", D("0"))
    rules.setdefault("max_loan_multiple", D("3"))
    rules.setdefault("required_approvals", 2)
    group = make_group(**rules)
    chama = Chama(
        group=group,
        chair=chair_of(group),
        treasurer=add_member(group, role=Role.TREASURER).user,
        secretary=add_member(group, role=Role.SECRETARY).user,
        borrower=add_member(group).user,
        guarantor=add_member(group).user,
        member=add_member(group).user,
    )
    return chama


def outsider():
    """A user who is an official of ANOTHER group."""
    return chair_of(make_group())


def fresh(user):
    """The same user without the per-request membership cache (services cache memberships on the object)."""
    return type(user).objects.get(pk=user.pk)


def loan_rows_snapshot() -> tuple:
    """Counts of every row the loan area writes, to assert that a refusal wrote nothing."""
    return (
        Loan.objects.count(),
        LoanGuarantor.objects.exclude(status="PENDING").count(),
        LoanInstallment.objects.count(),
        LoanRepayment.objects.count(),
        DisbursementApproval.objects.count(),
        ApprovalSignature.objects.count(),
        Expense.objects.count(),
        JournalEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def events_named(name: str) -> list[dict]:
    return list(OutboxEvent.objects.filter(name=name).order_by("id").values_list("payload", flat=True))


def count_queries(client, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def assert_books_balance(group) -> None:
    assert trial_balance(group_id=group.id) == 0
