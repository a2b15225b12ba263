"""The file writers on their own: what Excel would read back from their bytes."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from src.exports.writers import Column, CsvWriter, Kind, XlsxWriter, column_letter, neutralise

COLUMNS = [
    Column("name", "名称", "Name", Kind.text, 20),
    Column("n", "数量", "Count", Kind.int, 8),
    Column("x", "数值", "Value", Kind.float, 8),
    Column("at", "时间", "At", Kind.datetime, 20),
]


def test_neutralise_prefixes_only_formula_triggers() -> None:
    for value in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert neutralise(value) == "'" + value
    for value in ("普通文本", "1=1", "a-b", "", " =x"):
        assert neutralise(value) == value


def test_csv_writer_from_values_quotes_and_neutralises() -> None:
    writer = CsvWriter(COLUMNS, english=True)
    data = writer.start() + writer.rows([["=cmd", 1, 2.5, "2026-01-01 08:00:00"]])
    data += writer.rows([['引号"与,逗号\n换行', None, None, None]]) + writer.finish()
    assert data.startswith(b"\xef\xbb\xbfName,Count,Value,At\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["Name", "Count", "Value", "At"],
        ["'=cmd", "1", "2.5", "2026-01-01 08:00:00"],
        ['引号"与,逗号\n换行', "", "", ""],
    ]


def test_xlsx_writer_escapes_xml_and_drops_forbidden_characters() -> None:
    writer = XlsxWriter(COLUMNS, english=False, rows=3, sheet_name="表<1>", title="测试")
    parts = [writer.start()]
    parts.append(writer.rows([["<b>&amp;\x01\x1f\r\n", 3, 0.5, 46023.5]]))
    parts.append(writer.rows([[None, None, None, None], ["x" * 40_000, 0, -1.25, 25569.0]]))
    parts.append(writer.finish())
    book = openpyxl.load_workbook(io.BytesIO(b"".join(parts)))
    sheet = book.active
    assert sheet.title == "表<1>"
    assert [c.value for c in sheet[1]] == ["名称", "数量", "数值", "时间"]
    assert sheet["A2"].value == "<b>&amp;\r\n"
    assert sheet["B2"].value == 3 and sheet["C2"].value == 0.5
    assert sheet["D2"].value.isoformat() == "2026-01-01T12:00:00"
    assert sheet.max_row == 4 and sheet["A3"].value is None and sheet["B4"].value == 0
    assert len(sheet["A4"].value) == 32_767  # Excel's cell limit


def test_xlsx_writer_declares_its_size_and_keeps_its_word() -> None:
    empty = XlsxWriter(COLUMNS, english=True, rows=0)
    data = empty.start() + empty.finish()
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    assert sheet.calculate_dimension() == "A1:D1"
    assert [c.value for c in next(sheet.iter_rows())] == ["Name", "Count", "Value", "At"]

    short = XlsxWriter(COLUMNS, english=True, rows=2)
    short.start()
    short.rows([["only one", 1, 1.0, 46023.5]])
    with pytest.raises(ValueError, match="1 rows, announced 2"):
        short.finish()


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]
