"""parse_statement on portal-layout CSV and XLSX files built by statement_fixtures; every StatementError case."""

from __future__ import annotations

import gc
import io
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest

from mpesa_integration.statements import (
    NAIROBI,
    StatementError,
    StatementRow,
    parse_statement,
    phone_from_party,
)
from mpesa_integration.tests.statement_fixtures import (
    statement_csv_bytes,
    statement_csv_write,
    statement_xlsx_bytes,
)

T0 = datetime(2026, 11, 24, 14, 3, 11, tzinfo=NAIROBI)
REQUIRED_ONLY = ("receipt", "completed_at", "paid_in", "withdrawn", "other_party")


def parse(data: bytes, name: str = "statement.csv", **kwargs):
    """All rows plus the summary, after exhausting the reader."""
    reader = parse_statement(io.BytesIO(data), name, **kwargs)
    rows = list(reader)
    return rows, reader.summary


def line(receipt: str = "SKX1ABCDEF", **fields) -> dict:
    row = {"receipt": receipt, "completed_at": T0, "paid_in": "1,000.00", "other_party": "254712345678 - JOHN DOE"}
    row.update(fields)
    return row


def error_of(data: bytes, name: str = "statement.csv") -> StatementError:
    with pytest.raises(StatementError) as caught:
        list(parse_statement(io.BytesIO(data), name))
    return caught.value


# --------------------------------------------------------------------------------------------------------------
# CSV


def test_csv_portal_layout_with_preamble() -> None:
    data = statement_csv_bytes(
        [
            line(
                " skx1abcdef ",
                paid_in="1,250.00",
                details="Pay Bill from 254712345678",
                account_number="M001",
                balance="10,000.00",
            ),
            line("SKX1ABCDEG", paid_in="", withdrawn="-500.00", other_party="2547******678 - JANE DOE"),
            line("SKX1ABCDEH", paid_in="75.50", withdrawn="-", other_party="0712345678 - JANE"),
            line("SKX1ABCDEI", other_party="600000 - SOME ORG"),
        ]
    )
    rows, summary = parse(data)

    assert summary.format == "csv"
    assert summary.header_line == 4  # three preamble lines, then the header
    assert summary.preamble["Organisation Short Code"] == "600000"
    assert summary.rows == 4 and summary.complete
    first, out, short, org = rows
    assert first == StatementRow(
        line=5,
        receipt="SKX1ABCDEF",
        completed_at=T0,
        amount=Decimal("1250.00"),
        direction="in",
        status="Completed",
        details="Pay Bill from 254712345678",
        other_party="254712345678 - JOHN DOE",
        phone="254712345678",
        account_number="M001",
    )
    assert first.completed_at.utcoffset() == timedelta(hours=3)
    assert (out.line, out.amount, out.direction, out.phone) == (6, Decimal("500.00"), "out", "2547******678")
    assert (short.amount, short.direction, short.phone) == (Decimal("75.50"), "in", "254712345678")
    assert org.phone == "" and org.other_party == "600000 - SOME ORG"
    assert all(type(row.amount) is Decimal for row in rows)


def test_header_variants_reordered_and_only_required_columns() -> None:
    labels = {
        "receipt": "RECEIPT NO",
        "completed_at": " completion time. ",
        "paid_in": "Paid in",
        "withdrawn": "WITHDRAWN.",
        "other_party": "other party info",
    }
    data = statement_csv_bytes(
        [line(withdrawn="")], preamble=False, columns=("other_party", *REQUIRED_ONLY[:4]), labels=labels
    )
    rows, summary = parse(data)
    assert summary.header_line == 1
    assert [(r.receipt, r.amount, r.phone, r.status, r.details, r.account_number) for r in rows] == [
        ("SKX1ABCDEF", Decimal("1000.00"), "254712345678", "Completed", "", "")
    ]


