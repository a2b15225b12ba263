"""The walking graph in memory: arrays built once per data version, queried without the DB.

Coordinates are projected to spherical Mercator metres; a Mercator length times cos(latitude)
is a true length, and within a walk of a kilometre the factor varies by ~1e-4, so each query
uses the factor at its own origin. Edge lengths come from the database (haversine, metres).

Three bucket indexes over square Mercator cells make the look-ups cheap: street pieces (for
snapping a point onto the nearest street *segment*), nodes (to cut the part of the graph a walk
of ``L`` metres can reach: never farther than ``L`` in a straight line) and facilities. A query
cuts that sub-graph, adds one virtual source tied to both ends of the origin's segment, and
runs a bounded Dijkstra (scipy) on a few thousand nodes — a millisecond or two.

Everything is numpy arrays saved as ``.npy`` files in one directory per data version and
memory-mapped by every worker, so N workers share one copy in the page cache.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from src.facilities_nearby.coords import wgs84_to_gcj02

EARTH_R = 6_371_008.8  # the mean radius haversine_m uses: one notion of a metre
CELL = 250.0  # Mercator metres per index cell
PIECE = 100.0  # longest street piece in the segment index (Mercator metres)
MAX_SNAP_RINGS = 64  # 16 Mercator km: no street is "within reach" beyond that
MIN_EDGE_M = 0.01  # scipy treats a zero weight as "no edge"
GRAPH_FORMAT = 3  # bump when the saved arrays change
# A piece of the network cut off from the rest (a courtyard path, a footway the extract cut)
# with less street than this is an island: reported, and never snapped onto. The largest
# piece is never an island; other pieces this long (another town) are networks of their own.
ISLAND_MAX_M = 1000.0
ISLANDS_LISTED = 50

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Arr = npt.NDArray[Any]


MAX_LAT = 85.0  # Web Mercator's domain; positions beyond it are treated as at its edge


def mercator(lat: Any, lng: Any) -> tuple[Any, Any]:
    lat_r = np.radians(np.clip(lat, -MAX_LAT, MAX_LAT))
    return EARTH_R * np.radians(lng), EARTH_R * np.log(np.tan(np.pi / 4 + lat_r / 2))


def scale(lat: Any) -> Any:
    """True metres per Mercator metre at ``lat`` (clipped like :func:`mercator`: at the poles
    the factor would be 0 and every search radius infinite)."""
    return np.cos(np.radians(np.clip(lat, -MAX_LAT, MAX_LAT)))


def _cell_xy(x: Any, y: Any) -> tuple[Any, Any]:
    return np.floor(np.asarray(x) / CELL).astype(np.int64), np.floor(np.asarray(y) / CELL).astype(
        np.int64
    )


def _cell_key(cx: Any, cy: Any) -> Any:
    return ((np.asarray(cx, dtype=np.int64) + (1 << 20)) << 22) | (
        np.asarray(cy, dtype=np.int64) + (1 << 20)
    )


def concat_ranges(starts: I64, ends: I64) -> I64:
    """``concatenate([arange(s, e) for s, e in zip(starts, ends)])`` without a Python loop."""
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    keep = lens > 0
    starts, lens = starts[keep], lens[keep]
    shift = starts - np.concatenate(([0], np.cumsum(lens)[:-1]))
    return np.repeat(shift, lens) + np.arange(total, dtype=np.int64)


@dataclass
class BucketIndex:
    """Items grouped by cell: ``perm[offsets[i]:offsets[i+1]]`` are the items of ``cells[i]``."""

    cells: I64
    offsets: I64
    perm: I64

    @classmethod
    def build(cls, x: F64, y: F64) -> BucketIndex:
        keys = _cell_key(*_cell_xy(x, y))
        order = np.argsort(keys, kind="stable").astype(np.int64)
        sorted_keys = keys[order]
        cells, first = np.unique(sorted_keys, return_index=True)
        offsets = np.append(first, len(keys)).astype(np.int64)
        return cls(cells.astype(np.int64), offsets, order)

    def around(self, x: float, y: float, radius: float) -> I64:
        """Items in every cell that a square of half-side ``radius`` around (x, y) touches."""
        if len(self.cells) == 0:
            return np.empty(0, dtype=np.int64)
        cx0, cy0 = _cell_xy(x - radius, y - radius)
        cx1, cy1 = _cell_xy(x + radius, y + radius)
        gx, gy = np.meshgrid(np.arange(cx0, cx1 + 1), np.arange(cy0, cy1 + 1), indexing="ij")
        keys = _cell_key(gx.ravel(), gy.ravel())
        pos = np.searchsorted(self.cells, keys)
        pos = np.minimum(pos, len(self.cells) - 1)
        hit = self.cells[pos] == keys
        pos = pos[hit]
        return np.asarray(self.perm[concat_ranges(self.offsets[pos], self.offsets[pos + 1])])


@dataclass
class Snap:
    edge: int
    t: float  # position along the edge from u (0) to v (1)
    offset_m: float  # straight-line metres from the point to the street


@dataclass
class Graph:
    key: str
    node_x: F64
    node_y: F64
    indptr: I64
    indices: I32
    weights: F64
    edge_u: I32
    edge_v: I32
    edge_len: F64
    seg_edge: I32
    seg_t0: F64
    seg_t1: F64
    seg_index: BucketIndex
    node_index: BucketIndex
    # Facilities, in the order of the facility arrays.
    fac_ids: npt.NDArray[np.uint8]  # (n, 16) UUID bytes
    fac_cat: npt.NDArray[np.int16]
    fac_lat: F64
    fac_lng: F64
    fac_gcj_lat: F64  # the default reply system, converted once at build
    fac_gcj_lng: F64
    fac_id_hex: npt.NDArray[np.bytes_]  # canonical UUID strings, ready to send
    fac_x: F64
    fac_y: F64
    fac_edge: I32  # -1: farther than the snap radius from any street
    fac_t: F64
    fac_off: F64
    fac_text: npt.NDArray[np.uint8]  # utf-8 names and addresses, back to back
    fac_text_off: I64  # (n, 3): name start, address start, end
    fac_index: BucketIndex
    categories: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return len(self.node_x)

    @property
    def edge_count(self) -> int:
        return len(self.edge_u)

    @property
    def facility_count(self) -> int:
        return len(self.fac_cat)

    # --- snapping -------------------------------------------------------------------

    def snap(self, x: float, y: float, k: float, max_m: float) -> Snap | None:
        """The nearest point on any street segment within ``max_m`` true metres, or None."""
        if len(self.seg_edge) == 0:
            return None
        best: tuple[float, int, float] | None = None
        ring = 1
        while True:
            # Pieces are at most PIECE long and filed by their midpoint: every piece within
            # ``ring * CELL - PIECE / 2`` of the point has its midpoint in the searched square.
            found = self.seg_index.around(x, y, ring * CELL)
            if len(found):
                best = self._nearest_piece(found, x, y)
            sure = ring * CELL - PIECE / 2
            if best is not None and best[0] <= sure:
                break
            if sure * k > max_m or ring >= MAX_SNAP_RINGS:
                break
            ring += 1
        if best is None or best[0] * k > max_m:
            return None
        dist, edge, t = best
        return Snap(edge, t, dist * k)

    def snap_many(
        self, x: F64, y: F64, k: F64, max_m: float, chunk: int = 2048
    ) -> tuple[I64, F64, F64]:
        """:meth:`snap` for many points at once: (edge or -1, t, offset metres)."""
        n = len(x)
        edge = np.full(n, -1, dtype=np.int64)
        t_out = np.zeros(n)
        off = np.zeros(n)
        if n == 0 or len(self.seg_edge) == 0:
            return edge, t_out, off
        cells = self.seg_index.cells
        sure = CELL - PIECE / 2  # what the 3 × 3 cells around a point are sure to hold
        ring = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)], dtype=np.int64)
        for lo in range(0, n, chunk):
            px, py = x[lo : lo + chunk], y[lo : lo + chunk]
            m = len(px)
            cx, cy = _cell_xy(px, py)
            keys = _cell_key(cx[:, None] + ring[:, 0], cy[:, None] + ring[:, 1]).ravel()
            pos = np.minimum(np.searchsorted(cells, keys), len(cells) - 1)
            hit = cells[pos] == keys
            starts = np.where(hit, self.seg_index.offsets[pos], 0)
            ends = np.where(hit, self.seg_index.offsets[np.minimum(pos + 1, len(cells))], 0)
            counts = (ends - starts).reshape(m, 9).sum(axis=1)
            found = self.seg_index.perm[concat_ranges(starts, ends)]
            owner = np.repeat(np.arange(m), counts)
            if len(found) == 0:
                best_d = np.full(m, np.inf)
                best_e, best_t = np.zeros(m, dtype=np.int64), np.zeros(m)
            else:
                d, e, t = self._piece_distances(found, px[owner], py[owner])
                order = np.lexsort((d, owner))
                first = np.ones(len(order), dtype=bool)
                first[1:] = owner[order][1:] != owner[order][:-1]
                pick = order[first]
                best_d = np.full(m, np.inf)
                best_e, best_t = np.zeros(m, dtype=np.int64), np.zeros(m)
                best_d[owner[pick]], best_e[owner[pick]] = d[pick], e[pick]
                best_t[owner[pick]] = t[pick]
            kk = k[lo : lo + chunk]
            sure_ok = (best_d <= sure) & (best_d * kk <= max_m)
            idx = np.flatnonzero(sure_ok)
            edge[lo + idx], t_out[lo + idx], off[lo + idx] = (
                best_e[idx],
                best_t[idx],
                (best_d[idx] * kk[idx]),
            )
            for i in np.flatnonzero(~sure_ok):  # far from streets: the ring-by-ring search
                snap = self.snap(float(px[i]), float(py[i]), float(kk[i]), max_m)
                if snap is not None:
                    edge[lo + i], t_out[lo + i], off[lo + i] = snap.edge, snap.t, snap.offset_m
        return edge, t_out, off

    def _piece_distances(self, found: I64, x: Any, y: Any) -> tuple[F64, I64, F64]:
        """Mercator distance from (x, y) to each piece, its edge and the position on it."""
        e = self.seg_edge[found].astype(np.int64)
        t0, t1 = self.seg_t0[found], self.seg_t1[found]
        ux, uy = self.node_x[self.edge_u[e]], self.node_y[self.edge_u[e]]
        dx, dy = self.node_x[self.edge_v[e]] - ux, self.node_y[self.edge_v[e]] - uy
        ax, ay = ux + t0 * dx, uy + t0 * dy
        bx, by = ux + t1 * dx - ax, uy + t1 * dy - ay
        denom = bx * bx + by * by
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(denom > 0, ((x - ax) * bx + (y - ay) * by) / denom, 0.0)
        s = np.clip(s, 0.0, 1.0)
        d = np.hypot(ax + s * bx - x, ay + s * by - y)
        return d, e, t0 + s * (t1 - t0)

    def _nearest_piece(self, found: I64, x: float, y: float) -> tuple[float, int, float]:
        e = self.seg_edge[found]
        t0, t1 = self.seg_t0[found], self.seg_t1[found]
        ux, uy = self.node_x[self.edge_u[e]], self.node_y[self.edge_u[e]]
        dx, dy = self.node_x[self.edge_v[e]] - ux, self.node_y[self.edge_v[e]] - uy
        ax, ay = ux + t0 * dx, uy + t0 * dy
        bx, by = ux + t1 * dx - ax, uy + t1 * dy - ay
        denom = bx * bx + by * by
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(denom > 0, ((x - ax) * bx + (y - ay) * by) / denom, 0.0)
        s = np.clip(s, 0.0, 1.0)
        px, py = ax + s * bx, ay + s * by
        d2 = (px - x) ** 2 + (py - y) ** 2
        i = int(np.argmin(d2))
        return math.sqrt(float(d2[i])), int(e[i]), float(t0[i] + s[i] * (t1[i] - t0[i]))

    # --- walking distances --------------------------------------------------------------

    def distances_from(
        self, origin: Snap, x: float, y: float, k: float, limit_m: float
    ) -> tuple[I64, F64]:
        """Walking metres from the origin to every node within ``limit_m``: (nodes, metres).

        Only nodes within ``limit_m`` in a straight line can be reached within ``limit_m``
        along streets, so the graph induced by them holds every path that matters.
        """
        radius = limit_m / k
        cand = self.node_index.around(x, y, radius)
        if len(cand):
            near = (self.node_x[cand] - x) ** 2 + (self.node_y[cand] - y) ** 2 <= radius * radius
            cand = cand[near]
        sub = Subgraph.induced(self, cand)
        # Both ends of the origin's segment, at the walk to them.
        edge_len = float(self.edge_len[origin.edge])
        seeds = np.asarray([self.edge_u[origin.edge], self.edge_v[origin.edge]], dtype=np.int64)
        along = np.asarray([origin.t * edge_len, (1.0 - origin.t) * edge_len])
        return sub.nodes, sub.walk(seeds, origin.offset_m + along, limit_m)

    def facility_text(self, i: int) -> tuple[str, str | None]:
        a, b, c = self.fac_text_off[i].tolist()
        name = self.fac_text[a:b].tobytes().decode()
        address = self.fac_text[b:c].tobytes().decode() if c > b else None
        return name, address

    def facility_id(self, i: int) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(self.fac_ids[i]))


@dataclass
class Subgraph:
    """The part of the graph induced by some nodes, in local numbering, ready for Dijkstra."""

    nodes: I64  # sorted global node indices
    row: I64
    col: I64
    weight: F64

    @classmethod
    def induced(cls, graph: Graph, nodes: I64) -> Subgraph:
        sub = np.sort(nodes)  # each node sits in one cell: no duplicates
        n = len(sub)
        starts = graph.indptr[sub].astype(np.int64)
        ends = graph.indptr[sub + 1].astype(np.int64)
        pos = concat_ranges(starts, ends)
        row = np.repeat(np.arange(n, dtype=np.int64), ends - starts)
        targets = graph.indices[pos]
        local = np.minimum(np.searchsorted(sub, targets), max(n - 1, 0))
        inside = sub[local] == targets if n else np.zeros(0, dtype=bool)
        return cls(sub, row[inside], local[inside], graph.weights[pos][inside])

    def local(self, nodes: I64) -> I64:
        """Local index of each global node, -1 when it is not in the sub-graph."""
        if len(self.nodes) == 0:
            return np.full(len(nodes), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.nodes, nodes), len(self.nodes) - 1)
        return np.where(self.nodes[at] == nodes, at, -1)

    def walk(self, seeds: I64, start_m: F64, limit_m: float) -> F64:
        """Shortest walk to every node from the nearest seed (global nodes, already walked).

        One virtual source joins all seeds, so one Dijkstra run serves many starts.
        """
        n = len(self.nodes)
        at = self.local(np.asarray(seeds, dtype=np.int64))
        keep = at >= 0
        at, start = at[keep], np.maximum(np.asarray(start_m, dtype=np.float64)[keep], MIN_EDGE_M)
        if len(at):  # one entry per seed node: the shortest start
            order = np.lexsort((start, at))
            at, start = at[order], start[order]
            first = np.ones(len(at), dtype=bool)
            first[1:] = at[1:] != at[:-1]
            at, start = at[first], start[first]
        counts = np.bincount(self.row, minlength=n)
        indptr = np.zeros(n + 2, dtype=np.int64)
        np.cumsum(counts, out=indptr[1 : n + 1])
        indptr[n + 1] = indptr[n] + len(at)
        matrix = csr_matrix(
            (np.concatenate((self.weight, start)), np.concatenate((self.col, at)), indptr),
            shape=(n + 1, n + 1),
        )
        dist = dijkstra(matrix, directed=True, indices=n, limit=limit_m)
        return np.asarray(dist[:n], dtype=np.float64)


# --- building -----------------------------------------------------------------------


@dataclass
class FacilityRows:
    ids: list[uuid.UUID]
    categories: list[str]
    lat: F64
    lng: F64
    names: list[str]
    addresses: list[str | None]


def build_graph(
    key: str,
    node_ids: I64,
    node_lat: F64,
    node_lng: F64,
    edge_a: I64,
    edge_b: I64,
    edge_len: F64,
    facilities: FacilityRows,
    categories: list[str],
    snap_max_m: float,
    island_max_m: float = ISLAND_MAX_M,
) -> Graph:
    """Arrays for queries from raw rows (ids are OSM node ids, edges are undirected).

    Several sources may bring the same node id: it is one node (the first row's position),
    so overlapping extracts join into one network. Edges whose ends are missing are dropped.
    """
    order = np.argsort(node_ids, kind="stable")
    node_ids = node_ids[order]
    if len(node_ids):
        first = np.ones(len(node_ids), dtype=bool)
        first[1:] = node_ids[1:] != node_ids[:-1]
        order, node_ids = order[first], node_ids[first]
    node_x, node_y = mercator(node_lat[order], node_lng[order])
    n = len(node_ids)
    ia = np.searchsorted(node_ids, edge_a)
    ib = np.searchsorted(node_ids, edge_b)
    if n:
        ia_c, ib_c = np.minimum(ia, n - 1), np.minimum(ib, n - 1)
        ok = (node_ids[ia_c] == edge_a) & (node_ids[ib_c] == edge_b) & (ia_c != ib_c)
    else:
        ia_c = ib_c = ia
        ok = np.zeros(len(edge_a), dtype=bool)
    a = np.minimum(ia_c[ok], ib_c[ok])
    b = np.maximum(ia_c[ok], ib_c[ok])
    length = np.maximum(np.asarray(edge_len, dtype=np.float64)[ok], MIN_EDGE_M)
    # Parallel edges: keep the shortest.
    srt = np.lexsort((length, b, a))
    a, b, length = a[srt], b[srt], length[srt]
    if len(a):
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        a, b, length = a[first], b[first], length[first]
    rows = np.concatenate((a, b))
    cols = np.concatenate((b, a))
    wts = np.concatenate((length, length))
    srt = np.lexsort((cols, rows))
    rows, cols, wts = rows[srt], cols[srt], wts[srt]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])

    # Pieces of the network: islands are left out of the snapping index, so a position or a
    # facility joins the network where it connects to the rest of the city.
    if n:
        n_pieces, piece = connected_components(
            csr_matrix((wts, cols, indptr), shape=(n, n)), directed=False
        )
    else:
        n_pieces, piece = 0, np.zeros(0, dtype=np.int32)
    piece_m = np.bincount(piece[a], weights=length, minlength=n_pieces)
    island = piece_m < island_max_m
    if n_pieces:
        island[int(np.argmax(piece_m))] = False
    live = ~island[piece[a]] if len(a) else np.zeros(0, dtype=bool)

    # Street pieces for snapping: each live edge cut into pieces of at most PIECE Mercator m.
    merc_len = np.hypot(node_x[b] - node_x[a], node_y[b] - node_y[a])
    pieces = np.where(live, np.maximum(np.ceil(merc_len / PIECE), 1), 0).astype(np.int64)
    seg_edge = np.repeat(np.arange(len(a), dtype=np.int64), pieces)
    starts = np.cumsum(pieces) - pieces
    j = np.arange(len(seg_edge), dtype=np.int64) - np.repeat(starts, pieces)
    per = pieces[seg_edge]
    seg_t0 = j / per
    seg_t1 = (j + 1) / per
    mid = (seg_t0 + seg_t1) / 2
    mx = node_x[a[seg_edge]] + mid * (node_x[b[seg_edge]] - node_x[a[seg_edge]])
    my = node_y[a[seg_edge]] + mid * (node_y[b[seg_edge]] - node_y[a[seg_edge]])

    cat_pos = {c: i for i, c in enumerate(categories)}
    nf = len(facilities.ids)
    gcj_lat, gcj_lng = wgs84_to_gcj02(facilities.lat, facilities.lng)
    fac_x, fac_y = mercator(facilities.lat, facilities.lng)
    text = bytearray()
    text_off = np.zeros((nf, 3), dtype=np.int64)
    for i in range(nf):
        text_off[i, 0] = len(text)
        text += facilities.names[i].encode()
        text_off[i, 1] = len(text)
        text += (facilities.addresses[i] or "").encode()
        text_off[i, 2] = len(text)
    graph = Graph(
        key=key,
        node_x=np.asarray(node_x, dtype=np.float64),
        node_y=np.asarray(node_y, dtype=np.float64),
        indptr=indptr,
        indices=cols.astype(np.int32),
        weights=wts,
        edge_u=a.astype(np.int32),
        edge_v=b.astype(np.int32),
        edge_len=length,
        seg_edge=seg_edge.astype(np.int32),
        seg_t0=seg_t0,
        seg_t1=seg_t1,
        seg_index=BucketIndex.build(mx, my),
        node_index=BucketIndex.build(node_x, node_y),
        fac_ids=np.frombuffer(b"".join(u.bytes for u in facilities.ids), dtype=np.uint8)
        .reshape(nf, 16)
        .copy(),
        fac_cat=np.asarray([cat_pos[c] for c in facilities.categories], dtype=np.int16),
        fac_lat=np.asarray(facilities.lat, dtype=np.float64),
        fac_lng=np.asarray(facilities.lng, dtype=np.float64),
        fac_gcj_lat=gcj_lat,
        fac_gcj_lng=gcj_lng,
        fac_id_hex=np.asarray([str(u).encode() for u in facilities.ids], dtype="S36"),
        fac_x=np.asarray(fac_x, dtype=np.float64),
        fac_y=np.asarray(fac_y, dtype=np.float64),
        fac_edge=np.full(nf, -1, dtype=np.int32),
        fac_t=np.zeros(nf, dtype=np.float64),
        fac_off=np.zeros(nf, dtype=np.float64),
        fac_text=np.frombuffer(bytes(text), dtype=np.uint8).copy(),
        fac_text_off=text_off,
        fac_index=BucketIndex.build(np.asarray(fac_x), np.asarray(fac_y)),
        categories=list(categories),
    )
    # Facilities sit on the network where their nearest street segment is.
    f_edge, f_t, f_off = graph.snap_many(
        graph.fac_x, graph.fac_y, np.asarray(scale(graph.fac_lat)), snap_max_m
    )
    graph.fac_edge, graph.fac_t, graph.fac_off = f_edge.astype(np.int32), f_t, f_off
    islands = np.flatnonzero(island)
    nodes_in = np.bincount(piece, minlength=n_pieces)
    biggest = islands[np.argsort(-piece_m[islands], kind="stable")][:ISLANDS_LISTED]
    first_node = np.full(n_pieces, max(n - 1, 0), dtype=np.int64)
    np.minimum.at(first_node, piece, np.arange(n, dtype=np.int64))  # each piece's lowest node
    lat_at, lng_at = node_lat[order], node_lng[order]
    graph.meta = {
        "key": key,
        "nodes": graph.node_count,
        "edges": graph.edge_count,
        "facilities": nf,
        "snapped_facilities": int((graph.fac_edge >= 0).sum()),
        "snap_max_m": snap_max_m,
        "pieces": int(n_pieces),
        "island_max_m": island_max_m,
        "islands": len(islands),
        "island_nodes": int(nodes_in[islands].sum()),
        "largest_islands": [
            {
                "nodes": int(nodes_in[p]),
                "street_m": round(float(piece_m[p]), 1),
                "lat": round(float(lat_at[first_node[p]]), 7),
                "lng": round(float(lng_at[first_node[p]]), 7),
            }
            for p in biggest
        ],
    }
    return graph


# --- files --------------------------------------------------------------------------

_ARRAYS = [
    "node_x",
    "node_y",
    "indptr",
    "indices",
    "weights",
    "edge_u",
    "edge_v",
    "edge_len",
    "seg_edge",
    "seg_t0",
    "seg_t1",
    "fac_ids",
    "fac_cat",
    "fac_lat",
    "fac_lng",
    "fac_gcj_lat",
    "fac_gcj_lng",
    "fac_id_hex",
    "fac_x",
    "fac_y",
    "fac_edge",
    "fac_t",
    "fac_off",
    "fac_text",
    "fac_text_off",
]
_INDEXES = ("seg_index", "node_index", "fac_index")


def save_graph(graph: Graph, directory: Path) -> None:
    """Write the graph to ``directory`` atomically (a temporary sibling, then a rename)."""
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in _ARRAYS:
        np.save(tmp / f"{name}.npy", getattr(graph, name))
    for name in _INDEXES:
        index: BucketIndex = getattr(graph, name)
        for part in ("cells", "offsets", "perm"):
            np.save(tmp / f"{name}.{part}.npy", getattr(index, part))
    (tmp / "meta.json").write_text(
        json.dumps({**graph.meta, "categories": graph.categories}, ensure_ascii=False)
    )
    os.replace(tmp, directory)


def _mapped(path: Path) -> Arr:
    # A plain ndarray view of the mapping: numpy's memmap subclass costs microseconds on every
    # indexing, which a query does hundreds of times.
    return np.asarray(np.load(path, mmap_mode="r")).view(np.ndarray)


def load_graph(directory: Path) -> Graph:
    """Memory-map a saved graph: workers share the pages, loading costs milliseconds."""
    meta = json.loads((directory / "meta.json").read_text())
    arrays: dict[str, Any] = {name: _mapped(directory / f"{name}.npy") for name in _ARRAYS}
    indexes: dict[str, Any] = {
        name: BucketIndex(*(_mapped(directory / f"{name}.{part}.npy") for part in _PARTS))
        for name in _INDEXES
    }
    return Graph(
        key=str(meta["key"]),
        categories=list(meta["categories"]),
        meta=meta,
        **arrays,
        **indexes,
    )


_PARTS = ("cells", "offsets", "perm")
