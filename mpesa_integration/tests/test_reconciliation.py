"""
M-Pesa statement reconciliation through the API: upload a portal statement (CSV and XLSX), see what matched and what
did not, resolve each exception (post to suspense, link, review), and refuse bad uploads without writing anything.

The statement used here holds one row of every kind (see `_statement_rows`); ChamaHub's side is built with plain
MPesaTransaction rows (`_our_transactions`), as the STK/C2B/B2C flows would have left them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance.choices import AccountKind
from finance.models import JournalEntry
from finance.selectors.ledger import account_balance, trial_balance
from finance.tests.loan_fixtures import make_chama, outsider
from groups.tests.factories import chair_of, make_group
from mpesa_integration.choices import (
    ExceptionKind,
    ExceptionResolution,
    Purpose,
    ReconciliationStatus,
    Settlement,
    TransactionKind,
    TransactionStatus,
)
from mpesa_integration.models import MPesaTransaction, PaymentReconciliation, ReconciliationException
from mpesa_integration.statements import NAIROBI
from mpesa_integration.tests.statement_fixtures import statement_csv_bytes, statement_xlsx_bytes

pytestmark = pytest.mark.django_db

D = Decimal
RECONCILIATIONS = "/api/v1/mpesa/reconciliations/"
EXCEPTIONS = "/api/v1/mpesa/reconciliation-exceptions/"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=NAIROBI)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _line(receipt: str, minutes: int, amount: str, phone: str, **extra) -> dict:
    return {"receipt": receipt, "completed_at": at(minutes), "amount": amount, "phone": phone, **extra}


def _statement_rows() -> list[dict]:
    """One statement line per case. Receipts: A matched by receipt, B matched by phone (ours has no receipt), C amount
    mismatch, D and E missing in ChamaHub, G missing (ours is 60 min away), H a B2C payout matched by receipt,
    X matched by phone but its receipt is held by another group's transaction, Z a Failed line (skipped)."""
    return [
        _line("SKA0000001", 0, "1000", "254711000001"),
        _line("SKB0000002", 60, "500", "254711000002"),
        _line("SKC0000003", 90, "700", "254711000003"),
        _line("SKD0000004", 150, "2500", "254711000004", name="DEE"),
        _line("SKE0000005", 180, "300", "254711000005"),
        _line("SKG0000007", 210, "1200", "254711000007"),
        _line("SKX0000009", 240, "600", "254711000009"),
        _line("SKZ0000010", 250, "800", "254711000010", status="Failed"),
        _line("SKH0000008", 300, "2000", "254711000008", direction="out"),
    ]


def _txn(group, *, minutes: int, amount: str, phone: str, receipt: str | None = None, **extra) -> MPesaTransaction:
    fields = {
        "kind": TransactionKind.STK,
        "group": group,
        "phone": phone,
        "amount": D(amount),
        "receipt_number": receipt,
        "status": TransactionStatus.SUCCEEDED,
        "transaction_date": at(minutes),
        **extra,
    }
    return MPesaTransaction.objects.create(**fields)


def _our_transactions(chama) -> dict[str, MPesaTransaction]:
    group = chama.group
    other_group = make_group()
    return {
        "A": _txn(group, minutes=0, amount="1000", phone="254711000001", receipt="SKA0000001"),
        "B": _txn(group, minutes=62, amount="500", phone="254711000002"),
        "C": _txn(group, minutes=90, amount="750", phone="254711000003", receipt="SKC0000003"),
        "F": _txn(group, minutes=120, amount="400", phone="254711000006", receipt="SKF0000006"),
        "G": _txn(group, minutes=270, amount="1200", phone="254711000007"),
        "X": _txn(group, minutes=241, amount="600", phone="254711000009"),
        "H": _txn(group, minutes=300, amount="2000", phone="254711000008", receipt="SKH0000008", kind="b2c"),
        # Not the statement's business: failed, before the period, another group's.
        "failed": _txn(group, minutes=60, amount="500", phone="254711000002", status=TransactionStatus.FAILED),
        "before": _txn(group, minutes=-24 * 60, amount="900", phone="254711000011", receipt="SKO0000011"),
        "elsewhere": _txn(other_group, minutes=240, amount="600", phone="254711000009", receipt="SKX0000009"),
    }


def _upload(client, group, content: bytes, name: str = "statement.csv", url: str = RECONCILIATIONS):
    return client.post(url, {"group": group.id, "file": SimpleUploadedFile(name, content)}, format="multipart")


