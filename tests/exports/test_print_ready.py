"""The suggestions XLSX is print-ready: wrapped text, autofilter, frozen header, landscape and
one page wide; LibreOffice prints every line of every row; and its size is declared up front
(``<dimension>``), so a read-only reader knows it before reading a row."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.exports.helpers import add_proposal, make_world, read_xlsx

URL = "/api/v1/exports/proposals"
COLUMNS = 17  # PROPOSAL_COLUMNS: the reference, then the id, community, … status history

# Bodies a clerk must see whole on paper: several lines, and long Chinese text that wraps.
MULTI_LINE = "一、楼道灯坏了三个月\n二、晚上老人下楼看不见\n三、希望本月内修好"
LONG_CHINESE = "".join(
    f"第{i}段：小区北门外的人行道被共享单车占满，轮椅和婴儿车只能走机动车道。" for i in range(1, 9)
)


def _pdf_text(soffice: str, path: Path) -> tuple[str, str]:
    """LibreOffice (headless) prints the workbook to PDF: its text (in drawing order) and its
    pdfinfo."""
    profile = path.parent / "lo-profile"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(path.parent),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = path.with_suffix(".pdf")
    text = subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    info = subprocess.run(
        ["pdfinfo", str(pdf)], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    return text, info


def _squeezed(value: str) -> str:
    """Text without the line breaks and spaces that wrapping puts in or takes out."""
    return "".join(value.split())


async def test_xlsx_prints_every_line_of_every_row_landscape_one_page_wide(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    w = await make_world(db, client)
    when = dt.datetime(2026, 4, 1, 2, 0, tzinfo=dt.UTC)
    bodies = [MULTI_LINE, LONG_CHINESE, "加装电梯", MULTI_LINE.replace("楼道灯", "垃圾房")]
    made = [
        await add_proposal(
            db,
            w.a,
            w.author,
            title=f"建议标题{i}",
            body=body,
            created_at=when + dt.timedelta(hours=i),
            replies=["已收到\n街道将于下周现场查看"] if i == 0 else None,
        )
        for i, body in enumerate(bodies)
    ]
    response = await client.get(
        URL, params={"street_id": str(w.street.id), "format": "xlsx"}, headers=w.h["street_staff"]
    )
    assert response.status_code == 200, response.text
    last_row = 1 + len(made)

    # The size, declared before the rows: what a streaming (read-only) reader sees.
    streaming = read_xlsx(response, read_only=True).active
    assert streaming.calculate_dimension() == f"A1:Q{last_row}"
    assert (streaming.max_row, streaming.max_column) == (last_row, COLUMNS)

    sheet = read_xlsx(response).active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["建议编号", "系统编号"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [p.reference for p in made]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:Q{last_row}"
    assert sheet.print_title_rows == "$1:$1"  # the header on every page
    body_column = header.index("内容") + 1
    for row in sheet.iter_rows(min_row=1):
        for cell in row:
            if isinstance(cell.value, str):
                assert cell.alignment.wrap_text, cell.coordinate
    assert sheet.cell(2, body_column).value == MULTI_LINE
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
    assert sheet.sheet_properties.pageSetUpPr.fitToPage

    # LibreOffice prints it: landscape pages with every reference and every line of text.
    soffice = shutil.which("soffice")
    assert soffice is not None, "LibreOffice is part of system-packages.txt"
    path = tmp_path / "suggestions.xlsx"
    path.write_bytes(response.content)
    printed, info = await asyncio.to_thread(_pdf_text, soffice, path)
    size = next(line for line in info.splitlines() if line.startswith("Page size"))
    width, height = (float(v) for v in size.split(":")[1].split("pts")[0].split(" x "))
    assert width > height  # landscape
    squeezed = _squeezed(printed)
    assert "居民建议" in printed or "建议编号" in printed
    for proposal, body in zip(made, bodies, strict=True):
        assert proposal.reference in squeezed, proposal.reference
        for line in body.split("\n"):
            assert _squeezed(line) in squeezed, line
    for line in ("已收到", "街道将于下周现场查看"):
        assert line in squeezed
