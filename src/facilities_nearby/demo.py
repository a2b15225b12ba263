"""A generated walking network around 曹杨新村 with facilities of every category.

Street blocks of 150–200 m with lanes through some of them and a few broken links (canals,
walled compounds), as in a Shanghai workers' new village. The generator works in GCJ-02 (the
system city map data comes in) and stores WGS-84, like a real import. Deterministic.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.geo import gcj02_to_wgs84, haversine_m
from src.models.facility import Facility, FacilityCategory, WalkEdge, WalkNode

SOURCE = "demo-caoyang"
CENTER_GCJ = (31.2417, 121.4098)  # 曹杨新村街道, GCJ-02
NODE_ID_BASE = 9_000_000_000_000
STREETS = [
    "枣阳路",
    "梅岭北路",
    "兰溪路",
    "杏山路",
    "花溪路",
    "桐柏路",
    "曹杨路",
    "武宁路",
    "铜川路",
    "南梅路",
    "西乡路",
    "岚皋路",
]


@dataclass
class DemoNetwork:
    nodes: list[tuple[int, float, float]]  # id, lat, lng (WGS-84)
    edges: list[tuple[int, int, float]]  # u, v, metres
    # external id, name, category, lat, lng, address
    facilities: list[tuple[str, str, str, float, float, str]]


def _lines(rng: random.Random, half_m: float) -> list[float]:
    out, pos = [], -half_m
    while pos <= half_m:
        out.append(pos)
        pos += rng.uniform(150.0, 200.0)
    return out


def generate(
    categories: list[tuple[str, str, int]], half_m: float = 1600.0, seed: int = 2025
) -> DemoNetwork:
    """``categories``: (code, Chinese name, tier minutes)."""
    rng = random.Random(seed)
    c_lat, c_lng = CENTER_GCJ
    m_lat = 1 / 111_320.0
    m_lng = 1 / (111_320.0 * math.cos(math.radians(c_lat)))
    xs, ys = _lines(rng, half_m), _lines(rng, half_m)
    # Points every ~50 m along each street; intersections are shared.
    ids: dict[tuple[int, int], int] = {}
    coords: dict[int, tuple[float, float]] = {}  # id -> (x, y) metres, GCJ-02 frame

    def node(key: tuple[int, int], x: float, y: float) -> int:
        if key not in ids:
            ids[key] = NODE_ID_BASE + len(ids)
            coords[ids[key]] = (x + rng.uniform(-3, 3), y + rng.uniform(-3, 3))
        return ids[key]

    edges: list[tuple[int, int]] = []

    def street(points: list[int]) -> None:
        for a, b in itertools.pairwise(points):
            if rng.random() > 0.06:  # a few links are missing: canals, walled compounds
                edges.append((a, b))

    step = 4  # sub-points per block side
    for i, x in enumerate(xs):  # north-south streets
        pts = []
        for j in range(len(ys) - 1):
            for s in range(step):
                y = ys[j] + (ys[j + 1] - ys[j]) * s / step
                pts.append(node((10_000 * i, j * step + s), x, y))
        pts.append(node((10_000 * i, (len(ys) - 1) * step), x, ys[-1]))
        street(pts)
    for j, y in enumerate(ys):  # east-west streets, through the same intersections
        pts = []
        for i in range(len(xs) - 1):
            pts.append(node((10_000 * i, j * step), xs[i], y))
            for s in range(1, step):
                x = xs[i] + (xs[i + 1] - xs[i]) * s / step
                pts.append(node((-1 - 10_000 * i - s, j * step), x, y))
        pts.append(node((10_000 * (len(xs) - 1), j * step), xs[-1], y))
        street(pts)
    # Lanes (弄) through a third of the blocks, joining mid-points of opposite sides.
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            if rng.random() < 0.33:
                a = ids[(10_000 * i, j * step + step // 2)]
                b = ids[(10_000 * (i + 1), j * step + step // 2)]
                mid = node((-500_000 - i, j), *_mid(coords[a], coords[b]))
                edges += [(a, mid), (mid, b)]

    def to_wgs(x: float, y: float) -> tuple[float, float]:
        return gcj02_to_wgs84(c_lat + y * m_lat, c_lng + x * m_lng)

    wgs = {nid: to_wgs(x, y) for nid, (x, y) in coords.items()}
    nodes = [(nid, round(lat, 7), round(lng, 7)) for nid, (lat, lng) in wgs.items()]
    out_edges = [(a, b, round(haversine_m(*wgs[a], *wgs[b]), 2)) for a, b in edges]

    facilities = []
    for code, name, tier in categories:
        count = {5: 40, 10: 18}.get(tier, 8)
        for n in range(1, count + 1):
            a, b = edges[rng.randrange(len(edges))]
            (ax, ay), (bx, by) = coords[a], coords[b]
            t = rng.random()
            length = math.hypot(bx - ax, by - ay) or 1.0
            side = rng.choice((-1, 1)) * rng.uniform(8, 35)
            x = ax + t * (bx - ax) - side * (by - ay) / length
            y = ay + t * (by - ay) + side * (bx - ax) / length
            lat, lng = to_wgs(x, y)
            facilities.append(
                (
                    f"{code}-{n}",
                    f"曹杨{name}（{n}号点）",
                    code,
                    round(lat, 7),
                    round(lng, 7),
                    f"上海市普陀区{STREETS[rng.randrange(len(STREETS))]}{rng.randint(1, 999)}号",
                )
            )
    return DemoNetwork(nodes, out_edges, facilities)


def _mid(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2


async def seed_facilities_demo(session: AsyncSession) -> None:
    """Load the 曹杨新村 network and facilities (once; a second call does nothing)."""
    if await session.scalar(select(WalkNode.id).where(WalkNode.source == SOURCE).limit(1)):
        return
    cats = (
        await session.execute(
            select(
                FacilityCategory.code, FacilityCategory.name_zh, FacilityCategory.tier_minutes
            ).order_by(FacilityCategory.sort_order)
        )
    ).all()
    demo = generate([(c, n, t) for c, n, t in cats])
    await session.execute(
        insert(WalkNode),
        [{"id": i, "source": SOURCE, "lat": a, "lng": b} for i, a, b in demo.nodes],
    )
    await session.execute(
        insert(WalkEdge),
        [{"source": SOURCE, "u": u, "v": v, "length_m": m} for u, v, m in demo.edges],
    )
    await session.execute(
        insert(Facility),
        [
            {
                "source": SOURCE,
                "external_id": ext,
                "name": name,
                "category": cat,
                "lat": lat,
                "lng": lng,
                "address": addr,
            }
            for ext, name, cat, lat, lng, addr in demo.facilities
        ],
    )
    await session.execute(
        text(
            "UPDATE facility_data_state SET version = version + 1, key = gen_random_uuid(), "
            "updated_at = now() WHERE id = 1"
        )
    )


def demo_center_wgs84() -> tuple[float, float]:
    return gcj02_to_wgs84(*CENTER_GCJ)


__all__ = ["SOURCE", "DemoNetwork", "demo_center_wgs84", "generate", "seed_facilities_demo"]
