"""Loan repayments through the API: allocation, refusals, scoping, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from finance.choices import AccountKind
from finance.models import JournalEntry, LoanRepayment
from finance.selectors.ledger import account_balance
from finance.services.approvals import approval_sign
from finance.services.loans import loan_apply, loan_disburse, loan_repayment_record
from finance.tests.loan_fixtures import (
    LOANS,
    REPAYMENTS,
    D,
    assert_books_balance,
    count_queries,
    fresh,
    give_savings,
    loan_rows_snapshot,
    make_chama,
    outsider,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chama():
    c = make_chama(loan_processing_fee=D("50.00"), max_loan_multiple=D("100"))
    give_savings(c.group, c.borrower, "100000")
    return c


def _loan(chama, principal="3000", borrower=None, disburse=True):
    """3,000 at 12% flat, 3 months, fee 50: instalments 1,080 (1,000 + 30 + 50), 1,030, 1,030."""
    loan = loan_apply(
        group_id=chama.group.id,
        borrower=fresh(borrower or chama.borrower),
        principal_amount=D(principal),
        duration_months=3,
        purpose="Stock",
    )
    officials = [o for o in (chama.chair, chama.treasurer, chama.secretary) if o != (borrower or chama.borrower)]
    for official in officials[:2]:
        approval_sign(approval_id=loan.approval.id, approver=fresh(official), approved=True)
    if disburse:
        loan_disburse(loan_id=loan.id, actor=fresh(chama.treasurer))
    return loan


def _repay(client, loan, amount, **extra):
    return client.post(
        REPAYMENTS, {"loan": loan.id, "amount": amount, "payment_method": "CASH", **extra}, format="json"
    )


def test_a_repayment_pays_fees_then_interest_then_principal_oldest_instalment_first(make_client, chama):
    loan = _loan(chama)
    treasurer = make_client(chama.treasurer)
    r = _repay(treasurer, loan, "60.00")
    assert r.status_code == 201, r.json()
    assert (r.json()["fee_portion"], r.json()["interest_portion"], r.json()["principal_portion"]) == (
        "50.00",
        "10.00",
        "0.00",
    )
    r = _repay(treasurer, loan, "1100.00")  # 20 interest + 1,000 principal of #1, then 30 interest + 50 of #2
    assert (r.json()["fee_portion"], r.json()["interest_portion"], r.json()["principal_portion"]) == (
        "0.00",
        "50.00",
        "1050.00",
    )
    schedule = make_client(chama.borrower).get(f"{LOANS}{loan.id}/").json()["schedule"]
    assert [(s["interest_paid"], s["principal_paid"], s["outstanding"]) for s in schedule] == [
        ("30.00", "1000.00", "0.00"),
        ("30.00", "50.00", "950.00"),
        ("0.00", "0.00", "1030.00"),
    ]
    assert D(str(make_client(chama.borrower).get(f"{LOANS}{loan.id}/").json()["outstanding_balance"])) == D("1980.00")
    entry = JournalEntry.objects.get(reference=f"loan-repayment:{r.json()['id']}")
    assert sorted(p.amount for p in entry.postings.all()) == [D("-1050.00"), D("-50.00"), D("1100.00")]
    assert_books_balance(chama.group)


def test_repaying_more_than_is_owed_is_refused_and_nothing_written(make_client, chama):
    loan = _loan(chama)
    before = loan_rows_snapshot()
    r = _repay(make_client(chama.treasurer), loan, "3140.01")
    assert r.status_code == 400
    assert r.json()["code"] == "overpayment"
    assert "3140.00" in r.json()["fields"]["amount"][0]
    assert loan_rows_snapshot() == before
    r = _repay(make_client(chama.treasurer), loan, "3140.00")
    assert r.status_code == 201
    assert make_client(chama.borrower).get(f"{LOANS}{loan.id}/").json()["status"] == "REPAID"


@pytest.mark.parametrize("amount", ["0", "-10", "10.001", "abc"])
def test_bad_amounts_are_400(make_client, chama, amount):
    loan = _loan(chama)
    before = loan_rows_snapshot()
    r = _repay(make_client(chama.treasurer), loan, amount)
    assert r.status_code == 400 and "amount" in r.json()["fields"]
    assert loan_rows_snapshot() == before


def test_a_payment_dated_in_the_future_is_refused(make_client, chama):
    loan = _loan(chama)
    r = _repay(make_client(chama.treasurer), loan, "10", paid_at=(timezone.now() + timedelta(days=1)).isoformat())
    assert r.status_code == 400 and "paid_at" in r.json()["fields"]


def test_a_plain_member_cannot_record_a_repayment(make_client, chama):
    loan = _loan(chama)
    before = loan_rows_snapshot()
    assert _repay(make_client(chama.borrower), loan, "100").status_code == 403
    assert (
        make_client(chama.borrower)
        .post(f"{LOANS}{loan.id}/repay/", {"amount": "100", "payment_method": "CASH"}, format="json")
        .status_code
        == 403
    )
    assert loan_rows_snapshot() == before


def test_repaying_a_loan_that_is_not_running_is_a_409(make_client, chama):
    loan = _loan(chama, disburse=False)
    before = loan_rows_snapshot()
    r = _repay(make_client(chama.treasurer), loan, "100")
    assert r.status_code == 409 and "loan" in r.json()["fields"]
    assert loan_rows_snapshot() == before


def test_a_duplicate_reference_number_is_a_409(make_client, chama):
    loan = _loan(chama)
    treasurer = make_client(chama.treasurer)
    assert _repay(treasurer, loan, "100", reference_number="RCPT-1").status_code == 201
    before = loan_rows_snapshot()
    r = _repay(treasurer, loan, "100", reference_number="RCPT-1")
    assert r.status_code == 409 and "reference_number" in r.json()["fields"]
    assert loan_rows_snapshot() == before


def test_mpesa_repayment_from_a_callback_uses_the_receipt_as_the_journal_reference(chama):
    loan = _loan(chama)
    repayment = loan_repayment_record(loan_id=loan.id, amount=D("500"), payment_method="MPESA", reference="QWE123RTY")
    assert repayment.journal_entry.reference == "QWE123RTY" and repayment.recorded_by is None
    with pytest.raises(Exception) as exc:
        loan_repayment_record(loan_id=loan.id, amount=D("500"), payment_method="MPESA", reference="QWE123RTY")
    assert getattr(exc.value, "status_code", None) == 409
    assert LoanRepayment.objects.count() == 1


def test_repayments_are_scoped(make_client, chama):
    give_savings(chama.group, chama.chair, "5000")
    mine = _loan(chama)
    theirs = _loan(chama, borrower=chama.chair)
    loan_repayment_record(loan_id=mine.id, amount=D("100"), payment_method="CASH", actor=fresh(chama.treasurer))
    loan_repayment_record(loan_id=theirs.id, amount=D("100"), payment_method="CASH", actor=fresh(chama.treasurer))
    assert make_client(chama.borrower).get(REPAYMENTS).json()["count"] == 1
    assert make_client(chama.member).get(REPAYMENTS).json()["count"] == 0
    assert make_client(chama.secretary).get(REPAYMENTS).json()["count"] == 2
    assert make_client(chama.secretary).get(f"{REPAYMENTS}?member={chama.chair.id}").json()["count"] == 1
    assert make_client(chama.secretary).get(f"{REPAYMENTS}?loan={mine.id}&payment_method=CASH").json()["count"] == 1

    client = make_client(outsider())
    repayment = LoanRepayment.objects.first()
    assert client.get(REPAYMENTS).json()["count"] == 0
    assert client.get(f"{REPAYMENTS}{repayment.id}/").status_code == 404
    before = loan_rows_snapshot()
    r = _repay(client, mine, "100")
    assert r.status_code == 404 and "loan" in r.json()["fields"]
    assert loan_rows_snapshot() == before


def test_repayment_list_query_count_does_not_grow_with_rows(make_client, chama):
    def add(n):
        for _ in range(n):
            loan = _loan(chama, principal="300")
            loan_repayment_record(loan_id=loan.id, amount=D("10"), payment_method="CASH", actor=fresh(chama.treasurer))

    client = make_client(chama.chair)
    add(5)
    small, body = count_queries(client, f"{REPAYMENTS}?page_size=100")
    assert body["count"] == 5
    add(20)
    large, body = count_queries(client, f"{REPAYMENTS}?page_size=100")
    assert body["count"] == 25 and small == large


def test_settlement_waives_future_interest_but_not_what_is_due(make_client, chama):
    loan = _loan(chama)
    loan_disbursed_long_ago = _loan(chama, disburse=False)
    loan_disburse(
        loan_id=loan_disbursed_long_ago.id,
        actor=fresh(chama.treasurer),
        disbursed_on=timezone.localdate() - timedelta(days=45),
    )
    quote = make_client(chama.borrower).get(f"{LOANS}{loan_disbursed_long_ago.id}/settlement/").json()
    # Instalment 1 (1,080) is due; 2 and 3 are not: their 2,000 principal is owed, their 60 interest waived.
    assert (quote["due_now"], quote["principal_remaining"], quote["interest_waived"], quote["amount"]) == (
        "1080.00",
        "2000.00",
        "60.00",
        "3080.00",
    )
    r = make_client(chama.treasurer).post(
        f"{LOANS}{loan_disbursed_long_ago.id}/settle/", {"payment_method": "BANK"}, format="json"
    )
    assert r.status_code == 201 and r.json()["interest_portion"] == "30.00"
    assert make_client(chama.treasurer).get(f"{LOANS}{loan_disbursed_long_ago.id}/").json()["status"] == "REPAID"
    assert (
        make_client(chama.treasurer)
        .post(f"{LOANS}{loan_disbursed_long_ago.id}/settle/", {"payment_method": "BANK"})
        .status_code
        == 409
    )
    assert make_client(chama.borrower).post(f"{LOANS}{loan.id}/settle/", {"payment_method": "BANK"}).status_code == 403
    assert account_balance(group_id=chama.group.id, kind=AccountKind.INTEREST_INCOME) == D("30.00")
    assert_books_balance(chama.group)
