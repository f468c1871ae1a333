"""Parse the M-Pesa organisation statement an official exports from the M-Pesa org portal (CSV or XLSX).

Pure Python on purpose (stdlib, openpyxl, phonenumbers; no Django): the parser is shared by the upload view, the
reconciliation task and the benchmark, and it must be testable on its own.

The export is a few preamble lines (``Organization Name,...``, ``Organisation Short Code,...``, ``Time Period,...``)
then a table whose header row is found within the first :data:`HEADER_SEARCH_ROWS` rows. Header labels are matched
leniently (case, spacing, punctuation and trailing dots are ignored, plus a few known alternative spellings).

Policy, decided once for every caller:

* **Bad rows raise, they are never skipped.** A Completed row with an empty receipt, an unreadable time or amount,
  or a receipt already seen in the file raises :class:`StatementError` naming the line and the column. An official
  must upload a clean export: a half-reconciled statement is worse than a rejected one.
* **Blank rows and rows whose Transaction Status is not "Completed" are skipped and counted** in
  :class:`StatementSummary` (``reader.summary``); the counts are final once ``summary.complete`` is True.
* **Streaming:** :func:`parse_statement` checks the file type and the header eagerly (so a wrong file fails at
  once, before any row is read) and then yields one :class:`StatementRow` at a time. It never builds a list of rows;
  the only per-row state it keeps is the receipts seen so far, to reject duplicates.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import IO, Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

import openpyxl
import phonenumbers

__all__ = [
    "COLUMN_LABELS",
    "HEADER_SEARCH_ROWS",
    "NAIROBI",
    "REQUIRED_COLUMNS",
    "StatementError",
    "StatementReader",
    "StatementRow",
    "StatementSummary",
    "parse_statement",
    "phone_from_party",
]

NAIROBI = ZoneInfo("Africa/Nairobi")

#: The header row must appear within this many rows from the top of the file.
HEADER_SEARCH_ROWS = 30

#: Canonical column key -> the label the portal prints. Keys are what the rest of this module uses.
COLUMN_LABELS: dict[str, str] = {
    "receipt": "Receipt No.",
    "completed_at": "Completion Time",
    "initiated_at": "Initiation Time",
    "details": "Details",
    "status": "Transaction Status",
    "paid_in": "Paid In",
    "withdrawn": "Withdrawn",
    "balance": "Balance",
    "balance_confirmed": "Balance Confirmed",
    "reason_type": "Reason Type",
    "other_party": "Other Party Info",
    "linked_transaction_id": "Linked Transaction ID",
    "account_number": "A/C No.",
}

#: Columns a statement must have. Details, Transaction Status and A/C No. are optional (no status = all Completed).
REQUIRED_COLUMNS: tuple[str, ...] = ("receipt", "completed_at", "paid_in", "withdrawn", "other_party")

COMPLETED = "Completed"
IN: Literal["in"] = "in"
OUT: Literal["out"] = "out"

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_PDF_MAGIC = b"%PDF"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls
_SNIFF_BYTES = 8192
_SCAN_CHUNK = 1 << 20
_SPOOL_MAX = 16 << 20
_CENT = Decimal("0.01")


def _header_key(label: object) -> str:
    """Reduce a header label to lower-case letters and digits: "Receipt No." -> "receiptno", "A/C No." -> "acno"."""
    return re.sub(r"[^a-z0-9]", "", str(label).lower()) if label is not None else ""


# Normalised header key -> canonical column. The portal's own labels plus spellings seen in other exports.
_HEADER_ALIASES: dict[str, str] = {_header_key(label): key for key, label in COLUMN_LABELS.items()}
_HEADER_ALIASES.update(
    {
        "receipt": "receipt",
        "receiptnumber": "receipt",
        "completiontimedate": "completed_at",
        "completiondate": "completed_at",
        "completedtime": "completed_at",
        "initiationdate": "initiated_at",
        "status": "status",
        "paidin": "paid_in",
        "withdrawal": "withdrawn",
        "withdrawals": "withdrawn",
        "paidout": "withdrawn",
        "otherparty": "other_party",
        "otherpartyinformation": "other_party",
        "accountno": "account_number",
        "accountnumber": "account_number",
        "acnumber": "account_number",
    }
)


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One Completed transaction line of the statement.

    ``amount`` is always positive: Paid In when it is > 0 (``direction == "in"``), otherwise ``|Withdrawn|``
    (``direction == "out"``). ``phone`` is the payer/payee MSISDN normalised to ``2547XXXXXXXX``/``2541XXXXXXXX``;
    the masked string (``"2547******678"``) when the portal masked it; ``""`` for a shortcode or no number.
    """

    line: int
    receipt: str
    completed_at: datetime
    amount: Decimal
    direction: Literal["in", "out"]
    status: str
    details: str
    other_party: str
    phone: str
    account_number: str