def test_other_time_formats_are_nairobi_local() -> None:
    data = statement_csv_bytes(
        [
            line("A1", completed_at="24/11/2026 14:03:11"),
            line("A2", completed_at="24-11-2026 14:03:11"),
            line("A3", completed_at="2026-11-24 14:03:11"),
        ]
    )
    rows, _ = parse(data)
    assert [row.completed_at for row in rows] == [T0, T0, T0]
    assert rows[0].completed_at == datetime(2026, 11, 24, 11, 3, 11, tzinfo=UTC)


def test_blank_lines_and_non_completed_rows_are_skipped_and_counted() -> None:
    data = statement_csv_bytes(
        [
            line("A1"),
            {},  # a row of empty cells
            line("A2", status="Failed", paid_in="", completed_at="garbage"),  # not validated: skipped first
            line("A3", status="Cancelled"),
            line("A4", status="Failed"),
            line("A5", status=" completed "),
        ]
    )
    data = data.replace(b"\r\n", b"\r\n\r\n", 1)  # and a truly empty line inside the preamble
    reader = parse_statement(io.BytesIO(data), "s.csv")
    assert reader.summary.complete is False
    rows = list(reader)
    assert [row.receipt for row in rows] == ["A1", "A5"]
    assert reader.summary.complete is True
    assert reader.summary.skipped_status == {"Failed": 2, "Cancelled": 1}
    assert reader.summary.skipped_not_completed == 3
    assert reader.summary.skipped_blank == 1


def test_cp1252_export_falls_back_and_utf8_bom_is_accepted() -> None:
    rows = [line(other_party="254712345678 - JOSÉ MÜLLER")]
    cp1252_rows, summary = parse(statement_csv_bytes(rows, encoding="cp1252"))
    assert summary.encoding == "cp1252"
    assert cp1252_rows[0].other_party == "254712345678 - JOSÉ MÜLLER"

    bom_rows, summary = parse(statement_csv_bytes(rows, encoding="utf-8-sig", preamble=False))
    assert summary.encoding == "utf-8-sig" and summary.header_line == 1
    assert bom_rows[0].other_party == "254712345678 - JOSÉ MÜLLER"


def test_parsing_streams_and_a_bad_row_raises_only_when_reached() -> None:
    data = statement_csv_bytes([line("A1"), line("A2"), line("A3", completed_at="31/02/2026 10:00:00")])
    reader = parse_statement(io.BytesIO(data), "s.csv")
    assert iter(reader) is reader
    assert next(reader).receipt == "A1"
    assert next(reader).receipt == "A2"
    with pytest.raises(StatementError) as caught:
        next(reader)
    assert caught.value.line == 7


def test_non_seekable_stream_and_caller_file_left_open(tmp_path) -> None:
    path = tmp_path / "statement.csv"
    assert statement_csv_write(path, (line(f"R{i}") for i in range(3))) == 3

    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:
            chunk = self._inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    rows, _ = parse(path.read_bytes())
    with parse_statement(Pipe(path.read_bytes()), "s.csv") as reader:
        assert [row.receipt for row in reader] == [row.receipt for row in rows] == ["R0", "R1", "R2"]

    with open(path, "rb") as handle:
        reader = parse_statement(handle, "s.csv")
        next(reader)
        del reader
        gc.collect()
        assert not handle.closed  # abandoning the reader must not close the caller's file
        handle.seek(0)


# --------------------------------------------------------------------------------------------------------------
# XLSX


def test_xlsx_native_datetime_and_number_cells() -> None:
    data = statement_xlsx_bytes(
        [
            line("X1", completed_at=T0, paid_in=Decimal("1250.5"), balance=Decimal("10000")),
            line("X2", completed_at=T0 + timedelta(minutes=1), paid_in=None, withdrawn=500),  # written as -500
            line("X3", paid_in=2000, account_number=12345),
        ]
    )
    rows, summary = parse(data, "statement.xlsx")
    assert summary.format == "xlsx" and summary.header_line == 4
    assert summary.preamble["Organization Name"] == "CHAMAHUB TEST CHAMA"
    assert [(r.line, r.receipt, r.amount, r.direction) for r in rows] == [
        (5, "X1", Decimal("1250.50"), "in"),
        (6, "X2", Decimal("500.00"), "out"),
        (7, "X3", Decimal("2000.00"), "in"),
    ]
    assert rows[0].completed_at == T0 and rows[0].completed_at.tzinfo is NAIROBI
    assert rows[1].completed_at == T0 + timedelta(minutes=1)
    assert rows[2].account_number == "12345"
    assert all(type(row.amount) is Decimal for row in rows)