def _written() -> tuple[int, int, int]:
    return (
        PaymentReconciliation.objects.count(),
        ReconciliationException.objects.count(),
        MPesaTransaction.objects.exclude(receipt_number=None).count(),
    )


def _exception(kind: str, receipt: str = "") -> ReconciliationException:
    queryset = ReconciliationException.objects.filter(kind=kind)
    return queryset.get(receipt_number=receipt) if receipt else queryset.get()


def _resolve(client, exception: ReconciliationException, action: str, **body):
    return client.post(f"{EXCEPTIONS}{exception.id}/resolve/", {"action": action, **body}, format="json")


@pytest.fixture
def chama():
    return make_chama()


@pytest.fixture
def uploaded(chama, make_client):
    """The statement uploaded (CSV) by the treasurer; returns (response json, our transactions)."""
    ours = _our_transactions(chama)
    response = _upload(make_client(chama.treasurer), chama.group, statement_csv_bytes(_statement_rows()))
    assert response.status_code == 201, response.content
    return response.json(), ours


# ---------------------------------------------------------------------------------------------------------------
# Upload and match


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_statement_is_matched_against_the_groups_transactions(chama, make_client, fmt):
    ours = _our_transactions(chama)
    rows = _statement_rows()
    content = statement_csv_bytes(rows) if fmt == "csv" else statement_xlsx_bytes(rows)

    response = _upload(make_client(chama.treasurer), chama.group, content, name=f"november.{fmt}")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["group"] == chama.group.id and body["group_name"] == chama.group.name
    assert body["file_name"] == f"november.{fmt}"
    assert body["status"] == ReconciliationStatus.COMPLETED and body["uploaded_by"] == chama.treasurer.id
    assert (body["rows_total"], body["rows_skipped"]) == (9, 1)
    assert body["matched_count"] == 4  # A (receipt), B (phone), X (phone), H (receipt, paid out)
    assert D(body["matched_amount"]) == D("4100.00")
    assert D(body["statement_total"]) == D("8800.00")  # gross: every Completed line, in and out
    assert body["amount_mismatch_count"] == 1
    assert body["missing_in_chamahub_count"] == 3
    assert body["missing_in_statement_count"] == 2
    assert body["open_exceptions"] == 6
    assert body["duration_ms"] >= 0
    assert datetime.fromisoformat(body["period_start"]) == at(0)
    assert datetime.fromisoformat(body["period_end"]) == at(300)

    mismatch = _exception(ExceptionKind.AMOUNT_MISMATCH)
    assert (mismatch.receipt_number, mismatch.transaction_id) == ("SKC0000003", ours["C"].id)
    assert (mismatch.statement_amount, mismatch.chamahub_amount) == (D("700.00"), D("750.00"))
    missing_here = ReconciliationException.objects.filter(kind=ExceptionKind.MISSING_IN_CHAMAHUB).order_by("id")
    assert [(e.receipt_number, e.statement_amount, e.transaction_id) for e in missing_here] == [
        ("SKD0000004", D("2500.00"), None),
        ("SKE0000005", D("300.00"), None),
        ("SKG0000007", D("1200.00"), None),
    ]
    posted_row = missing_here[0]
    assert posted_row.phone == "254711000004" and posted_row.direction == "in" and "DEE" in posted_row.details
    assert posted_row.completed_at == at(150) and posted_row.statement_line is not None
    missing_there = ReconciliationException.objects.filter(kind=ExceptionKind.MISSING_IN_STATEMENT).order_by("id")
    assert [(e.transaction_id, e.chamahub_amount, e.statement_amount) for e in missing_there] == [
        (ours["F"].id, D("400.00"), None),
        (ours["G"].id, D("1200.00"), None),
    ]
    assert set(ReconciliationException.objects.values_list("resolution", flat=True)) == {ExceptionResolution.OPEN}

    # A phone match teaches the transaction its receipt, unless another transaction already holds that receipt.
    ours_now = {key: MPesaTransaction.objects.get(pk=txn.pk) for key, txn in ours.items()}
    assert ours_now["B"].receipt_number == "SKB0000002"
    assert ours_now["X"].receipt_number is None
    assert ours_now["failed"].receipt_number is None and ours_now["G"].receipt_number is None


