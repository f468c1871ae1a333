"""The daily overdue scan: loan.overdue once per late instalment; DEFAULTED after LOAN_DEFAULT_DAYS."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import override_settings

from finance.models import Loan, LoanInstallment
from finance.services.approvals import approval_sign
from finance.services.loans import loan_apply, loan_disburse, loan_repayment_record, loans_overdue_scan
from finance.tasks import loans_overdue_scan_task
from finance.tests.loan_fixtures import D, events_named, fresh, give_savings, make_chama

pytestmark = pytest.mark.django_db

DISBURSED_ON = date(2025, 1, 15)  # instalments due 15 Feb, 15 Mar, 15 Apr


@pytest.fixture
def loan():
    chama = make_chama()
    give_savings(chama.group, chama.borrower, "10000")
    loan = loan_apply(
        group_id=chama.group.id,
        borrower=fresh(chama.borrower),
        principal_amount=D("3000"),
        duration_months=3,
        purpose="x",
    )
    for official in (chama.chair, chama.treasurer):
        approval_sign(approval_id=loan.approval.id, approver=fresh(official), approved=True)
    loan = loan_disburse(loan_id=loan.id, actor=fresh(chama.treasurer), disbursed_on=DISBURSED_ON)
    loan.treasurer = chama.treasurer
    return loan


def test_nothing_is_published_before_an_instalment_is_late(loan):
    assert loans_overdue_scan(as_of=date(2025, 2, 15)) == 0
    assert events_named("loan.overdue") == []


def test_overdue_is_published_once_per_instalment(loan):
    assert loans_overdue_scan(as_of=date(2025, 2, 16)) == 1
    assert loans_overdue_scan(as_of=date(2025, 2, 20)) == 0  # same instalment: not again
    assert loans_overdue_scan(as_of=date(2025, 3, 16)) == 1  # the second instalment
    payloads = events_named("loan.overdue")
    assert [(p["installment_number"], p["amount_overdue"]) for p in payloads] == [(1, "1030.00"), (2, "1030.00")]
    assert LoanInstallment.objects.filter(loan=loan, overdue_notified_at__isnull=False).count() == 2
    assert Loan.objects.get(pk=loan.pk).status == "ACTIVE"


def test_paid_instalments_are_not_overdue(loan):
    loan_repayment_record(loan_id=loan.id, amount=D("1030"), payment_method="CASH", actor=fresh(loan.treasurer))
    assert loans_overdue_scan(as_of=date(2025, 2, 20)) == 0


def test_a_loan_defaults_after_more_than_the_default_days(loan):
    first_due = date(2025, 2, 15)
    loans_overdue_scan(as_of=first_due + timedelta(days=90))
    assert Loan.objects.get(pk=loan.pk).status == "ACTIVE"
    assert loans_overdue_scan(as_of=first_due + timedelta(days=91)) == 1
    defaulted = Loan.objects.get(pk=loan.pk)
    assert defaulted.status == "DEFAULTED" and defaulted.defaulted_at is not None
    assert [p["days_past_due"] for p in events_named("loan.defaulted")] == [91]
    assert loans_overdue_scan(as_of=first_due + timedelta(days=120)) == 0  # DEFAULTED loans are left alone
    # A defaulted loan can still be repaid in full.
    loan_repayment_record(loan_id=loan.id, amount=D("3090"), payment_method="CASH", actor=fresh(loan.treasurer))
    assert Loan.objects.get(pk=loan.pk).status == "REPAID"


@override_settings(LOAN_DEFAULT_DAYS=10)
def test_the_default_threshold_is_a_setting(loan):
    loans_overdue_scan(as_of=date(2025, 2, 26))
    assert Loan.objects.get(pk=loan.pk).status == "DEFAULTED"


def test_the_celery_task_runs_the_scan_for_today(loan):
    assert loans_overdue_scan_task() >= 3  # today is long after April 2025: three overdue + the default
    assert Loan.objects.get(pk=loan.pk).status == "DEFAULTED"
    assert loans_overdue_scan_task() == 0
