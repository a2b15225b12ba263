"""One chart per question, for a committee's notice: horizontal bars in SVG (no chart
library; CJK text in the fonts Chinese desktops and phones have), and a PNG drawn with
Pillow from the same bars when a CJK font is installed."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from src.models.survey import QuestionKind
from src.surveys.schemas import QuestionResultOut, ResultsOut

FONT_FAMILY = (
    "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',"
    "'WenQuanYi Micro Hei',sans-serif"
)
WIDTH = 720
BAR_H = 28
GAP = 12
LABEL_W = 220
TOP = 76
COLOR = "#2f7de1"
PAPER = "#f2a93b"

# Fonts with Chinese glyphs, in order of preference (fonts-noto-cjk, wqy).
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


@dataclass(frozen=True)
class Bar:
    label: str
    online: int
    paper: int
    note: str  # what is written after the bar

    @property
    def value(self) -> int:
        return self.online + self.paper


def bars(q: QuestionResultOut) -> tuple[list[Bar], str]:
    """The bars of a question and the caption under its title."""
    if q.kind is QuestionKind.ranking and q.ranking is not None:
        return (
            [
                Bar(f"{r.rank}. {r.label}", r.borda, 0, f"{r.borda} 分 · 平均第 {r.mean_rank:g} 位")
                for r in q.ranking
            ],
            f"排序题 · Borda 计分 · {q.answered} 人作答",
        )
    if q.kind in (QuestionKind.text, QuestionKind.location):
        what = "文字意见" if q.kind is QuestionKind.text else "地图标注"
        return [
            Bar(what, q.answered_online, q.answered_paper, f"{q.answered} 条")
        ], f"{q.answered} 人作答"
    out = []
    for key, n in q.counts.items():
        label = q.labels.get(key, key)
        if q.kind is QuestionKind.scale and key in q.labels:
            label = f"{key} {q.labels[key]}"
        share = q.shares.get(key, 0.0)
        out.append(
            Bar(
                label,
                q.counts_online.get(key, 0),
                q.counts_paper.get(key, 0),
                f"{n}（{share:.0%}）",
            )
        )
    caption = f"{q.answered} 人作答"
    if q.mean is not None:
        caption += f" · 平均 {q.mean:g}"
    if q.kind is QuestionKind.multiple:
        caption += " · 多选，比例按作答人数计"
    return out, caption


def _clip(text: str, limit: int = 16) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def svg(survey_title: str, q: QuestionResultOut, results: ResultsOut) -> str:
    items, caption = bars(q)
    height = TOP + len(items) * (BAR_H + GAP) + 48
    top = max((b.value for b in items), default=0) or 1
    span = WIDTH - LABEL_W - 140
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{escape(FONT_FAMILY)}">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="20" y="30" font-size="20" font-weight="bold" fill="#222">'
        f"{escape(_clip(q.title, 30))}</text>",
        f'<text x="20" y="56" font-size="13" fill="#666">{escape(_clip(survey_title, 24))} · '
        f"{escape(caption)}</text>",
    ]
    for i, b in enumerate(items):
        y = TOP + i * (BAR_H + GAP)
        w_online = span * b.online / top
        w_paper = span * b.paper / top
        parts.append(
            f'<text x="{LABEL_W - 10}" y="{y + BAR_H * 0.68:.1f}" font-size="14" '
            f'text-anchor="end" fill="#333">{escape(_clip(b.label))}</text>'
        )
        parts.append(
            f'<rect x="{LABEL_W}" y="{y}" width="{w_online:.1f}" height="{BAR_H}" fill="{COLOR}"/>'
        )
        if b.paper:
            parts.append(
                f'<rect x="{LABEL_W + w_online:.1f}" y="{y}" width="{w_paper:.1f}" '
                f'height="{BAR_H}" fill="{PAPER}"/>'
            )
        parts.append(
            f'<text x="{LABEL_W + w_online + w_paper + 8:.1f}" y="{y + BAR_H * 0.68:.1f}" '
            f'font-size="13" fill="#333">{escape(b.note)}</text>'
        )
    legend_y = height - 18
    parts += [
        f'<rect x="20" y="{legend_y - 11}" width="12" height="12" fill="{COLOR}"/>',
        f'<text x="38" y="{legend_y}" font-size="12" fill="#555">线上 {results.online}</text>',
        f'<rect x="130" y="{legend_y - 11}" width="12" height="12" fill="{PAPER}"/>',
        f'<text x="148" y="{legend_y}" font-size="12" fill="#555">纸质 {results.paper}</text>',
        "</svg>",
    ]
    return "\n".join(parts)


def cjk_font() -> Path | None:
    return next((Path(p) for p in CJK_FONTS if Path(p).exists()), None)


def png(survey_title: str, q: QuestionResultOut, results: ResultsOut) -> bytes | None:
    """The same chart as PNG; None when no CJK font is installed (ask for .svg then)."""
    font_path = cjk_font()
    if font_path is None:
        return None
    from PIL import Image, ImageDraw, ImageFont

    items, caption = bars(q)
    height = TOP + len(items) * (BAR_H + GAP) + 48
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)

    def font(size: int) -> ImageFont.FreeTypeFont:
        # Noto's collection holds JP, KR, SC, TC…: index 2 draws Simplified Chinese shapes.
        index = 2 if font_path.name.startswith("NotoSansCJK") else 0
        return ImageFont.truetype(str(font_path), size, index=index)

    draw.text((20, 12), _clip(q.title, 30), fill="#222222", font=font(20))
    draw.text((20, 42), f"{_clip(survey_title, 24)} · {caption}", fill="#666666", font=font(13))
    top = max((b.value for b in items), default=0) or 1
    span = WIDTH - LABEL_W - 140
    small = font(14)
    for i, b in enumerate(items):
        y = TOP + i * (BAR_H + GAP)
        w_online = span * b.online / top
        w_paper = span * b.paper / top
        draw.text(
            (LABEL_W - 10, y + BAR_H / 2), _clip(b.label), fill="#333333", font=small, anchor="rm"
        )
        if w_online:
            draw.rectangle((LABEL_W, y, LABEL_W + w_online, y + BAR_H), fill=COLOR)
        if w_paper:
            draw.rectangle(
                (LABEL_W + w_online, y, LABEL_W + w_online + w_paper, y + BAR_H), fill=PAPER
            )
        draw.text(
            (LABEL_W + w_online + w_paper + 8, y + BAR_H / 2),
            b.note,
            fill="#333333",
            font=font(13),
            anchor="lm",
        )
    legend_y = height - 24
    draw.rectangle((20, legend_y, 32, legend_y + 12), fill=COLOR)
    draw.text((38, legend_y - 2), f"线上 {results.online}", fill="#555555", font=font(12))
    draw.rectangle((130, legend_y, 142, legend_y + 12), fill=PAPER)
    draw.text((148, legend_y - 2), f"纸质 {results.paper}", fill="#555555", font=font(12))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