def test_an_upload_answers_with_the_summary_and_can_be_read_back(uploaded, chama, make_client):
    body, _ours = uploaded
    client = make_client(chama.chair)

    detail = client.get(f"{RECONCILIATIONS}{body['id']}/")
    listing = client.get(RECONCILIATIONS, {"group": chama.group.id})

    assert detail.status_code == 200 and detail.json() == body
    assert listing.status_code == 200 and [r["id"] for r in listing.json()["results"]] == [body["id"]]
    assert set(body) == {
        "id", "uuid", "group", "group_name", "file_name", "status", "status_display", "period_start", "period_end",
        "rows_total", "rows_skipped", "matched_count", "matched_amount", "statement_total",
        "missing_in_chamahub_count", "missing_in_statement_count", "amount_mismatch_count", "open_exceptions",
        "duration_ms", "uploaded_by", "uploaded_by_name", "created_at",
    }  # fmt: skip
    exceptions = client.get(EXCEPTIONS, {"reconciliation": body["id"], "kind": ExceptionKind.MISSING_IN_STATEMENT})
    assert exceptions.status_code == 200
    results = exceptions.json()["results"]
    assert [e["transaction_receipt"] for e in results] == ["SKF0000006", None]
    assert results[0]["kind_display"] == ExceptionKind.MISSING_IN_STATEMENT.label
    assert results[0]["resolution_display"] == "Open"


def test_the_legacy_auto_reconcile_route_uploads_too(chama, make_client):
    _our_transactions(chama)
    response = _upload(
        make_client(chama.secretary),
        chama.group,
        statement_csv_bytes(_statement_rows()),
        url=RECONCILIATIONS + "auto_reconcile/",
    )

    assert response.status_code == 201, response.content
    assert response.json()["matched_count"] == 4
    assert PaymentReconciliation.objects.get().uploaded_by_id == chama.secretary.id


def test_a_statement_where_everything_matches_is_resolved_at_once(chama, make_client):
    _txn(chama.group, minutes=0, amount="1000", phone="254711000001", receipt="SKA0000001")
    rows = [_line("SKA0000001", 0, "1000", "254711000001")]

    response = _upload(make_client(chama.treasurer), chama.group, statement_csv_bytes(rows))

    assert response.status_code == 201
    assert response.json()["status"] == ReconciliationStatus.RESOLVED and response.json()["open_exceptions"] == 0
    assert not ReconciliationException.objects.exists()


# ---------------------------------------------------------------------------------------------------------------
# Refused uploads write nothing


def _assert_refused_on_file(response, before, *, contains: tuple[str, ...] = ()) -> str:
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["fields"]["file"])
    for text in contains:
        assert text in message
    assert _written() == before
    return message


@pytest.mark.parametrize(
    ("content", "name", "contains"),
    [
        (bytes(range(256)) * 8, "statement.csv", ("not a CSV or Excel",)),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "statement.pdf", ("PDF",)),
        (b"", "statement.csv", ("empty",)),
        (b"PK\x03\x04 this is not a workbook at all", "statement.xlsx", ("not a valid Excel",)),
    ],
    ids=["random-bytes", "pdf", "empty", "broken-xlsx"],
)
def test_a_file_that_is_not_a_statement_is_refused(chama, make_client, content, name, contains):
    _our_transactions(chama)
    before = _written()

    response = _upload(make_client(chama.treasurer), chama.group, content, name=name)

    _assert_refused_on_file(response, before, contains=contains)


def test_missing_columns_are_named(chama, make_client):
    _our_transactions(chama)
    before = _written()
    content = statement_csv_bytes(_statement_rows(), columns=("receipt", "completed_at", "paid_in", "details"))

    response = _upload(make_client(chama.treasurer), chama.group, content)

    _assert_refused_on_file(response, before, contains=("Withdrawn", "Other Party Info"))


def test_an_unreadable_row_refuses_the_whole_statement(chama, make_client):
    _our_transactions(chama)
    before = _written()
    rows = _statement_rows()
    rows.append({"receipt": "SKQ0000099", "completed_at": at(301), "paid_in": "lots", "phone": "254711000099"})

    response = _upload(make_client(chama.treasurer), chama.group, statement_csv_bytes(rows))

    _assert_refused_on_file(response, before, contains=("Paid In", "lots"))
    assert MPesaTransaction.objects.get(phone="254711000002", status=TransactionStatus.SUCCEEDED).receipt_number is None


