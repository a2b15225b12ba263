"""``lifecircle facilities import FILE`` and ``lifecircle network import FILE.osm.pbf``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import asyncpg
import numpy as np

from src.cli import command, ensure_database, migrate
from src.config import Settings
from src.core.db import plain_dsn
from src.core.geo import CoordSys
from src.facilities_nearby import repository
from src.facilities_nearby.build import graph_of
from src.facilities_nearby.imports import FileError, import_facilities
from src.facilities_nearby.osm import read_osm

MAX_REJECTS_SHOWN = 50


def _say(text: str) -> None:
    print(text, flush=True)


def _bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    print(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", flush=True)
    if done >= total:
        print(flush=True)


def _configure_facilities(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser("import", help="import facilities from a CSV or GeoJSON file")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--coord-sys",
        choices=[c.value for c in CoordSys],
        default=CoordSys.gcj02.value,
        help="coordinate system of the file (city data usually gcj02)",
    )
    imp.add_argument(
        "--source",
        default=None,
        help="name of the data source (default: the file name); ids are unique per source",
    )
    imp.add_argument("--strict", action="store_true", help="import nothing if any row is bad")


async def _facilities_import(args: argparse.Namespace, settings: Settings) -> int:
    assert settings.database_url
    conn = await asyncpg.connect(plain_dsn(settings.database_url))
    try:
        source = (args.source or args.file.stem)[:64]
        started = time.perf_counter()
        _say(f"• importing {args.file} as source {source!r} ({args.coord_sys})")
        summary = await import_facilities(
            conn,
            args.file,
            source=source,
            coord_sys=CoordSys(args.coord_sys),
            strict=args.strict,
            progress=_bar,
        )
    finally:
        await conn.close()
    for rejected in summary.rejected[:MAX_REJECTS_SHOWN]:
        _say(f"  ✗ row {rejected.line}: {rejected.reason}")
    if len(summary.rejected) > MAX_REJECTS_SHOWN:
        _say(f"  … and {len(summary.rejected) - MAX_REJECTS_SHOWN} more rejected rows")
    elapsed = time.perf_counter() - started
    if not summary.committed:
        _say(
            f"✗ --strict: {len(summary.rejected)} of {summary.read} rows rejected, "
            f"nothing imported ({elapsed:.1f} s)"
        )
        return 1
    _say(
        f"✓ {summary.read} rows read: {summary.inserted} new, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {len(summary.rejected)} rejected ({elapsed:.1f} s)"
    )
    return 0 if not summary.rejected else 2


@command("facilities", "facility data (import FILE: CSV or GeoJSON)", _configure_facilities)
def _facilities(args: argparse.Namespace, settings: Settings) -> int:
    settings, _server = ensure_database(settings)
    migrate(settings)
    try:
        return asyncio.run(_facilities_import(args, settings))
    except FileError as exc:
        print(f"✗ {args.file}: {exc}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        print(f"✗ {args.file}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 1


def _configure_network(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser("import", help="build the walking network from an OSM extract")
    imp.add_argument("file", type=Path, help="an .osm.pbf (or .osm) file")
    imp.add_argument(
        "--source", default="osm", help="name of this network; a re-import replaces it"
    )
    imp.add_argument("--no-facilities", action="store_true", help="skip the POIs")


async def _network_import(args: argparse.Namespace, settings: Settings) -> int:
    assert settings.database_url
    conn = await asyncpg.connect(plain_dsn(settings.database_url))
    try:
        started = time.perf_counter()
        tags = await repository.category_codes(conn)
        _say(f"• reading {args.file}")
        network = await asyncio.to_thread(
            read_osm, args.file, tags, lambda what, n: _say(f"  … {n:,} {what} read")
        )
        read_s = time.perf_counter() - started
        _say(
            f"• {network.walkable_ways:,} walkable ways of {network.ways_read:,}: "
            f"{len(network.nodes):,} nodes, {len(network.edges):,} edges, "
            f"{len(network.facilities):,} facilities ({read_s:.1f} s)"
        )
        # One transaction: the source's streets and facilities are replaced together, and the
        # workers, which read one snapshot per data version, see all of it or none of it.
        async with conn.transaction():
            await repository.replace_network(
                conn,
                args.source,
                [(i, lat, lng) for i, (lat, lng) in network.nodes.items()],
                network.edges,
            )
            inserted = updated = retired = 0
            if not args.no_facilities:
                rows = [
                    (ext, name, cat, round(lat, 7), round(lng, 7), addr)
                    for ext, name, cat, lat, lng, addr in network.facilities
                ]
                for start in range(0, len(rows), 1000):
                    ins, upd = await repository.upsert_facilities(
                        conn, args.source, rows[start : start + 1000], osm=True
                    )
                    inserted, updated = inserted + ins, updated + upd
                    _bar(min(start + 1000, len(rows)), len(rows))
                retired = await repository.retire_missing(conn, args.source, [r[0] for r in rows])
            await repository.bump_data_version(conn)
        _say(
            f"✓ network {args.source!r}: {len(network.nodes):,} nodes, {len(network.edges):,} "
            f"edges ({network.walkable_areas:,} pedestrian areas); facilities {inserted} new, "
            f"{updated} updated, {retired} removed ({time.perf_counter() - started:.1f} s). "
            "Workers reload within seconds."
        )
        await _reachability(conn, args.source, settings.walk_snap_max_m)
    finally:
        await conn.close()
    return 0


async def _reachability(conn: asyncpg.Connection, source: str, snap_max_m: float) -> None:
    """What the walking graph makes of the data now: its islands (never snapped onto) and the
    facilities of ``source`` that no walk reaches (answered by estimate only)."""
    rows = await repository.read_network(conn)
    graph = await asyncio.to_thread(graph_of, rows, snap_max_m)
    meta = graph.meta
    _say(
        f"• walking graph: {meta['nodes']:,} nodes in {meta['pieces']:,} pieces; "
        f"{meta['islands']:,} islands (under {meta['island_max_m']:.0f} m of street, "
        f"{meta['island_nodes']:,} nodes) left out of snapping"
    )
    for piece in meta["largest_islands"][:10]:
        _say(
            f"  · island of {piece['nodes']} nodes, {piece['street_m']:.0f} m, "
            f"at {piece['lat']:.6f},{piece['lng']:.6f} (WGS-84)"
        )
    mine = set(await repository.facility_ids(conn, source))
    lost = [i for i in np.flatnonzero(graph.fac_edge < 0).tolist() if graph.facility_id(i) in mine]
    if not lost:
        _say(f"✓ every facility of {source!r} is within {snap_max_m:.0f} m of the network")
        return
    _say(
        f"! {len(lost)} facilities of {source!r} farther than {snap_max_m:.0f} m from the "
        "walking network (answered by straight-line estimate only):"
    )
    for i in lost[:MAX_REJECTS_SHOWN]:
        name, _ = graph.facility_text(i)
        _say(
            f"  ✗ {name} ({rows.facilities.categories[i]}) at "
            f"{graph.fac_lat[i]:.6f},{graph.fac_lng[i]:.6f} id {graph.facility_id(i)}"
        )
    if len(lost) > MAX_REJECTS_SHOWN:
        _say(f"  … and {len(lost) - MAX_REJECTS_SHOWN} more")


@command("network", "walking network (import FILE.osm.pbf)", _configure_network)
def _network(args: argparse.Namespace, settings: Settings) -> int:
    if not args.file.exists():
        print(f"✗ {args.file}: no such file", file=sys.stderr, flush=True)
        return 1
    settings, _server = ensure_database(settings)
    migrate(settings)
    try:
        return asyncio.run(_network_import(args, settings))
    except RuntimeError as exc:  # osmium: not an OSM file
        print(f"✗ {args.file}: {exc}", file=sys.stderr, flush=True)
        return 1
