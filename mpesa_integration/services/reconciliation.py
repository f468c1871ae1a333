"""
M-Pesa statement reconciliation: an official uploads the organisation statement exported from the M-Pesa portal
(CSV or XLSX), ChamaHub matches it against the group's succeeded M-Pesa transactions, and every difference becomes a
ReconciliationException an official resolves (post it to suspense, link it to a transaction, or mark it reviewed).

Writes:
- `reconciliation_create`: size limit, SHA-256 (the same file twice for a group is a 409), parse
  (mpesa_integration.statements: a bad file, bad columns or a bad row is a 400 on "file"), load the group's succeeded
  transactions of the statement's period +- MPESA_RECONCILIATION_WINDOW_MINUTES as plain tuples (never model
  instances: a busy group has 100k of them), match (mpesa_integration.matching), then write the reconciliation,
  its exceptions (bulk, 2,000 a batch) and the receipts learnt from phone matches. One transaction: a refused file
  writes nothing.
- `reconciliation_exception_resolve`: post / link / review one open exception; keeps the reconciliation's
  `open_exceptions` in step and marks it resolved when the last one is closed.

Reads are in mpesa_integration/selectors.py (only the officials of the group see a reconciliation: it lists other
members' phones and payments).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict, NotFound, ValidationFailed
from groups.selectors import official_require
from mpesa_integration.choices import (
    ExceptionKind,
    ExceptionResolution,
    Purpose,
    ReconciliationStatus,
    TransactionKind,
    TransactionStatus,
)
from mpesa_integration.matching import OurPayment, ReconcileResult, reconcile
from mpesa_integration.models import MPesaTransaction, PaymentReconciliation, ReconciliationException
from mpesa_integration.services.settlement import settle_pay_in
from mpesa_integration.statements import (
    AMOUNT_MAX,
    StatementError,
    StatementRow,
    parse_statement,
    phone_from_party,
)

__all__ = [
    "POST_SUSPENSE_NOTE",
    "RESOLVE_ACTIONS",
    "reconciliation_create",
    "reconciliation_exception_resolve",
]

logger = logging.getLogger("mpesa_integration")

#: What an official may do with an open exception.
RESOLVE_ACTIONS: tuple[str, ...] = ("post", "link", "review")

#: The suspense note of a payment posted from the statement: an official allocates it afterwards.
POST_SUSPENSE_NOTE = "Found in the M-Pesa statement: allocate it"

_BATCH = 2000  # rows per bulk INSERT / UPDATE and per IN (...) list
_FETCH_CHUNK = 5000  # rows per server-side cursor fetch when loading the group's payments
_RECEIPT_MAX = MPesaTransaction._meta.get_field("receipt_number").max_length
_PHONE_MAX = ReconciliationException._meta.get_field("phone").max_length
_DETAILS_MAX = ReconciliationException._meta.get_field("details").max_length
_LOCK_CLASS = zlib.crc32(b"mpesa.reconciliation") & 0x7FFFFFFF  # advisory-lock namespace (PostgreSQL)


# ----------------------------------------------------------------------------------------------------------------
# Upload and match


def _file_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"file": [message]})


def _file_size(file: Any) -> int:
    """The upload's size in bytes: Django's UploadedFile knows it; any other binary file is measured by seeking."""
    size = getattr(file, "size", None)
    if isinstance(size, int):
        return size
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(0)
    return size


def _sha256(file: Any) -> str:
    """SHA-256 of the whole file, read in chunks; the file is rewound for the parser."""
    digest = hashlib.sha256()
    file.seek(0)
    if hasattr(file, "chunks"):
        for chunk in file.chunks():
            digest.update(chunk)
    else:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _duplicate_guard(*, group_id: int, sha256: str) -> None:
    existing = (
        PaymentReconciliation.objects.filter(group_id=group_id, file_sha256=sha256).values_list("id", flat=True).first()
    )
    if existing is not None:
        raise Conflict(
            f"This statement file was already reconciled for this group (reconciliation {existing}).",
            code="duplicate_statement",
        )


def _upload_lock(group_id: int) -> None:
    """Serialise the duplicate check + insert of one group's uploads until commit.

    PostgreSQL: a transaction-scoped advisory lock keyed by the group (nothing else is locked, so members and payments
    of the group are not blocked while a large statement is written). SQLite serialises writers by itself.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, int(group_id)])