class StatementError(ValueError):
    """The upload cannot be used as a statement. ``field`` is "file" or "columns" (for API error envelopes).

    ``line`` is the 1-based line (CSV) or row (XLSX) the problem is on, when there is one. ``str(error)`` is the
    message, which already names the line and the column.
    """

    def __init__(self, field: Literal["file", "columns"], message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.line = line


@dataclass(slots=True)
class StatementSummary:
    """What the parser saw besides the rows it yielded. Counts are final once ``complete`` is True.

    ``skipped_status`` maps each non-Completed Transaction Status (as written, e.g. "Failed") to how many rows had
    it; ``preamble`` maps each preamble label (e.g. "Organisation Short Code") to its value.
    """

    format: Literal["csv", "xlsx"]
    encoding: str = ""
    header_line: int = 0
    columns: tuple[str, ...] = ()
    preamble: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    skipped_blank: int = 0
    skipped_status: dict[str, int] = field(default_factory=dict)
    complete: bool = False

    @property
    def skipped_not_completed(self) -> int:
        """Rows skipped because their Transaction Status was not "Completed"."""
        return sum(self.skipped_status.values())


class StatementReader(Iterator[StatementRow]):
    """The iterator :func:`parse_statement` returns: yields rows, and exposes ``summary`` and ``close()``.

    Use it as a context manager (or exhaust it) so an XLSX workbook's file handle is released promptly.
    """

    def __init__(self, rows: Iterator[StatementRow], summary: StatementSummary, closer: Callable[[], None]) -> None:
        self._rows = rows
        self.summary = summary
        self._closer = closer

    def __iter__(self) -> StatementReader:
        return self

    def __next__(self) -> StatementRow:
        return next(self._rows)

    def close(self) -> None:
        """Stop reading and release the workbook / temporary file."""
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()
        self._closer()

    def __enter__(self) -> StatementReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def parse_statement(fileobj: BinaryIO, filename: str, *, max_rows: int = 500_000) -> StatementReader:
    """Open an M-Pesa org statement (CSV or XLSX) and return a streaming iterator of its Completed rows.

    The format is chosen by content (an XLSX file is a zip: ``PK\\x03\\x04``); ``filename`` is only a hint used in
    messages. Raises :class:`StatementError` at once for a file that is not a CSV/XLSX statement or lacks required
    columns, and while iterating for a bad row, a duplicate receipt or more than ``max_rows`` rows after the header.
    ``fileobj`` is read from its start and must stay open until iteration ends (it is never closed here); a
    non-seekable stream is first spooled to a temporary file.
    """
    stream, owned = _seekable(fileobj)
    try:
        head = stream.read(_SNIFF_BYTES)
        stream.seek(0)
        if head.startswith(_ZIP_MAGIC):
            reader = _open_xlsx(stream, filename, max_rows)
        else:
            _reject_non_text(head, filename)
            reader = _open_csv(stream, max_rows)
    except BaseException:
        if owned:
            stream.close()
        raise
    if owned:
        inner_closer = reader._closer

        def closer() -> None:
            inner_closer()
            stream.close()

        reader._closer = closer
    return reader


# --------------------------------------------------------------------------------------------------------------
# File type detection


def _seekable(fileobj: BinaryIO) -> tuple[IO[bytes], bool]:
    """Return a seekable binary stream (the input itself when possible) and whether we own (must close) it."""
    try:
        if fileobj.seekable():
            fileobj.seek(0)
            return fileobj, False
    except (AttributeError, OSError, ValueError):
        pass
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX)  # noqa: SIM115 - closed by the reader
    shutil.copyfileobj(fileobj, spool)
    spool.seek(0)
    return spool, True