def test_a_statement_over_the_size_limit_is_refused(chama, make_client, settings):
    _our_transactions(chama)
    before = _written()
    content = statement_csv_bytes(_statement_rows())
    settings.MPESA_STATEMENT_MAX_BYTES = len(content) - 1

    response = _upload(make_client(chama.treasurer), chama.group, content)

    _assert_refused_on_file(response, before, contains=("limit",))
    settings.MPESA_STATEMENT_MAX_BYTES = len(content)
    assert _upload(make_client(chama.treasurer), chama.group, content).status_code == 201


def test_a_huge_body_is_refused_from_its_content_length(chama, make_client, settings):
    settings.MPESA_STATEMENT_MAX_BYTES = 1000
    before = _written()
    content = b"Receipt No.,Completion Time\r\n" + b"x" * (200 * 1024)

    response = _upload(make_client(chama.treasurer), chama.group, content)

    _assert_refused_on_file(response, before, contains=("The upload is", "limit"))


def test_the_same_file_twice_is_a_conflict(chama, make_client):
    _our_transactions(chama)
    content = statement_csv_bytes(_statement_rows())
    client = make_client(chama.treasurer)
    assert _upload(client, chama.group, content).status_code == 201
    before = _written()

    again = _upload(make_client(chama.chair), chama.group, content, name="renamed.csv")

    assert again.status_code == 409, again.content
    assert again.json()["code"] == "duplicate_statement"
    assert _written() == before


def test_the_same_file_may_be_reconciled_by_another_group(chama, make_client):
    content = statement_csv_bytes(_statement_rows())
    assert _upload(make_client(chama.treasurer), chama.group, content).status_code == 201
    other = make_group()

    response = _upload(make_client(chama_of_chair := chair_of(other)), other, content)

    assert response.status_code == 201, response.content
    assert PaymentReconciliation.objects.get(group=other).uploaded_by_id == chama_of_chair.id


@pytest.mark.parametrize(("who", "code"), [("member", 403), ("outsider", 404)])
def test_only_the_groups_officials_may_upload(chama, make_client, who, code):
    user = chama.member if who == "member" else outsider()
    before = _written()

    response = _upload(make_client(user), chama.group, statement_csv_bytes(_statement_rows()))

    assert response.status_code == code, response.content
    assert _written() == before