def _read_rows(file: IO[bytes], file_name: str) -> tuple[list[StatementRow], int]:
    """Every Completed row of the statement, and how many rows were skipped as not Completed. 400 on a bad file."""
    try:
        with parse_statement(file, file_name) as reader:
            rows = list(reader)
            skipped = reader.summary.skipped_not_completed
    except StatementError as exc:
        # "columns" errors (a missing required column) are still an error of the uploaded file for the API.
        raise _file_error(exc.message) from None
    return rows, skipped


def _payments(*, group_id: int, start: datetime, end: datetime) -> Iterator[OurPayment]:
    """The group's succeeded M-Pesa transactions whose time (transaction_date, else created_at) is in [start, end].

    Streams plain tuples (values_list + a server-side cursor on PostgreSQL): no model instances are built.
    """
    rows = (
        MPesaTransaction.objects.filter(group_id=group_id, status=TransactionStatus.SUCCEEDED)
        .annotate(at=Coalesce("transaction_date", "created_at"))
        .filter(at__gte=start, at__lte=end)
        .order_by()
        .values_list("id", "receipt_number", "phone", "amount", "at", "kind")
    )
    for pk, receipt, phone, amount, at, kind in rows.iterator(chunk_size=_FETCH_CHUNK):
        yield OurPayment(
            id=pk,
            receipt=receipt or None,
            phone=phone_from_party(phone or ""),
            amount=amount,
            at=at,
            direction="out" if kind == TransactionKind.B2C else "in",
        )


def _row_details(row: StatementRow) -> str:
    """What the statement says about the other party, for the official resolving the exception."""
    parts = [row.details, row.other_party, f"A/C {row.account_number}" if row.account_number else ""]
    return " | ".join(part for part in parts if part)[:_DETAILS_MAX]


def _exceptions(result: ReconcileResult, *, reconciliation: PaymentReconciliation) -> Iterator[ReconciliationException]:
    """The exception rows of a match result: amount mismatches, then rows missing in ChamaHub, then payments."""
    common = {"reconciliation": reconciliation, "group_id": reconciliation.group_id}
    for row, payment in result.amount_mismatch:
        yield ReconciliationException(
            **common,
            kind=ExceptionKind.AMOUNT_MISMATCH,
            receipt_number=row.receipt[:_RECEIPT_MAX],
            phone=(row.phone or payment.phone)[:_PHONE_MAX],
            statement_amount=row.amount,
            chamahub_amount=payment.amount,
            direction=row.direction,
            completed_at=row.completed_at,
            statement_line=row.line,
            details=(
                _row_details(row)
                if row.direction == payment.direction
                else f"Statement: {row.direction}, ChamaHub: {payment.direction}. {_row_details(row)}"[:_DETAILS_MAX]
            ),
            transaction_id=payment.id,
        )
    for row in result.missing_in_chamahub:
        yield ReconciliationException(
            **common,
            kind=ExceptionKind.MISSING_IN_CHAMAHUB,
            receipt_number=row.receipt[:_RECEIPT_MAX],
            phone=row.phone[:_PHONE_MAX],
            statement_amount=row.amount,
            direction=row.direction,
            completed_at=row.completed_at,
            statement_line=row.line,
            details=_row_details(row),
        )
    for payment in result.missing_in_statement:
        yield ReconciliationException(
            **common,
            kind=ExceptionKind.MISSING_IN_STATEMENT,
            receipt_number=(payment.receipt or "")[:_RECEIPT_MAX],
            phone=payment.phone[:_PHONE_MAX],
            chamahub_amount=payment.amount,
            direction=payment.direction,
            completed_at=payment.at,
            transaction_id=payment.id,
        )


