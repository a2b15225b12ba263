"""Streaming file writers: CSV for Excel/WPS and a hand-written XLSX, both in constant memory.

Each writer turns batches of database rows into bytes as they arrive and keeps nothing but
its current batch: ``start()`` gives the head of the file, ``rows(batch)`` the bytes of a
batch, ``finish()`` the tail.

- CSV: UTF-8 with a BOM (Excel and WPS otherwise read Chinese as GBK), CRLF line ends,
  RFC 4180 quoting, formula cells neutralised. Rows are either sequences of values (the
  ``csv`` module quotes them) or, with ``lines=True``, whole records PostgreSQL already
  built (see :mod:`src.exports.repository`): then Python only joins them with CRLF.
- XLSX: a ZIP written front to back (entries with data descriptors, no seeking), one
  worksheet of inline strings (no shared-strings table, which would grow with the rows),
  a frozen bold header row, column widths, dates as real date cells; print-ready: text
  cells wrapped (every line of a multi-line cell shows), an autofilter on the header,
  landscape A4 fitted to one page wide with the header repeated on every page. The caller
  gives the row count up front (counted in the export's own snapshot), so the sheet opens
  with its ``<dimension>``: readers in read-only mode (openpyxl ``read_only=True``) know its
  size before reading a row.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape as xml_escape


class Kind(StrEnum):
    text = "text"
    int = "int"
    float = "float"
    datetime = "datetime"  # CSV: "YYYY-MM-DD HH:MM:SS" text; XLSX: an Excel serial number


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    kind: Kind
    width: float  # XLSX column width, in characters

    def title(self, english: bool) -> str:
        return self.en if english else self.zh


# Spreadsheet programs run a cell that begins with one of these as a formula (OWASP "CSV
# injection"); such cells are prefixed with an apostrophe.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """The text as a spreadsheet shows it, never run as a formula."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


BOM = "\ufeff".encode()


class CsvWriter:
    # Litestar adds "; charset=utf-8" to every text/* media type itself.
    media_type = "text/csv"
    extension = "csv"

    def __init__(self, columns: Sequence[Column], english: bool, *, lines: bool = False) -> None:
        self._columns = columns
        self._english = english
        self._lines = lines
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")

    def start(self) -> bytes:
        self._writer.writerow([neutralise(c.title(self._english)) for c in self._columns])
        return BOM + self._take()

    def rows(self, batch: Iterable[Sequence[Any]]) -> bytes:
        if self._lines:
            return "".join([record[0] + "\r\n" for record in batch]).encode()
        self._writer.writerows(
            [[neutralise(v) if isinstance(v, str) else v for v in record] for record in batch]
        )
        return self._take()

    def finish(self) -> bytes:
        return b""


# --- XLSX -------------------------------------------------------------------------------

XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, header included
XLSX_MAX_CELL_CHARS = 32_767

# Characters XML 1.0 forbids are dropped; CR is kept as a character reference (a parser
# would otherwise fold it into LF).
_XML_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XML_REPLACEMENTS = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def _xml_sub(match: re.Match[str]) -> str:
    return _XML_REPLACEMENTS.get(match.group(), "")


def xml_text(value: str) -> str:
    if len(value) > XLSX_MAX_CELL_CHARS:
        value = value[: XLSX_MAX_CELL_CHARS - 1] + "…"
    if _XML_SPECIAL.search(value) is None:
        return value
    return _XML_SPECIAL.sub(_xml_sub, value)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
    'package.core-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
    'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Cell styles: 0 plain, 1 date-time, 2 bold header (wrapped), 3 wrapped text. Everything is
# aligned to the top, so a tall wrapped cell does not leave its row's other cells floating.
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="等线"/></font>'
    '<font><b/><sz val="11"/><name val="等线"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"'
    ' applyAlignment="1"><alignment vertical="top"/></xf>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"'
    ' applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _workbook(sheet_name: str, last_column: str, last_row: int) -> str:
    # The autofilter's range (Excel keeps it as this hidden name) and the header row repeated
    # on every printed page.
    sheet = "'" + sheet_name.replace("'", "''") + "'"
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{xml_escape(sheet_name)}" sheetId="1" r:id="rId1"/></sheets>'
        "<definedNames>"
        '<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
        f"{xml_escape(sheet)}!$A$1:${last_column}${last_row}</definedName>"
        '<definedName name="_xlnm.Print_Titles" localSheetId="0">'
        f"{xml_escape(sheet)}!$1:$1</definedName>"
        "</definedNames>"
        "</workbook>"
    )


def _core(title: str, created_iso: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{xml_escape(title)}</dc:title><dc:creator>lifecircle</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{created_iso}</dcterms:created>'
        "</cp:coreProperties>"
    )