def test_xlsx_text_cells_and_detection_by_content_not_name() -> None:
    data = statement_xlsx_bytes(
        [line("X1", completed_at="24/11/2026 14:03:11", paid_in="1,000.00"), {}, line("X2", status="Failed")],
        native=False,
    )
    rows, summary = parse(data, "statement.csv")  # misnamed: content decides
    assert summary.format == "xlsx"
    assert [(r.receipt, r.completed_at, r.amount) for r in rows] == [("X1", T0, Decimal("1000.00"))]
    assert summary.skipped_blank == 1 and summary.skipped_status == {"Failed": 1}


def test_xlsx_workbook_is_read_from_first_sheet_with_wrong_dimensions() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Receipt No.", "Completion Time", "Paid In", "Withdrawn", "Other Party Info"])
    sheet.append(["W1", datetime(2026, 11, 24, 14, 3, 11), 300, None, "0722000000 - A"])
    workbook.create_sheet("Other").append(["not", "this"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as source:  # claim a 1-cell sheet: openpyxl read-only would stop there
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(b'ref="A1:E2"', b'ref="A1"')
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as target:
        for name, content in parts.items():
            target.writestr(name, content)
    rows, _ = parse(broken.getvalue(), "statement.xlsx")
    assert [(r.receipt, r.amount, r.phone, r.line) for r in rows] == [("W1", Decimal("300.00"), "254722000000", 2)]


# --------------------------------------------------------------------------------------------------------------
# StatementError: the file


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"", "statement.csv", "empty"),
        (b"\xef\xbb\xbf \r\n\r\n", "statement.csv", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "statement.pdf", "PDF"),
        (bytes(range(256)) * 8, "statement.csv", "not a CSV or Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "statement.xls", ".xls"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "statement.csv", "not a CSV or Excel"),
    ],
    ids=["empty", "blank", "pdf", "garbage", "xls", "png"],
)
def test_not_a_statement_file(data: bytes, name: str, expected: str) -> None:
    error = error_of(data, name)
    assert error.field == "file"
    assert expected in error.message and str(error) == error.message