def _batches(items: list[Any], size: int = _BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _receipts_fill(result: ReconcileResult) -> int:
    """Store the statement's receipt on matched payments that had none (phone matches). Returns how many were set.

    A receipt already held by another transaction (any group: receipts are unique) is skipped, so the upload never
    fails on it; a clash that appears concurrently falls back to one savepoint per row.
    """
    wanted = {
        payment.id: row.receipt
        for row, payment in result.matched
        if not payment.receipt and len(row.receipt) <= _RECEIPT_MAX
    }
    if not wanted:
        return 0
    receipts = list(wanted.values())
    taken: set[str] = set()
    for chunk in _batches(receipts):
        taken.update(MPesaTransaction.objects.filter(receipt_number__in=chunk).values_list("receipt_number", flat=True))
    pending = [(pk, receipt) for pk, receipt in wanted.items() if receipt not in taken]
    if not pending:
        return 0
    now = timezone.now()
    try:
        with transaction.atomic():
            return _receipts_store(pending, now)
    except IntegrityError:
        logger.warning("mpesa.reconciliation receipt clash during bulk fill; filling one by one")
    filled = 0
    for pk, receipt in pending:
        try:
            with transaction.atomic():
                filled += MPesaTransaction.objects.filter(pk=pk, receipt_number__isnull=True).update(
                    receipt_number=receipt, updated_at=now
                )
        except IntegrityError:
            continue
    return filled


def _receipts_store(pending: list[tuple[int, str]], now: datetime) -> int:
    """Set receipt_number on receipt-less transactions, in bulk. Returns the rows updated.

    PostgreSQL: one UPDATE ... FROM unnest(ids, receipts) per batch (Django's bulk_update builds a CASE of one WHEN
    per row, about 25x slower for thousands of rows). Other databases: bulk_update.
    """
    if connection.vendor != "postgresql":
        updates = [MPesaTransaction(id=pk, receipt_number=receipt, updated_at=now) for pk, receipt in pending]
        MPesaTransaction.objects.bulk_update(updates, ["receipt_number", "updated_at"], batch_size=_BATCH // 2)
        return len(updates)
    table = connection.ops.quote_name(MPesaTransaction._meta.db_table)
    sql = (
        f"UPDATE {table} AS t SET receipt_number = v.receipt, updated_at = %s "
        "FROM unnest(%s::bigint[], %s::varchar[]) AS v(id, receipt) "
        "WHERE t.id = v.id AND t.receipt_number IS NULL"
    )
    updated = 0
    with connection.cursor() as cursor:
        for chunk in _batches(pending, _BATCH * 5):
            cursor.execute(sql, [now, [pk for pk, _ in chunk], [receipt for _, receipt in chunk]])
            updated += cursor.rowcount
    return updated


@transaction.atomic
def reconciliation_create(*, actor, group_id: int, file: IO[bytes], file_name: str) -> PaymentReconciliation:
    """Reconcile an uploaded M-Pesa org statement against the group's succeeded M-Pesa transactions.

    Officials only (outsider 404, plain member 403). 400 on "file" for a file over MPESA_STATEMENT_MAX_BYTES, a file
    that is not a CSV/XLSX statement, missing columns (the message names them) or any unreadable row; 409 when the
    same file (SHA-256) was already reconciled for the group. Returns the saved reconciliation with its counts.
    """
    started = time.monotonic()
    official_require(actor, group_id, field="group")
    group_id = int(group_id)
    name = os.path.basename(str(file_name or "")).strip()[:255] or "statement"

    limit = settings.MPESA_STATEMENT_MAX_BYTES
    size = _file_size(file)
    if size > limit:
        raise _file_error(f"The file is {size:,} bytes; the limit is {limit:,} bytes. Export a shorter period.")
    sha256 = _sha256(file)
    _duplicate_guard(group_id=group_id, sha256=sha256)

    rows, skipped = _read_rows(file, name)
    window = timedelta(minutes=settings.MPESA_RECONCILIATION_WINDOW_MINUTES)
    if rows:
        start = min(row.completed_at for row in rows) - window
        end = max(row.completed_at for row in rows) + window
        payments: Iterator[OurPayment] | list[OurPayment] = _payments(group_id=group_id, start=start, end=end)
    else:
        payments = []
    result = reconcile(rows, payments, window=window)
    if max(result.statement_total, result.matched_amount) > AMOUNT_MAX:
        raise _file_error(f"The statement's total exceeds KES {AMOUNT_MAX:,}: split it into shorter periods.")
    total_rows = len(rows)
    del rows

    _upload_lock(group_id)
    _duplicate_guard(group_id=group_id, sha256=sha256)  # again, under the lock: a concurrent upload of the file
    open_count = len(result.amount_mismatch) + len(result.missing_in_chamahub) + len(result.missing_in_statement)
    reconciliation = PaymentReconciliation.objects.create(
        group_id=group_id,
        uploaded_by=actor,
        file_name=name,
        file_sha256=sha256,
        status=ReconciliationStatus.COMPLETED if open_count else ReconciliationStatus.RESOLVED,
        period_start=result.period_start,
        period_end=result.period_end,
        rows_total=total_rows + skipped,
        rows_skipped=skipped,
        matched_count=len(result.matched),
        matched_amount=result.matched_amount,
        statement_total=result.statement_total,
        missing_in_chamahub_count=len(result.missing_in_chamahub),
        missing_in_statement_count=len(result.missing_in_statement),
        amount_mismatch_count=len(result.amount_mismatch),
        open_exceptions=open_count,
    )
    ReconciliationException.objects.bulk_create(_exceptions(result, reconciliation=reconciliation), batch_size=_BATCH)
    filled = _receipts_fill(result)
    reconciliation.duration_ms = int((time.monotonic() - started) * 1000)
    PaymentReconciliation.objects.filter(pk=reconciliation.pk).update(duration_ms=reconciliation.duration_ms)
    events.publish(
        "mpesa.reconciliation_completed",
        {
            "reconciliation_id": reconciliation.id,
            "matched": reconciliation.matched_count,
            "open_exceptions": open_count,
            "receipts_filled": filled,
        },
        group_id=group_id,
    )
    logger.info(
        "mpesa.reconciliation group=%s id=%s rows=%s matched=%s exceptions=%s receipts_filled=%s in %s ms",
        group_id,
        reconciliation.id,
        total_rows,
        reconciliation.matched_count,
        open_count,
        filled,
        reconciliation.duration_ms,
    )
    return reconciliation


# ----------------------------------------------------------------------------------------------------------------
# Resolve


def _receipt_clash(receipt: str) -> Conflict:
    return Conflict(
        f"Receipt {receipt} is already recorded on another M-Pesa transaction.",
        fields={"transaction": [f"Receipt {receipt} is already in ChamaHub."]},
        code="duplicate_receipt",
    )


def _post(exception: ReconciliationException) -> MPesaTransaction:
    """A statement pay-in ChamaHub never saw: record it (C2B, succeeded) and hold it in the group's suspense."""
    if exception.kind != ExceptionKind.MISSING_IN_CHAMAHUB or exception.direction != "in":
        raise ValidationFailed(
            "Only money paid in that is missing in ChamaHub can be posted.",
            fields={"action": ["Post applies to a statement pay-in missing in ChamaHub; link or review this one."]},
        )
    receipt = exception.receipt_number
    if MPesaTransaction.objects.filter(receipt_number=receipt).exists():
        raise _receipt_clash(receipt)
    txn = MPesaTransaction(
        kind=TransactionKind.C2B,
        group_id=exception.group_id,
        phone=exception.phone,
        amount=exception.statement_amount,
        purpose=Purpose.OTHER,
        receipt_number=receipt,
        status=TransactionStatus.SUCCEEDED,
        result_code="0",
        result_desc="Found in the M-Pesa statement",
        transaction_desc="Statement reconciliation",
        transaction_date=exception.completed_at,
        completed_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            txn.save()
    except IntegrityError:  # the same receipt arrived concurrently (a late C2B confirmation)
        raise _receipt_clash(receipt) from None
    settle_pay_in(txn, mismatch=POST_SUSPENSE_NOTE)
    txn.save()
    return txn


def _link(exception: ReconciliationException, transaction_id: int | None) -> MPesaTransaction:
    """Point the exception at an existing transaction of the group, teaching it the statement's receipt if needed."""
    if transaction_id is None:
        raise ValidationFailed(
            "Choose the transaction to link.", fields={"transaction": ["Required to link an exception."]}
        )
    txn = MPesaTransaction.objects.select_for_update().filter(pk=transaction_id, group_id=exception.group_id).first()
    if txn is None:
        raise NotFound("Transaction not found.", fields={"transaction": ["No such transaction in this group."]})
    receipt = exception.receipt_number
    if not txn.receipt_number and receipt:
        if MPesaTransaction.objects.filter(receipt_number=receipt).exclude(pk=txn.pk).exists():
            raise _receipt_clash(receipt)
        txn.receipt_number = receipt
        try:
            with transaction.atomic():
                txn.save(update_fields=["receipt_number", "updated_at"])
        except IntegrityError:
            raise _receipt_clash(receipt) from None
    return txn


@transaction.atomic
def reconciliation_exception_resolve(
    *, actor, exception_id: int, action: str, transaction_id: int | None = None, note: str = ""
) -> ReconciliationException:
    """Close one open exception of a reconciliation (officials of the group; 409 once it is no longer open).

    - "post": a pay-in that is in the statement but not in ChamaHub becomes a succeeded C2B transaction held in the
      group's SUSPENSE (Dr CASH / Cr SUSPENSE, reference = the receipt); an official allocates it afterwards through
      /api/v1/mpesa/transactions/{id}/allocate/. 409 if the receipt is already in ChamaHub.
    - "link": the exception is explained by an existing transaction of the group (`transaction_id`, 400 if missing,
      404 if not the group's); a receipt-less transaction receives the exception's receipt (409 on a clash).
    - "review": nothing to do in the books; `note` is required and says why.
    """
    note = (note or "").strip()
    if action not in RESOLVE_ACTIONS:
        raise ValidationFailed("Unknown action.", fields={"action": [f"Choose one of: {', '.join(RESOLVE_ACTIONS)}."]})
    exception = ReconciliationException.objects.select_for_update().filter(pk=exception_id).first()
    if exception is None:
        raise NotFound("Reconciliation exception not found.")
    official_require(actor, exception.group_id)
    if exception.resolution != ExceptionResolution.OPEN:
        raise Conflict(
            f"This exception is already {exception.get_resolution_display().lower()}.", code="already_resolved"
        )
    if action == "review" and not note:
        raise ValidationFailed("Say why no action is needed.", fields={"note": ["A note is required to review."]})

    if action == "post":
        exception.transaction = _post(exception)
        exception.resolution = ExceptionResolution.POSTED
    elif action == "link":
        exception.transaction = _link(exception, transaction_id)
        exception.resolution = ExceptionResolution.LINKED
    else:
        exception.resolution = ExceptionResolution.REVIEWED
    exception.resolved_by = actor
    exception.resolved_at = timezone.now()
    exception.resolution_note = note[:255]
    exception.save(
        update_fields=["transaction", "resolution", "resolved_by", "resolved_at", "resolution_note", "updated_at"]
    )

    reconciliation = PaymentReconciliation.objects.select_for_update().get(pk=exception.reconciliation_id)
    reconciliation.open_exceptions = max(reconciliation.open_exceptions - 1, 0)
    if reconciliation.open_exceptions == 0:
        reconciliation.status = ReconciliationStatus.RESOLVED
    reconciliation.save(update_fields=["open_exceptions", "status", "updated_at"])
    events.publish(
        "mpesa.reconciliation_exception_resolved",
        {
            "reconciliation_id": reconciliation.id,
            "exception_id": exception.id,
            "resolution": exception.resolution,
            "transaction_id": exception.transaction_id,
            "amount": str(exception.statement_amount or exception.chamahub_amount or Decimal("0.00")),
        },
        group_id=exception.group_id,
    )
    return exception
