"""Writing customer text into CSV and XLSX files safely, in one place.

A spreadsheet treats a cell starting with = + - @ (or a tab or carriage return before
them) as a formula: a name typed as `=HYPERLINK(...)` would run when finance opens the
export. Every text cell goes through `spreadsheet_safe`, which puts an apostrophe in front
of such text (OWASP's advice for CSV injection): it shows as the text it was. Numbers are
written as numbers, so a negative amount stays a number."""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """The value as it may go in a cell: text that a spreadsheet would read as a formula
    gets a leading apostrophe; numbers, dates and None pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable) -> list:
    return [spreadsheet_safe(value) for value in row]


def csv_writer(stream):
    """A csv.writer whose `writerow` escapes every cell."""
    writer = csv.writer(stream)

    class SafeWriter:
        def writerow(self, row):
            return writer.writerow(safe_row(row))

        def writerows(self, rows):
            for row in rows:
                self.writerow(row)

    return SafeWriter()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    stream = io.StringIO()
    writer = csv_writer(stream)
    writer.writerow(header)
    writer.writerows(rows)
    return stream.getvalue().encode("utf-8-sig")  # the BOM: Excel reads UTF-8 then


def xlsx_bytes(sheets: dict[str, tuple[Sequence[str], Iterable[Sequence]]]) -> bytes:
    """One worksheet per entry: {title: (header, rows)}. Text is stored as text (never a
    formula) and escaped like CSV; datetimes are written without a time zone (Excel has
    none), in the local time the caller gives."""
    import openpyxl  # only the exports need it: loaded when one is asked for

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, (header, rows) in sheets.items():
        sheet = book.create_sheet(title=title[:31])
        sheet.append(list(header))
        for row in rows:
            cells = []
            for value in safe_row(row):
                if isinstance(value, datetime):
                    value = value.replace(tzinfo=None)
                cells.append(value)
            sheet.append(cells)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        for column in sheet.columns:
            width = max(len(str(c.value or "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(max(width, 8), 50) + 2
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()