def _reject_non_text(head: bytes, filename: str) -> None:
    """Raise StatementError unless ``head`` looks like the start of a text (CSV) file."""
    lower = filename.lower()
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n"):
        raise StatementError("file", "The file is empty. Export the statement from the M-Pesa portal again.")
    if head.startswith(_PDF_MAGIC):
        raise StatementError(
            "file", "This is a PDF. Download the statement from the M-Pesa portal as CSV or Excel (XLSX) instead."
        )
    if head.startswith(_OLE2_MAGIC):
        raise StatementError("file", "Old Excel 97-2003 (.xls) files are not supported. Save it as XLSX or CSV.")
    if head.startswith(_EMPTY_ZIP_MAGIC) or (lower.endswith((".xlsx", ".xlsm")) and head.startswith(b"PK")):
        raise StatementError("file", f"{filename or 'The file'} is not a valid Excel (XLSX) workbook.")
    controls = sum(1 for b in head if b < 0x20 and b not in b"\t\n\r\f")
    if b"\x00" in head or controls > len(head) // 100:
        hint = " It is named like an Excel file but is not a valid XLSX workbook." if lower.endswith(".xlsx") else ""
        raise StatementError("file", f"This is not a CSV or Excel (XLSX) statement.{hint}")


def _detect_encoding(stream: IO[bytes]) -> str:
    """Return "utf-8-sig" if the whole stream is valid UTF-8, else "cp1252". Reads in chunks, then rewinds."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(_SCAN_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    finally:
        stream.seek(0)
    return "utf-8-sig"


# --------------------------------------------------------------------------------------------------------------
# Header detection


def _find_header(row: list[Any]) -> dict[str, int] | None:
    """Map canonical column -> index for a row that looks like the statement header (>= 2 known labels)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(row):
        key = _HEADER_ALIASES.get(_header_key(cell))
        if key is not None and key not in found:
            found[key] = index
    return found if len(found) >= 2 else None


def _check_header(found: dict[str, int] | None, line: int) -> dict[str, int]:
    """Raise StatementError("columns") naming every required column that the header lacks."""
    if found is None:
        expected = ", ".join(COLUMN_LABELS[key] for key in REQUIRED_COLUMNS)
        raise StatementError(
            "columns",
            f"No statement header row found in the first {HEADER_SEARCH_ROWS} rows. Expected the columns {expected}.",
        )
    missing = [COLUMN_LABELS[key] for key in REQUIRED_COLUMNS if key not in found]
    if missing:
        raise StatementError(
            "columns",
            f"The header on line {line} is missing required column(s): {', '.join(missing)}.",
            line=line,
        )
    return found


def _record_preamble(preamble: dict[str, str], cells: list[Any]) -> None:
    """Keep "label -> first non-empty value" for a preamble line such as ``Organisation Short Code,600000``."""
    texts = [_text(cell) for cell in cells]
    texts = [text for text in texts if text]
    if texts:
        label = texts[0].rstrip(":").strip()
        if label and label not in preamble:
            preamble[label] = texts[1] if len(texts) > 1 else ""


