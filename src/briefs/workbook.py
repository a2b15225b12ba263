"""The quarterly brief as an XLSX workbook (openpyxl, for its native Excel charts; the
streaming writer of src/exports has none, and a brief is a few small sheets).

Sheets: 总览 (the area and a row per child area, with a bar chart of suggestions by category,
the satisfaction ranking of the child areas and projects by status), then one sheet per
child area with the same figures and charts over its own child areas. Every sheet prints
landscape on A4, fitted to the page width.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

STATUS_ZH = {
    "submitted": "已提交",
    "under_review": "审核中",
    "accepted": "已采纳",
    "rejected": "未采纳",
    "merged": "已合并",
    "adopted": "已立项",
    "done": "已完成",
    "hidden": "已隐藏",
}
PROJECT_ZH = {
    "planned": "计划",
    "designing": "设计",
    "building": "施工",
    "done": "完成",
    "cancelled": "取消",
}
KIND_ZH = {"consultation": "征询会", "coordination": "协调会", "review": "评议会"}
SUMMARY_HEADERS = (
    "区域",
    "建议数",
    "附议数",
    "已答复",
    "7日内答复率",
    "首次答复中位小时",
    "会议数",
    "参与人数",
    "投票率",
    "评价数",
    "满意度",
    "项目数",
    "逾期项目",
    "问卷数",
    "答卷数",
    "线上答卷率",
)
BOLD = Font(bold=True)


def _pct(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def summary_row(f: dict[str, Any]) -> list[Any]:
    kinds = f["meetings"]["by_kind"].values()
    participants = sum(k["participants"] for k in kinds)
    eligible = sum(k["eligible"] for k in kinds)
    return [
        f["name"],
        f["proposals"]["total"],
        f["proposals"]["supports"],
        f["replies"]["answered"],
        _pct(f["replies"]["within_7_days_share"]),
        f["replies"]["median_hours_to_first_reply"],
        f["meetings"]["total"],
        participants,
        _pct(participants / eligible) if eligible else None,
        f["satisfaction"]["count"],
        _pct(f["satisfaction"]["satisfaction_rate"]),
        f["projects"]["total"],
        f["projects"]["overdue"],
        f["surveys"]["count"],
        f["surveys"]["responses"],
        _pct(f["surveys"]["response_rate"]),
    ]


def _print_ready(ws: Worksheet) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True


def _table(ws: Worksheet, row: int, title: str, headers: list[str], rows: list[list[Any]]) -> int:
    """A titled table from ``row``; returns the first row after it."""
    ws.cell(row=row, column=1, value=title).font = Font(bold=True, size=12)
    for col, header in enumerate(headers, start=1):
        ws.cell(row=row + 1, column=col, value=header).font = BOLD
    for r, values in enumerate(rows, start=row + 2):
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col, value=value)
            if isinstance(value, float) and value <= 1 and headers[col - 1].endswith("率"):
                cell.number_format = "0.0%"
    return row + 2 + len(rows) + 1


def _bar(
    ws: Worksheet, title: str, first_row: int, n: int, anchor: str, *, horizontal: bool = False
) -> None:
    """A bar chart of column B over the labels of column A, rows ``first_row``…+n-1 (the
    header just above)."""
    if n == 0:
        return
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    chart.title = title
    chart.legend = None
    chart.height, chart.width = 7.5, 15
    data = Reference(ws, min_col=2, min_row=first_row - 1, max_row=first_row + n - 1)
    labels = Reference(ws, min_col=1, min_row=first_row, max_row=first_row + n - 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(labels)
    ws.add_chart(chart, anchor)


def _area_sheet(
    ws: Worksheet,
    title: str,
    figures: dict[str, Any],
    children: list[dict[str, Any]],
    categories: dict[str, str],
) -> None:
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="left")
    row = _table(
        ws,
        3,
        "主要指标",
        list(SUMMARY_HEADERS),
        [summary_row(figures)] + [summary_row(c) for c in children],
    )
    # Suggestions by category (bar chart).
    by_category = figures["proposals"]["by_category"]
    cat_rows = [[categories.get(code, code), n] for code, n in by_category.items()]
    start = row + 2
    row = _table(ws, row, "建议分类", ["分类", "建议数"], cat_rows)
    _bar(ws, "建议按分类", start, len(cat_rows), f"O{start - 1}")
    # Suggestions by status.
    row = _table(
        ws,
        row,
        "建议状态",
        ["状态", "建议数"],
        [[STATUS_ZH.get(s, s), n] for s, n in figures["proposals"]["by_status"].items()],
    )
    # Satisfaction ranking of the child areas (bar chart).
    ranked = sorted(
        (c for c in children if c["satisfaction"]["count"]),
        key=lambda c: -(c["satisfaction"]["satisfaction_rate"] or 0),
    )
    rank_rows = [
        [c["name"], _pct(c["satisfaction"]["satisfaction_rate"]), c["satisfaction"]["count"]]
        for c in ranked
    ]
    start = row + 2
    row = _table(ws, row, "满意度排名", ["区域", "满意度", "评价数"], rank_rows)
    _bar(ws, "满意度排名", start, len(rank_rows), f"O{start - 1}", horizontal=True)
    # Projects by status (bar chart).
    proj_rows = [[PROJECT_ZH.get(s, s), n] for s, n in figures["projects"]["by_status"].items()]
    start = row + 2
    row = _table(ws, row, "项目状态", ["状态", "项目数"], proj_rows)
    _bar(ws, "项目按状态", start, len(proj_rows), f"O{start - 1}")
    # Meetings by kind.
    _table(
        ws,
        row,
        "会议",
        ["类型", "场次", "已结束", "签到", "参与人数", "投票率"],
        [
            [
                KIND_ZH.get(k, k),
                v["count"],
                v["closed"],
                v["check_ins"],
                v["participants"],
                _pct(v["turnout"]),
            ]
            for k, v in figures["meetings"]["by_kind"].items()
        ],
    )
    ws.column_dimensions["A"].width = 22
    for letter in "BCDEFGHIJKLMNOP":
        ws.column_dimensions[letter].width = 12
    _print_ready(ws)


def _sheet_title(name: str, taken: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\")[:28] or "区域"
    title, n = base, 2
    while title in taken:
        title, n = f"{base[:26]}-{n}", n + 1
    taken.add(title)
    return title


def build(
    heading: str,
    area: dict[str, Any],
    children: list[tuple[dict[str, Any], list[dict[str, Any]]]],
    categories: dict[str, str],
) -> bytes:
    """``area``: the area's figures with ``children`` (its child areas' figures); each
    entry of ``children``: (a child's figures, its own child areas' figures)."""
    wb = Workbook()
    overview = wb.active
    assert overview is not None
    overview.title = "总览"
    taken = {"总览"}
    _area_sheet(overview, heading, area, [c for c, _ in children], categories)
    for child, grandchildren in children:
        ws = wb.create_sheet(_sheet_title(child["name"], taken))
        _area_sheet(ws, f"{heading} · {child['name']}", child, grandchildren, categories)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