class _Sink:
    """A write-only file for ``zipfile``: what it writes is collected until taken."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


_CELL_TEMPLATES = {
    Kind.text: (
        """'<c t="inlineStr" s="3"><is><t xml:space="preserve">' + xml_text(v{i})"""
        """ + '</t></is></c>'"""
    ),
    Kind.int: "'<c><v>' + str(v{i}) + '</v></c>'",
    Kind.float: "'<c><v>' + repr(float(v{i})) + '</v></c>'",
    Kind.datetime: """'<c s="1"><v>' + repr(float(v{i})) + '</v></c>'""",
}


# Row heights. Spreadsheets print a row at the height the file gives (LibreOffice does not
# re-measure rows on opening), so a wrapped cell's row is made tall enough for its lines: a
# line holds about (column width - 1) half-width characters (a CJK character counts two:
# ``(len(utf-8) + len) // 2``), one line is LINE_PT points, up to Excel's 409.5.
LINE_PT = 15.0
ROW_MAX_PT = 409.5
_MAX_LINES = int(ROW_MAX_PT // LINE_PT)


def text_lines(value: str | None, width: float) -> int:
    """How many lines ``value`` wraps to in a column ``width`` characters wide."""
    if value is None:
        return 1
    per_line = max(1.0, width - 1)
    if len(value) * 2 <= per_line and "\n" not in value:
        return 1  # the common short cell: no measuring
    lines = 0
    for paragraph in value.split("\n"):
        half_widths = (len(paragraph.encode()) + len(paragraph)) // 2
        lines += max(1, math.ceil(half_widths / per_line))
        if lines >= _MAX_LINES:
            return _MAX_LINES
    return lines


def row_start(n: int, lines: int) -> str:
    if lines <= 1:
        return f'<row r="{n}">'
    return f'<row r="{n}" ht="{min(ROW_MAX_PT, lines * LINE_PT)}" customHeight="1">'


def row_encoder(
    kinds: Sequence[Kind], widths: Sequence[float]
) -> Callable[[int, Sequence[Any]], str]:
    """A function ``(row number, record) -> '<row>…</row>'`` written out for these columns.

    The XML of a million rows is the export's hot loop: one generated expression per row,
    with each column's cell inlined, costs a quarter less than a loop over per-cell
    functions. The generated source only ever contains the fixed templates above.
    """
    names = ", ".join(f"v{i}" for i in range(len(kinds)))
    cells = ",\n        ".join(
        f"'<c/>' if v{i} is None else " + _CELL_TEMPLATES[kind].format(i=i)
        for i, kind in enumerate(kinds)
    )
    text_columns = [(i, float(widths[i])) for i, kind in enumerate(kinds) if kind is Kind.text]
    lines = "".join(f", text_lines(v{i}, {width!r})" for i, width in text_columns)
    source = (
        f"def encode(n, record):\n"
        f"    {names}{',' if len(kinds) == 1 else ''} = record\n"
        f"    return ''.join((\n        row_start(n, max(1{lines})),\n"
        f"        {cells},\n"
        f"        '</row>',\n    ))\n"
    )
    namespace: dict[str, Any] = {
        "xml_text": xml_text,
        "text_lines": text_lines,
        "row_start": row_start,
    }
    exec(compile(source, "<xlsx row encoder>", "exec"), namespace)
    encode: Callable[[int, Sequence[Any]], str] = namespace["encode"]
    return encode


class XlsxWriter:
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extension = "xlsx"

    def __init__(
        self,
        columns: Sequence[Column],
        english: bool,
        *,
        rows: int,
        sheet_name: str = "Sheet1",
        title: str = "",
        created_iso: str = "1970-01-01T00:00:00Z",
    ) -> None:
        self._columns = columns
        self._english = english
        self._encode = row_encoder([c.kind for c in columns], [c.width for c in columns])
        self._sheet_name = sheet_name[:31]
        self._title = title
        self._created_iso = created_iso
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(
            self._sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1
        )
        self._sheet: Any = None
        self._row = 1
        # The last row (the header is row 1): the <dimension> is written before any row.
        self._last_row = rows + 1
        self._last_column = column_letter(len(columns) - 1)

    def start(self) -> bytes:
        z = self._zip
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("docProps/core.xml", _core(self._title, self._created_iso))
        z.writestr(
            "xl/workbook.xml", _workbook(self._sheet_name, self._last_column, self._last_row)
        )
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/styles.xml", _STYLES)
        self._sheet = z.open("xl/worksheets/sheet1.xml", "w")
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{c.width}" customWidth="1"/>'
            for i, c in enumerate(self._columns, start=1)
        )
        header = "".join(
            '<c t="inlineStr" s="2"><is><t>' + xml_text(c.title(self._english)) + "</t></is></c>"
            for c in self._columns
        )
        header_lines = max(text_lines(c.title(self._english), c.width) for c in self._columns)
        self._sheet.write(
            (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
                f'<dimension ref="A1:{self._last_column}{self._last_row}"/>'
                '<sheetViews><sheetView workbookViewId="0">'
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
                "</sheetView></sheetViews>"
                '<sheetFormatPr defaultRowHeight="15"/>'
                f"<cols>{cols}</cols><sheetData>" + row_start(1, header_lines) + header + "</row>"
            ).encode()
        )
        return self._sink.take()

    def rows(self, batch: Iterable[Sequence[Any]]) -> bytes:
        encode = self._encode
        first = self._row + 1
        parts = [encode(n, record) for n, record in enumerate(batch, start=first)]
        self._row += len(parts)
        self._sheet.write("".join(parts).encode())
        return self._sink.take()

    def finish(self) -> bytes:
        if self._row != self._last_row:
            # The dimension (and the filter range) promised another size: never a file that lies.
            raise ValueError(f"XLSX sheet has {self._row - 1} rows, announced {self._last_row - 1}")
        last = f"{self._last_column}{self._last_row}"
        self._sheet.write(
            (
                f'</sheetData><autoFilter ref="A1:{last}"/>'
                '<pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3"'
                ' footer="0.3"/>'
                # A4 landscape, as wide as one page, as many pages down as it takes.
                '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1"'
                ' fitToHeight="0"/>'
                "</worksheet>"
            ).encode()
        )
        self._sheet.close()
        self._zip.close()
        return self._sink.take()