# --------------------------------------------------------------------------------------------------------------
# CSV


def _open_csv(stream: IO[bytes], max_rows: int) -> StatementReader:
    encoding = _detect_encoding(stream)
    # _KeepOpen: the text wrapper must never close the caller's file, even when it is garbage-collected.
    text = io.TextIOWrapper(_KeepOpen(stream), encoding=encoding, errors="replace", newline="")
    cells_iter = _csv_cells(csv.reader(text))
    summary = StatementSummary(format="csv", encoding=encoding)
    columns: dict[str, int] | None = None
    for count, (line, cells) in enumerate(cells_iter, 1):
        if count > HEADER_SEARCH_ROWS:
            break
        columns = _find_header(cells)
        if columns is not None:
            summary.header_line = line
            break
        _record_preamble(summary.preamble, cells)
    columns = _check_header(columns, summary.header_line)
    summary.columns = tuple(columns)
    return StatementReader(_rows(cells_iter, columns, summary, max_rows, "Line"), summary, lambda: None)


class _KeepOpen(io.BufferedIOBase):
    """A read-only view of a binary stream whose close() leaves the stream open."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        return self._raw.read(-1 if size is None else size)

    def read1(self, size: int = -1, /) -> bytes:
        return self._raw.read(size)


def _csv_cells(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, cells) from a csv.reader, turning csv.Error into StatementError."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise StatementError(
                "file", f"Line {reader.line_num}: the CSV is damaged ({exc}).", line=reader.line_num
            ) from None
        yield reader.line_num, cells


# --------------------------------------------------------------------------------------------------------------
# XLSX

# What openpyxl raises for a damaged workbook: zip, deflate, XML and missing-part errors.
_XLSX_ERRORS = (zipfile.BadZipFile, zlib.error, KeyError, ValueError, TypeError, OSError, EOFError, SyntaxError)


def _open_xlsx(stream: IO[bytes], filename: str, max_rows: int) -> StatementReader:
    name = filename or "The file"
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception:
        raise StatementError("file", f"{name} is not a valid Excel (XLSX) workbook (the file is damaged).") from None
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise StatementError("file", f"{name} has no worksheet.")
        sheet = sheets[0]
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # exporters often write a wrong <dimension>; read every row that exists
        iterator = _xlsx_cells(sheet.iter_rows(min_row=1, values_only=True), name)
        summary = StatementSummary(format="xlsx")
        columns: dict[str, int] | None = None
        for number, cells in iterator:
            if number > HEADER_SEARCH_ROWS:
                break
            columns = _find_header(cells)
            if columns is not None:
                summary.header_line = number
                break
            _record_preamble(summary.preamble, cells)
        columns = _check_header(columns, summary.header_line)
        summary.columns = tuple(columns)
    except BaseException:
        workbook.close()
        raise

    def rows() -> Iterator[StatementRow]:
        try:
            yield from _rows(iterator, columns, summary, max_rows, "Row")
        finally:
            workbook.close()

    return StatementReader(rows(), summary, workbook.close)


def _xlsx_cells(rows: Iterator[tuple[Any, ...]], name: str) -> Iterator[tuple[int, list[Any]]]:
    """Yield (row number, cells) from openpyxl, turning damage found mid-sheet into StatementError."""
    number = 0
    while True:
        try:
            cells = next(rows)
        except StopIteration:
            return
        except _XLSX_ERRORS as exc:
            raise StatementError(
                "file", f"{name} is damaged after row {number} ({type(exc).__name__}).", line=number + 1
            ) from None
        number += 1
        yield number, list(cells)


# --------------------------------------------------------------------------------------------------------------
# Rows


def _rows(
    cells_iter: Iterator[tuple[int, list[Any]]],
    columns: dict[str, int],
    summary: StatementSummary,
    max_rows: int,
    unit: str,
) -> Iterator[StatementRow]:
    """Turn raw cells into StatementRows: skip blank and non-Completed rows, raise on anything unreadable."""
    i_receipt = columns["receipt"]
    i_time = columns["completed_at"]
    i_in = columns["paid_in"]
    i_out = columns["withdrawn"]
    i_party = columns["other_party"]
    i_status = columns.get("status")
    i_details = columns.get("details")
    i_account = columns.get("account_number")
    width = max(columns.values()) + 1
    seen: dict[str, int] = {}
    count = 0
    for line, cells in cells_iter:
        count += 1
        if count > max_rows:
            raise StatementError(
                "file", f"The statement has more than {max_rows:,} rows; split it into shorter periods.", line=line
            )
        if not any(cell is not None and (not isinstance(cell, str) or cell.strip()) for cell in cells):
            summary.skipped_blank += 1
            continue
        if len(cells) < width:
            cells = [*cells, *([None] * (width - len(cells)))]
        if i_status is not None:
            status = _text(cells[i_status])
            if status.casefold() != "completed":
                summary.skipped_status[status] = summary.skipped_status.get(status, 0) + 1
                continue
        receipt = _text(cells[i_receipt]).upper()
        if not receipt:
            raise StatementError("file", f"{unit} {line}: the Receipt No. is empty.", line=line)
        if receipt in seen:
            raise StatementError(
                "file",
                f"{unit} {line}: Receipt No. {receipt} already appears on {unit.lower()} {seen[receipt]}. "
                "A statement must list each receipt once.",
                line=line,
            )
        completed_at = _parse_time(cells[i_time], unit, line, "Completion Time")
        paid_in = _parse_amount(cells[i_in], unit, line, "Paid In")
        withdrawn = _parse_amount(cells[i_out], unit, line, "Withdrawn")
        if paid_in > 0:
            amount, direction = paid_in, IN
        elif withdrawn != 0:
            amount, direction = abs(withdrawn), OUT
        else:
            raise StatementError(
                "file", f"{unit} {line}: neither Paid In nor Withdrawn has an amount (receipt {receipt}).", line=line
            )
        other_party = _text(cells[i_party])
        seen[receipt] = line
        summary.rows += 1
        yield StatementRow(
            line=line,
            receipt=receipt,
            completed_at=completed_at,
            amount=amount,
            direction=direction,
            status=COMPLETED,
            details=_text(cells[i_details]) if i_details is not None else "",
            other_party=other_party,
            phone=phone_from_party(other_party),
            account_number=_text(cells[i_account]) if i_account is not None else "",
        )
    summary.complete = True


def _text(value: Any) -> str:
    """A cell as stripped text; integral floats (XLSX numbers) lose their ".0"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_TIME_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