def test_broken_zip_named_xlsx() -> None:
    whole = statement_xlsx_bytes([line()])
    error = error_of(whole[: len(whole) // 2], "statement.xlsx")
    assert error.field == "file" and "not a valid Excel (XLSX) workbook" in error.message


def test_zip_that_is_not_a_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    error = error_of(buffer.getvalue(), "statement.xlsx")
    assert error.field == "file" and "XLSX" in error.message


# --------------------------------------------------------------------------------------------------------------
# StatementError: the columns


def test_missing_required_columns_are_named() -> None:
    data = statement_csv_bytes([line()], columns=("receipt", "completed_at", "withdrawn", "details"))
    error = error_of(data)
    assert error.field == "columns" and error.line == 4
    assert "Paid In" in error.message and "Other Party Info" in error.message
    assert "Receipt No." not in error.message and "Withdrawn" not in error.message


def test_missing_columns_raise_before_any_row_is_read() -> None:
    data = statement_csv_bytes([line()], columns=("receipt", "completed_at", "paid_in"))
    with pytest.raises(StatementError) as caught:
        parse_statement(io.BytesIO(data), "s.csv")  # no iteration needed
    assert caught.value.field == "columns" and "Withdrawn, Other Party Info" in caught.value.message


@pytest.mark.parametrize("preamble_lines", [0, 40], ids=["no-header", "header-after-row-30"])
def test_no_header_row_found(preamble_lines: int) -> None:
    if preamble_lines:
        data = statement_csv_bytes([line()], preamble={f"Note {i}": "x" for i in range(preamble_lines)})
    else:
        data = b"name,amount\r\nJohn,100\r\nJane,200\r\n"
    error = error_of(data)
    assert error.field == "columns"
    assert "No statement header row found in the first 30 rows" in error.message
    assert "Receipt No., Completion Time, Paid In, Withdrawn, Other Party Info" in error.message


def test_xlsx_missing_columns_named() -> None:
    error = error_of(statement_xlsx_bytes([line()], columns=("receipt", "completed_at", "paid_in", "withdrawn")))
    assert error.field == "columns" and error.message.endswith("Other Party Info.")


# --------------------------------------------------------------------------------------------------------------
# StatementError: rows


@pytest.mark.parametrize(
    ("bad", "column"),
    [
        ({"completed_at": "2026-13-01 10:00:00"}, "Completion Time"),
        ({"completed_at": "yesterday"}, "Completion Time"),
        ({"completed_at": ""}, "Completion Time"),
        ({"paid_in": "12O.00"}, "Paid In"),
        ({"paid_in": "NaN"}, "Paid In"),
        ({"paid_in": "10.005"}, "Paid In"),
        ({"paid_in": "", "withdrawn": "five hundred"}, "Withdrawn"),
    ],
)
def test_unreadable_time_or_amount_names_line_and_column(bad: dict, column: str) -> None:
    error = error_of(statement_csv_bytes([line("A1"), line("A2", **bad)]))
    assert error.field == "file" and error.line == 6
    assert error.message.startswith(f"Line 6, column {column}:")


def test_empty_receipt_and_no_amount() -> None:
    error = error_of(statement_csv_bytes([line("A1"), line("  ")]))
    assert (error.line, error.message) == (6, "Line 6: the Receipt No. is empty.")
    error = error_of(statement_csv_bytes([line("A1", paid_in="", withdrawn="-")]))
    assert error.line == 5 and "neither Paid In nor Withdrawn" in error.message


def test_duplicate_receipt_is_rejected_case_insensitively() -> None:
    error = error_of(statement_csv_bytes([line("SKX1ABCDEF"), line("A2"), line("skx1abcdef")]))
    assert error.field == "file" and error.line == 7
    assert "SKX1ABCDEF already appears on line 5" in error.message


def test_xlsx_bad_date_names_row() -> None:
    data = statement_xlsx_bytes([line("X1"), line("X2", completed_at="30/02/2026 10:00:00")])
    error = error_of(data, "statement.xlsx")
    assert error.line == 6 and error.message.startswith("Row 6, column Completion Time:")


def test_max_rows() -> None:
    data = statement_csv_bytes([line(f"R{i}") for i in range(5)])
    assert len(parse(data, max_rows=5)[0]) == 5
    with pytest.raises(StatementError, match="more than 4 rows"):
        parse(data, max_rows=4)


# --------------------------------------------------------------------------------------------------------------
# Phones


@pytest.mark.parametrize(
    ("other_party", "phone"),
    [
        ("254712345678 - JOHN DOE", "254712345678"),
        ("0712345678 - JANE", "254712345678"),
        ("+254 712 345 678 - JANE", "254712345678"),
        ("254110345678 - AIRTEL", "254110345678"),
        ("2547******678 - JOHN DOE", "2547******678"),
        ("25470****149 - JOHN", "25470****149"),
        ("07******678 - JOHN", "2547******678"),
        ("600000 - SOME ORG", ""),
        ("4001234 - TILL", ""),
        ("0202222222 - LANDLINE", ""),
        ("JOHN DOE", ""),
        ("", ""),
        ("**** - HIDDEN", ""),
    ],
)
def test_phone_from_party(other_party: str, phone: str) -> None:
    assert phone_from_party(other_party) == phone
