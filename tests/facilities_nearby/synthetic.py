"""A made-up town written as a real OSM XML file: a street grid with squares, platforms,
steps, a lift and ways closed to walkers, for checks the real extract cannot make (it has no
pedestrian area). Deterministic for a seed; ``side`` sets its size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

LAT0, LNG0 = 30.50, 114.20  # far from the demo village (tests share one database)
M_LAT = 1 / 111_195.0


@dataclass
class Town:
    nodes: dict[int, tuple[float, float]] = field(default_factory=dict)
    ways: list[tuple[int, list[int], dict[str, str]]] = field(default_factory=list)
    pois: list[tuple[int, float, float, dict[str, str]]] = field(default_factory=list)
    # What the checks need to know.
    closed_ways: list[int] = field(default_factory=list)  # ways no walker may use
    plazas: list[list[int]] = field(default_factory=list)  # outline node ids (closed)
    _next: int = 1

    def node(self, lat: float, lng: float) -> int:
        self._next += 1
        self.nodes[self._next] = (lat, lng)
        return self._next

    def way(self, refs: list[int], **tags: str) -> int:
        self._next += 1
        self.ways.append((self._next, refs, tags))
        return self._next

    def write(self, path: Path) -> Path:
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
        for i, (lat, lng) in sorted(self.nodes.items()):
            lines.append(f'<node id="{i}" version="1" lat="{lat:.8f}" lon="{lng:.8f}"/>')
        for i, lat, lng, tags in self.pois:
            lines.append(f'<node id="{i}" version="1" lat="{lat:.8f}" lon="{lng:.8f}">')
            lines += [f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
            lines.append("</node>")
        for i, refs, tags in self.ways:
            lines.append(f'<way id="{i}" version="1">')
            lines += [f'<nd ref="{r}"/>' for r in refs]
            lines += [f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
            lines.append("</way>")
        lines.append("</osm>")
        path.write_text("\n".join(lines))
        return path


CLOSED_TAGS = [
    {"foot": "private"},
    {"foot": "use_sidepath"},
    {"access": "private;delivery"},
    {"access": "no"},
    {"foot": "no"},
]


def town(side: int = 12, seed: int = 1, spacing_m: float = 80.0) -> Town:
    rng = random.Random(seed)
    t = Town()
    m_lng = M_LAT / 0.8616  # cos(30.5°)

    def at(r: float, c: float) -> tuple[float, float]:
        return LAT0 + r * spacing_m * M_LAT, LNG0 + c * spacing_m * m_lng

    grid = {
        (r, c): t.node(*at(r + rng.uniform(-0.05, 0.05), c + rng.uniform(-0.05, 0.05)))
        for r in range(side)
        for c in range(side)
    }
    # Squares of 2 × 2 blocks: their inner node is gone, the streets end at the outline.
    plazas: list[tuple[int, int]] = []
    for r in range(1, side - 3, 4):
        for c in range(1 + (r // 4) % 2 * 2, side - 3, 5):
            plazas.append((r, c))
    hole = {(r + 1, c + 1) for r, c in plazas}
    for key in hole:
        del t.nodes[grid.pop(key)]
    for r, c in plazas:
        ring = [
            (r, c),
            (r, c + 1),
            (r, c + 2),
            (r + 1, c + 2),
            (r + 2, c + 2),
            (r + 2, c + 1),
            (r + 2, c),
            (r + 1, c),
        ]
        ids = [grid[p] for p in ring]
        if rng.random() < 0.6:  # a notch: a corner that sticks into the square
            lat, lng = at(r + 0.2 + rng.uniform(0, 0.6), c + 1.0 + rng.uniform(-0.3, 0.3))
            ids.insert(1, t.node(lat, lng))
        ids.append(ids[0])
        kind = rng.choice(["pedestrian", "pedestrian", "footway"])
        t.way(ids, highway=kind, area="yes", name="广场")
        t.plazas.append(ids)
    # Streets: each block side a way of its own, some closed to walkers, some steps.
    for (r, c), a in grid.items():
        for dr, dc in ((0, 1), (1, 0)):
            b = grid.get((r + dr, c + dc))
            if b is None:
                continue
            roll = rng.random()
            if roll < 0.08:
                t.closed_ways.append(t.way([a, b], highway="service", **rng.choice(CLOSED_TAGS)))
            elif roll < 0.12:
                t.way([a, b], highway="steps")
            elif roll < 0.15:
                t.way([a, b], highway="service", access="private", foot="yes")
            elif roll < 0.20:
                t.closed_ways.append(t.way([a, b], highway="motorway"))
            else:
                mid = t.node(
                    *at(
                        r + dr / 2 + rng.uniform(-0.08, 0.08), c + dc / 2 + rng.uniform(-0.08, 0.08)
                    )
                )
                t.way([a, mid, b], highway=rng.choice(["residential", "footway", "tertiary"]))
    # Platforms (areas by default when closed) beside some nodes, a lift between two of them.
    corners = list(grid.items())
    rng.shuffle(corners)
    for (r, c), a in corners[:6]:
        p = [a] + [t.node(*at(r + dr, c + dc)) for dr, dc in ((0.1, 0.1), (0.1, 0.4), (0.0, 0.5))]
        t.way([*p, a], highway="platform", public_transport="platform")
    (_, a), (_, b) = corners[6], corners[7]
    lift = t.node(*t.nodes[a])
    t.way([a, lift], highway="elevator")
    t.way([lift, b], highway="footway", bridge="yes")
    # Facilities: cafés scattered over the town, some inside the squares.
    for n in range(side * side // 2):
        lat, lng = at(rng.uniform(-0.5, side - 0.5), rng.uniform(-0.5, side - 0.5))
        t._next += 1
        t.pois.append((t._next, lat, lng, {"amenity": "cafe", "name": f"咖啡{n}"}))
    return t