_TIME_DMY = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?")


def _parse_time(value: Any, unit: str, line: int, column: str) -> datetime:
    """Nairobi-local "2026-11-24 14:03:11", "24/11/2026 14:03:11" or "24-11-2026 14:03:11" -> aware datetime.

    XLSX datetime cells are accepted as they are (naive = Nairobi local time). Regexes instead of strptime because
    this runs once per row and strptime is several times slower.
    """
    text = _text(value) if not isinstance(value, date) else ""
    try:
        if isinstance(value, datetime):
            when = value.replace(tzinfo=NAIROBI) if value.tzinfo is None else value.astimezone(NAIROBI)
        elif match := _TIME_YMD.fullmatch(text):
            year, month, day, hour, minute, second = match.groups()
            when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=NAIROBI)
        elif match := _TIME_DMY.fullmatch(text):
            day, month, year, hour, minute, second = match.groups()
            when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=NAIROBI)
        else:
            raise ValueError(text)
        if not YEAR_MIN <= when.year <= YEAR_MAX:  # M-Pesa did not exist before 2007; year 1 or 9999 is a typo
            raise ValueError(text)
        return when
    except ValueError:
        shown = text or (str(value) if value is not None else "")
        raise StatementError(
            "file",
            f"{unit} {line}, column {column}: cannot read the time {shown!r} "
            "(expected e.g. 2026-11-24 14:03:11 or 24/11/2026 14:03:11).",
            line=line,
        ) from None


