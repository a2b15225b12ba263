"""The walking network and facilities from an OpenStreetMap extract (``.osm.pbf``), by osmium.

Ways a pedestrian may use become edges between consecutive nodes (lengths by haversine);
motorways, trunk roads, ways closed to the public or to walkers are left out. POIs (nodes,
and ways by the centre of their nodes) whose tags match a category's ``osm_tags`` become
facilities with ids ``n<id>`` / ``w<id>``, so a re-import updates them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import osmium

from src.core.geo import haversine_m

NOT_WALKABLE = {
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "construction",
    "proposed",
    "abandoned",
    "raceway",
    "bus_guideway",
    "busway",
    "platform",
    "elevator",
}
FOOT_OK = {"yes", "designated", "permissive", "official"}


def walkable(tags: Any) -> bool:
    highway = tags.get("highway")
    if highway is None or highway in NOT_WALKABLE or tags.get("area") == "yes":
        return False
    foot = tags.get("foot")
    if foot == "no":
        return False
    access = tags.get("access")
    return not (access in ("no", "private") and foot not in FOOT_OK)


@dataclass
class OsmNetwork:
    nodes: dict[int, tuple[float, float]] = field(default_factory=dict)  # id -> lat, lng
    edges: list[tuple[int, int, float]] = field(default_factory=list)
    # external id, name, category, lat, lng, address
    facilities: list[tuple[str, str, str, float, float, str | None]] = field(default_factory=list)
    ways_read: int = 0
    walkable_ways: int = 0


class _Handler(osmium.SimpleHandler):
    def __init__(
        self,
        tag_map: dict[tuple[str, str], str],
        progress: Callable[[str, int], None] | None,
    ) -> None:
        super().__init__()
        self.out = OsmNetwork()
        self.tag_map = tag_map
        self.progress = progress
        self.seen = 0

    def _tick(self) -> None:
        self.seen += 1
        if self.progress and self.seen % 100_000 == 0:
            self.progress("objects", self.seen)

    def _category(self, tags: Any) -> str | None:
        for tag in tags:
            code = self.tag_map.get((tag.k, tag.v))
            if code:
                return code
        return None

    def _facility(self, ext: str, tags: Any, lat: float, lng: float) -> None:
        code = self._category(tags)
        if code is None:
            return
        name = tags.get("name:zh") or tags.get("name") or code
        street = tags.get("addr:street")
        number = tags.get("addr:housenumber")
        address = " ".join(p for p in (street, number) if p) or None
        self.out.facilities.append((ext, name[:200], code, lat, lng, address))

    def node(self, n: Any) -> None:
        self._tick()
        if len(n.tags) and n.location.valid():
            self._facility(f"n{n.id}", n.tags, n.location.lat, n.location.lon)

    def way(self, w: Any) -> None:
        self._tick()
        self.out.ways_read += 1
        points = [(nd.ref, nd.location) for nd in w.nodes if nd.location.valid()]
        if walkable(w.tags):
            self.out.walkable_ways += 1
            for (a, la), (b, lb) in itertools.pairwise(points):
                if a == b:
                    continue
                self.out.nodes[a] = (la.lat, la.lon)
                self.out.nodes[b] = (lb.lat, lb.lon)
                self.out.edges.append((a, b, haversine_m(la.lat, la.lon, lb.lat, lb.lon)))
        elif points and "highway" not in w.tags:
            lat = sum(p[1].lat for p in points) / len(points)
            lng = sum(p[1].lon for p in points) / len(points)
            self._facility(f"w{w.id}", w.tags, lat, lng)


def read_osm(
    path: Path,
    osm_tags: dict[str, list[str]],
    progress: Callable[[str, int], None] | None = None,
) -> OsmNetwork:
    """Walkable network and mapped POIs of an OSM file (``.osm.pbf``, ``.osm``)."""
    tag_map: dict[tuple[str, str], str] = {}
    for code, tags in osm_tags.items():
        for tag in tags:
            key, _, value = tag.partition("=")
            tag_map.setdefault((key, value), code)
    handler = _Handler(tag_map, progress)
    handler.apply_file(str(path), locations=True)
    return handler.out
