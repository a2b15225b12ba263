"""The walking network and facilities from an OpenStreetMap extract (``.osm.pbf``), by osmium.

Ways a pedestrian may use (``WALK_RULES``, the one table of who may walk where) become edges
between consecutive nodes (lengths by haversine). Pedestrian areas (squares, plazas,
platforms) are walked along their outline and across (:mod:`.areas`). POIs (nodes,
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
from src.facilities_nearby.areas import crossings

# Who may walk where: the one table of the walking rules, as data. For each tag, what its
# values say about a pedestrian. Rules are asked in ``RULE_ORDER``; the first tag whose value
# (any of a ``;`` list) gives a verdict decides:
#   "walk" — walkable; "no" — not; "foot" — only where a foot tag says "walk".
# A way with a highway value not listed is walked (OSM's default for unknown roads), a value
# listed "no" never is. Unknown values of foot/access decide nothing.
WALK_RULES: dict[str, dict[str, str]] = {
    "foot": {
        "yes": "walk",
        "designated": "walk",
        "permissive": "walk",
        "official": "walk",
        "destination": "walk",
        "customers": "walk",
        "discouraged": "walk",  # legal, only not recommended
        "no": "no",
        "private": "no",
        "use_sidepath": "no",  # walk on the sidewalk mapped beside it instead
        "delivery": "no",
        "agricultural": "no",
        "forestry": "no",
        "permit": "no",
        "military": "no",
        "emergency": "no",
    },
    "motorroad": {"yes": "foot"},  # 汽车专用路: closed to walkers unless signed otherwise
    "access": {
        "yes": "walk",
        "permissive": "walk",
        "destination": "walk",
        "customers": "walk",
        "designated": "walk",
        "public": "walk",
        "no": "no",
        "private": "no",
        "delivery": "no",
        "agricultural": "no",
        "forestry": "no",
        "permit": "no",
        "military": "no",
        "emergency": "no",
        "restricted": "no",
    },
    "highway": {
        "motorway": "no",
        "motorway_link": "no",
        "trunk": "foot",
        "trunk_link": "foot",
        "construction": "no",
        "proposed": "no",
        "abandoned": "no",
        "disused": "no",
        "razed": "no",
        "raceway": "no",
        "bus_guideway": "no",
        "busway": "no",
        "escape": "no",
        "footway": "walk",
        "pedestrian": "walk",
        "path": "walk",
        "steps": "walk",  # stairs: walked at their length (a ramp-free alternative is not known)
        "elevator": "walk",  # a lift mapped as a way joins its levels' ways
        "platform": "walk",  # a bus or tram platform
        "corridor": "walk",
        "living_street": "walk",
        "residential": "walk",
        "service": "walk",
        "track": "walk",
        "cycleway": "walk",
        "bridleway": "walk",
        "unclassified": "walk",
        "tertiary": "walk",
        "tertiary_link": "walk",
        "secondary": "walk",
        "secondary_link": "walk",
        "primary": "walk",
        "primary_link": "walk",
        "road": "walk",
    },
    # Platforms mapped without a highway tag.
    "railway": {"platform": "walk"},
    "public_transport": {"platform": "walk"},
}
RULE_ORDER = ("foot", "motorroad", "access")
WAY_KEYS = ("highway", "railway", "public_transport")  # which tag makes a way a way to walk
# Highway values that may be an area (area=yes) walked along its outline and across it:
# squares and plazas, station forecourts, platforms. Other highway areas (a service road's
# parking apron, a rest area) are not walked.
WALK_AREAS = {"pedestrian", "footway", "platform", "path", "living_street", "corridor"}
# Closed ways of these kinds are areas unless area=no (OSM: a platform is an area by default).
AREA_BY_DEFAULT = {
    ("highway", "platform"),
    ("railway", "platform"),
    ("public_transport", "platform"),
}


def _verdict(table: dict[str, str], value: str | None) -> str | None:
    if value is None:
        return None
    said = [table[v.strip()] for v in value.split(";") if v.strip() in table]
    if "walk" in said:
        return "walk"
    if "foot" in said:
        return "foot"
    return "no" if said else None


def walk_kind(tags: Any) -> str | None:
    """What ``tags`` make of a way for a walker: "line", "area" or None (not walked)."""
    kind = next(((k, tags.get(k)) for k in WAY_KEYS if tags.get(k) in WALK_RULES[k]), None)
    if kind is None:
        highway = tags.get("highway")
        if highway is None:
            return None
        kind = ("highway", highway)  # a value the table does not know: walked
    base = WALK_RULES[kind[0]].get(kind[1], "walk")
    if base == "no":
        return None
    said = next(
        (v for key in RULE_ORDER if (v := _verdict(WALK_RULES[key], tags.get(key))) is not None),
        None,
    )
    # "foot" from a rule means: only if a foot tag allowed it, and none did (foot goes first).
    if said in ("no", "foot") or (base == "foot" and said != "walk"):
        return None
    area = tags.get("area")
    if area == "yes":
        return "area" if kind[1] in WALK_AREAS else None
    if area != "no" and kind in AREA_BY_DEFAULT:
        return "area_if_closed"
    return "line"


def walkable(tags: Any) -> bool:
    return walk_kind(tags) is not None


@dataclass
class OsmNetwork:
    nodes: dict[int, tuple[float, float]] = field(default_factory=dict)  # id -> lat, lng
    edges: list[tuple[int, int, float]] = field(default_factory=list)
    # external id, name, category, lat, lng, address
    facilities: list[tuple[str, str, str, float, float, str | None]] = field(default_factory=list)
    ways_read: int = 0
    walkable_ways: int = 0
    walkable_areas: int = 0


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
        self.areas: list[tuple[list[int], list[float], list[float]]] = []
        self.usage: dict[int, int] = {}  # node -> walkable ways through it

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
        kind = walk_kind(w.tags)
        if kind is not None:
            self.out.walkable_ways += 1
            closed = len(points) >= 4 and points[0][0] == points[-1][0]
            if closed and kind in ("area", "area_if_closed"):
                self.areas.append(
                    (
                        [p[0] for p in points],
                        [p[1].lat for p in points],
                        [p[1].lon for p in points],
                    )
                )
                self.out.walkable_areas += 1
            for ref in {p[0] for p in points}:
                self.usage[ref] = self.usage.get(ref, 0) + 1
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

    def cross_areas(self) -> None:
        """Edges across every walkable area, between its doors and corners that see each other
        (once all ways are read: a door is an outline node another walkable way uses too)."""
        for ids, lat, lng in self.areas:
            doors = [self.usage.get(i, 0) >= 2 for i in ids]
            self.out.edges.extend(crossings(ids, lat, lng, doors))


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
    handler.cross_areas()
    return handler.out