_ZERO = Decimal("0.00")
#: The largest amount a statement line may carry (a 14-digit money column holds 999,999,999,999.99).
AMOUNT_MAX = Decimal("999999999999.99")
#: Plausible statement years: anything else is a corrupt cell, refused like any unreadable time.
YEAR_MIN, YEAR_MAX = 2000, 2100


def _parse_amount(value: Any, unit: str, line: int, column: str) -> Decimal:
    """ "1,250.00" / "-500.00" / "" / "-" / an XLSX number -> Decimal with 2 places (empty = 0). Never a float."""
    if value is None:
        return _ZERO
    if isinstance(value, bool):
        amount = None
    elif isinstance(value, int | float):
        amount = _to_decimal(str(value))
    else:
        text = str(value).strip()
        if text in ("", "-", "--"):
            return _ZERO
        text = text.replace(",", "").replace(" ", "").replace("\u00a0", "")
        upper = text.upper()
        for prefix in ("KES", "KSH", "KSHS"):
            if upper.startswith(prefix):
                text = text[len(prefix) :].lstrip(".")
                break
        if text.startswith("(") and text.endswith(")"):
            text = "-" + text[1:-1]
        amount = _to_decimal(text)
    # larger cannot be a real M-Pesa line (nor fit a money column); adjusted() first: abs() of 1e999999999 overflows
    if amount is not None and amount.adjusted() < 12 and abs(amount) <= AMOUNT_MAX:
        cents = amount.quantize(_CENT)
        if cents == amount:
            return cents
    raise StatementError("file", f"{unit} {line}, column {column}: cannot read the amount {value!r}.", line=line)


def _to_decimal(text: str) -> Decimal | None:
    """A finite Decimal from text, or None."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


# --------------------------------------------------------------------------------------------------------------
# Phones

_MOBILE_FAST = re.compile(r"(?:\+?254|0)?(7\d{8})")
_PARTY = re.compile(r"\s*(\+?[0-9*][0-9* ]*)")


def phone_from_party(other_party: str) -> str:
    """The phone in an "Other Party Info" value, for matching.

    "254712345678 - JOHN DOE" / "0712345678 - JANE" -> "254712345678"; "2547******678 - JOHN DOE" ->
    "2547******678" (masked: digits and stars, a leading 0 or +254 rewritten to 254); "600000 - SOME ORG" (a
    shortcode), a name only, or an invalid number -> "".
    """
    match = _PARTY.match(other_party)
    return _normalise_party_number(match.group(1).strip()) if match else ""


@lru_cache(maxsize=65536)
def _normalise_party_number(raw: str) -> str:
    """Normalise the number part of "Other Party Info" (cached: members pay again and again from one phone)."""
    number = raw.replace(" ", "")
    if "*" in number:
        if number.startswith("+"):
            number = number[1:]
        if number.startswith("0"):
            number = "254" + number[1:]
        elif number.startswith("7") or number.startswith("1"):
            number = "254" + number
        return number if number.strip("*") and any(ch.isdigit() for ch in number) else ""
    fast = _MOBILE_FAST.fullmatch(number)
    if fast:
        return "254" + fast.group(1)  # every 2547XXXXXXXX is a valid Safaricom/Airtel-range number
    if len(number.lstrip("+")) < 9:
        return ""  # a shortcode (5-7 digits), not a phone
    try:
        parsed = phonenumbers.parse(number, "KE")
    except phonenumbers.NumberParseException:
        return ""
    msisdn = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
    if re.fullmatch(r"254[17]\d{8}", msisdn) and phonenumbers.is_valid_number(parsed):
        return msisdn
    return ""