def test_reconciliations_cannot_be_changed_or_deleted(uploaded, chama, make_client):
    body, _ours = uploaded
    client = make_client(chama.treasurer)
    url = f"{RECONCILIATIONS}{body['id']}/"

    assert client.put(url, {"file_name": "x"}, format="json").status_code == 405
    assert client.patch(url, {"file_name": "x"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert client.delete(f"{EXCEPTIONS}{ReconciliationException.objects.first().id}/").status_code == 405
    assert PaymentReconciliation.objects.get().file_name == "statement.csv"


# ---------------------------------------------------------------------------------------------------------------
# Who sees what


def test_outsiders_and_plain_members_see_nothing(uploaded, chama, make_client):
    body, _ours = uploaded
    exception = ReconciliationException.objects.first()
    for user in (outsider(), chama.member):
        client = make_client(user)
        assert client.get(f"{RECONCILIATIONS}{body['id']}/").status_code == 404
        assert client.get(f"{EXCEPTIONS}{exception.id}/").status_code == 404
        assert client.get(RECONCILIATIONS).json()["results"] == []
        assert client.get(EXCEPTIONS).json()["results"] == []
        response = _resolve(client, exception, "review", note="not mine")
        assert response.status_code == 404
    assert ReconciliationException.objects.get(pk=exception.pk).resolution == ExceptionResolution.OPEN


def test_list_queries_do_not_grow_with_rows(chama, make_client):
    client = make_client(chama.treasurer)
    _our_transactions(chama)
    _upload(client, chama.group, statement_csv_bytes(_statement_rows()))

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    small = (queries(RECONCILIATIONS), queries(EXCEPTIONS))
    for k in range(3):
        rows = [_line(f"SKN{k}000{i:03d}", i, "10", "254711000001") for i in range(20)]
        assert _upload(client, chama.group, statement_csv_bytes(rows)).status_code == 201
    ReconciliationException.objects.filter(kind=ExceptionKind.MISSING_IN_CHAMAHUB).update(
        transaction=MPesaTransaction.objects.filter(group=chama.group).first()
    )

    assert PaymentReconciliation.objects.count() == 4 and ReconciliationException.objects.count() > 60
    assert (queries(RECONCILIATIONS), queries(EXCEPTIONS)) == small


# ---------------------------------------------------------------------------------------------------------------
# Resolving exceptions


def test_posting_a_pay_in_missing_in_chamahub_holds_it_in_suspense(uploaded, chama, make_client):
    body, _ours = uploaded
    client = make_client(chama.treasurer)
    exception = _exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKD0000004")

    response = _resolve(client, exception, "post", note="member paid by paybill")

    assert response.status_code == 200, response.content
    out = response.json()
    assert out["resolution"] == ExceptionResolution.POSTED and out["transaction_receipt"] == "SKD0000004"
    assert out["resolved_by"] == chama.treasurer.id and out["resolution_note"] == "member paid by paybill"
    txn = MPesaTransaction.objects.get(pk=out["transaction"])
    assert (txn.kind, txn.group_id, txn.status, txn.purpose) == (
        TransactionKind.C2B,
        chama.group.id,
        TransactionStatus.SUCCEEDED,
        Purpose.OTHER,
    )
    assert (txn.amount, txn.phone, txn.transaction_date) == (D("2500.00"), "254711000004", at(150))
    assert txn.settlement == Settlement.SUSPENSE and "allocate" in txn.settlement_note
    entry = JournalEntry.objects.get(group=chama.group, reference="SKD0000004")
    legs = {(p.account.kind, p.amount) for p in entry.postings.select_related("account")}
    assert legs == {(AccountKind.CASH, D("2500.00")), (AccountKind.SUSPENSE, D("-2500.00"))}
    assert account_balance(group_id=chama.group.id, kind=AccountKind.SUSPENSE) == D("2500.00")
    assert trial_balance(group_id=chama.group.id) == 0
    assert client.get(f"{RECONCILIATIONS}{body['id']}/").json()["open_exceptions"] == 5

    # An official then allocates it from suspense, as any suspense payment.
    allocated = client.post(
        f"/api/v1/mpesa/transactions/{txn.id}/allocate/",
        {"purpose": "contribution", "member": chama.member.id},
        format="json",
    )
    assert allocated.status_code == 200, allocated.content
    assert account_balance(group_id=chama.group.id, kind=AccountKind.SUSPENSE) == D("0.00")
    assert account_balance(group_id=chama.group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=chama.member.id) == D(
        "2500.00"
    )
    assert trial_balance(group_id=chama.group.id) == 0


def test_only_a_pay_in_missing_in_chamahub_can_be_posted(uploaded, chama, make_client):
    client = make_client(chama.treasurer)
    for exception in (
        _exception(ExceptionKind.AMOUNT_MISMATCH),
        ReconciliationException.objects.filter(kind=ExceptionKind.MISSING_IN_STATEMENT).first(),
    ):
        response = _resolve(client, exception, "post")
        assert response.status_code == 400, response.content
        assert "action" in response.json()["fields"]
    assert ReconciliationException.objects.filter(resolution=ExceptionResolution.OPEN).count() == 6
    assert not JournalEntry.objects.filter(group=chama.group).exists()


def test_posting_a_receipt_already_in_chamahub_is_a_conflict(uploaded, chama, make_client):
    exception = _exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKE0000005")
    _txn(chama.group, minutes=181, amount="300", phone="254711000005", receipt="SKE0000005", kind="c2b")
    transactions = MPesaTransaction.objects.count()

    response = _resolve(make_client(chama.treasurer), exception, "post")

    assert response.status_code == 409, response.content
    assert MPesaTransaction.objects.count() == transactions
    assert ReconciliationException.objects.get(pk=exception.pk).resolution == ExceptionResolution.OPEN
    assert not JournalEntry.objects.filter(group=chama.group, reference="SKE0000005").exists()


def test_linking_teaches_the_transaction_its_receipt(uploaded, chama, make_client):
    _body, ours = uploaded
    exception = _exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKG0000007")

    response = _resolve(make_client(chama.chair), exception, "link", transaction=ours["G"].id, note="late callback")

    assert response.status_code == 200, response.content
    out = response.json()
    assert out["resolution"] == ExceptionResolution.LINKED and out["transaction"] == ours["G"].id
    assert out["transaction_receipt"] == "SKG0000007"
    assert MPesaTransaction.objects.get(pk=ours["G"].pk).receipt_number == "SKG0000007"


def test_linking_keeps_an_existing_receipt(uploaded, chama, make_client):
    _body, ours = uploaded
    exception = _exception(ExceptionKind.AMOUNT_MISMATCH)

    response = _resolve(make_client(chama.treasurer), exception, "link", transaction=ours["C"].id)

    assert response.status_code == 200, response.content
    assert MPesaTransaction.objects.get(pk=ours["C"].pk).receipt_number == "SKC0000003"


def test_linking_needs_a_transaction_of_the_group(uploaded, chama, make_client):
    _body, ours = uploaded
    client = make_client(chama.treasurer)
    exception = _exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKG0000007")

    missing = _resolve(client, exception, "link")
    foreign = _resolve(client, exception, "link", transaction=ours["elsewhere"].id)

    assert missing.status_code == 400 and "transaction" in missing.json()["fields"]
    assert foreign.status_code == 404 and "transaction" in foreign.json()["fields"]
    assert ReconciliationException.objects.get(pk=exception.pk).resolution == ExceptionResolution.OPEN


def test_linking_a_receipt_held_by_another_transaction_is_a_conflict(uploaded, chama, make_client):
    _body, ours = uploaded
    exception = _exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKE0000005")
    _txn(make_group(), minutes=180, amount="300", phone="254711000005", receipt="SKE0000005")

    response = _resolve(make_client(chama.treasurer), exception, "link", transaction=ours["G"].id)

    assert response.status_code == 409, response.content
    assert MPesaTransaction.objects.get(pk=ours["G"].pk).receipt_number is None
    assert ReconciliationException.objects.get(pk=exception.pk).resolution == ExceptionResolution.OPEN


def test_reviewing_needs_a_note(uploaded, chama, make_client):
    client = make_client(chama.treasurer)
    exception = ReconciliationException.objects.filter(kind=ExceptionKind.MISSING_IN_STATEMENT).first()

    empty = _resolve(client, exception, "review", note="  ")
    response = _resolve(client, exception, "review", note="Test payment, refunded in cash")

    assert empty.status_code == 400 and "note" in empty.json()["fields"]
    assert response.status_code == 200, response.content
    assert response.json()["resolution"] == ExceptionResolution.REVIEWED
    assert response.json()["resolution_note"] == "Test payment, refunded in cash"


def test_resolving_twice_is_a_conflict(uploaded, chama, make_client):
    client = make_client(chama.treasurer)
    exception = _exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKD0000004")
    assert _resolve(client, exception, "post").status_code == 200
    entries = JournalEntry.objects.count()

    again = _resolve(client, exception, "post")
    review = _resolve(client, exception, "review", note="again")

    assert again.status_code == 409 and review.status_code == 409
    assert JournalEntry.objects.count() == entries
    assert ReconciliationException.objects.get(pk=exception.pk).resolution == ExceptionResolution.POSTED


def test_a_plain_member_cannot_resolve(uploaded, chama, make_client):
    exception = _exception(ExceptionKind.AMOUNT_MISMATCH)

    response = _resolve(make_client(chama.member), exception, "review", note="looks fine")

    assert response.status_code == 404  # plain members do not see reconciliations at all
    assert ReconciliationException.objects.get(pk=exception.pk).resolution == ExceptionResolution.OPEN


def test_the_reconciliation_is_resolved_with_its_last_exception(uploaded, chama, make_client):
    body, ours = uploaded
    client = make_client(chama.treasurer)
    url = f"{RECONCILIATIONS}{body['id']}/"
    steps = [
        (_exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKD0000004"), "post", {}),
        (_exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKE0000005"), "post", {}),
        (_exception(ExceptionKind.MISSING_IN_CHAMAHUB, "SKG0000007"), "link", {"transaction": ours["G"].id}),
        (_exception(ExceptionKind.AMOUNT_MISMATCH), "review", {"note": "KES 50 refunded"}),
        *[
            (exception, "review", {"note": "not on the statement"})
            for exception in ReconciliationException.objects.filter(kind=ExceptionKind.MISSING_IN_STATEMENT)
        ],
    ]
    for index, (exception, action, extra) in enumerate(steps, 1):
        response = _resolve(client, exception, action, **extra)
        assert response.status_code == 200, response.content
        summary = client.get(url).json()
        assert summary["open_exceptions"] == 6 - index
        expected = ReconciliationStatus.RESOLVED if index == 6 else ReconciliationStatus.COMPLETED
        assert summary["status"] == expected

    open_left = client.get(EXCEPTIONS, {"reconciliation": body["id"], "resolution": "open"}).json()["results"]
    assert open_left == []
    assert account_balance(group_id=chama.group.id, kind=AccountKind.SUSPENSE) == D("2800.00")
    assert trial_balance(group_id=chama.group.id) == 0
