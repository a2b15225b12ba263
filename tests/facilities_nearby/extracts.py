"""Pieces of the real test extract, written as OSM files the way a user would cut them.

``crop`` keeps every way with a node inside a longitude band (with all of its nodes, as
osmium's "complete ways" strategy does) and the tagged nodes inside the band. ``id_base``
moves every id, so a test's extracts share OSM ids with each other but with no other test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import osmium

OSM_FILE = Path(__file__).parent / "data" / "helsinki-test.osm.pbf"
LNG_MIN, LNG_MAX = 26.93, 26.97  # the extract's bounds


class _Ways(osmium.SimpleHandler):
    def __init__(self, lo: float, hi: float) -> None:
        super().__init__()
        self.lo, self.hi = lo, hi
        self.ways: set[int] = set()
        self.nodes: set[int] = set()

    def way(self, w: Any) -> None:
        refs = [(nd.ref, nd.location) for nd in w.nodes]
        if any(loc.valid() and self.lo <= loc.lon < self.hi for _, loc in refs):
            self.ways.add(w.id)
            self.nodes.update(ref for ref, _ in refs)


class _Writer(osmium.SimpleHandler):
    def __init__(self, writer: Any, keep: _Ways, base: int) -> None:
        super().__init__()
        self.writer, self.keep, self.base = writer, keep, base

    def node(self, n: Any) -> None:
        inside = n.location.valid() and self.keep.lo <= n.location.lon < self.keep.hi
        if n.id in self.keep.nodes or (inside and len(n.tags)):
            self.writer.add_node(n.replace(id=n.id + self.base))

    def way(self, w: Any) -> None:
        if w.id in self.keep.ways:
            self.writer.add_way(
                w.replace(id=w.id + self.base, nodes=[nd.ref + self.base for nd in w.nodes])
            )


def crop(dst: Path, lo: float, hi: float, id_base: int = 0, src: Path = OSM_FILE) -> Path:
    keep = _Ways(lo, hi)
    keep.apply_file(str(src), locations=True)
    dst.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(dst))
    try:
        _Writer(writer, keep, id_base).apply_file(str(src))
    finally:
        writer.close()
    return dst
