import csv
import io

import openpyxl
import pytest

from apps.core.spreadsheets import csv_bytes, spreadsheet_safe, xlsx_bytes

DANGEROUS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)",
             "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_a_spreadsheet_would_run_is_escaped(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["Ada Lovelace", "", "a=b", " =1", 12, -5, None])
def test_everything_else_passes_through(value):
    assert spreadsheet_safe(value) == value


def test_csv_cells_are_escaped_and_numbers_stay_numbers():
    content = csv_bytes(["name", "amount"], [[text, -1] for text in DANGEROUS])
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert [row[0] for row in rows[1:]] == ["'" + text for text in DANGEROUS]
    assert {row[1] for row in rows[1:]} == {"-1"}


def test_xlsx_holds_text_never_a_formula():
    content = xlsx_bytes({"Sheet": (["name", "amount"], [[text, -1] for text in DANGEROUS])})
    sheet = openpyxl.load_workbook(io.BytesIO(content))["Sheet"]
    cells = [row for row in sheet.iter_rows(min_row=2)]
    assert all(name.data_type == "s" for name, _ in cells)
    # (XML reads a stored carriage return back as a line feed: still escaped text)
    assert [name.value for name, _ in cells] == [
        "'" + text.replace("\r", "\n") for text in DANGEROUS]
    assert {amount.value for _, amount in cells} == {-1}
