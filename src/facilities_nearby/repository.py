"""All SQL of the facilities domain.

Bulk paths (graph build, imports) use a raw asyncpg connection for COPY and array
parameters; request paths use the request's SQLAlchemy session.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from src.facilities_nearby.graph import F64, I64, FacilityRows
from src.models.area import Area
from src.models.facility import Facility, FacilityCategory


@dataclass
class NetworkRows:
    key: str
    node_ids: I64
    node_lat: F64
    node_lng: F64
    edge_u: I64
    edge_v: I64
    edge_len: F64
    facilities: FacilityRows
    categories: list[dict[str, Any]]


async def _copy_numbers(conn: asyncpg.Connection, query: str, columns: int) -> F64:
    buf = io.BytesIO()
    await conn.copy_from_query(query, output=buf, format="csv")
    raw = buf.getvalue()
    if not raw:
        return np.zeros((0, columns), dtype=np.float64)
    values = np.fromstring(raw.replace(b"\n", b",").decode(), sep=",")
    return values.reshape(-1, columns)


# Facilities in service: not retired, and one row per OSM object where overlapping network
# imports both brought it (the oldest row keeps serving, so its id stays the one users saw).
_LIVE_FACILITIES = """
SELECT id, category, lat, lng, name, address FROM (
    SELECT DISTINCT ON (coalesce(osm_ref, id::text)) id, category, lat, lng, name, address
    FROM facilities WHERE retired_at IS NULL
    ORDER BY coalesce(osm_ref, id::text), created_at, id
) live ORDER BY id
"""


async def read_key(conn: asyncpg.Connection) -> str:
    return str(await conn.fetchval("SELECT key FROM facility_data_state WHERE id = 1"))


async def read_network(conn: asyncpg.Connection) -> NetworkRows:
    """Everything the in-memory graph needs, as one consistent snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        key = await read_key(conn)
        nodes = await _copy_numbers(conn, "SELECT id, lat, lng FROM walk_nodes", 3)
        edges = await _copy_numbers(conn, "SELECT u, v, length_m FROM walk_edges", 3)
        cats = await conn.fetch(
            'SELECT code, name_zh, name_en, "group", tier_minutes FROM facility_categories '
            "ORDER BY sort_order, code"
        )
        facs = await conn.fetch(_LIVE_FACILITIES)
    return NetworkRows(
        key=key,
        node_ids=nodes[:, 0].astype(np.int64),
        node_lat=nodes[:, 1].copy(),
        node_lng=nodes[:, 2].copy(),
        edge_u=edges[:, 0].astype(np.int64),
        edge_v=edges[:, 1].astype(np.int64),
        edge_len=edges[:, 2].copy(),
        facilities=FacilityRows(
            ids=[r["id"] for r in facs],
            categories=[r["category"] for r in facs],
            lat=np.asarray([r["lat"] for r in facs], dtype=np.float64),
            lng=np.asarray([r["lng"] for r in facs], dtype=np.float64),
            names=[r["name"] for r in facs],
            addresses=[r["address"] for r in facs],
        ),
        categories=[dict(r) for r in cats],
    )


async def bump_data_version(conn: asyncpg.Connection) -> None:
    """Tell every worker that facilities or the network changed (they rebuild/reload)."""
    await conn.execute(
        "UPDATE facility_data_state SET version = version + 1, key = gen_random_uuid(), "
        "updated_at = now() WHERE id = 1"
    )


async def category_codes(conn: asyncpg.Connection) -> dict[str, list[str]]:
    """Category codes with their OSM tags."""
    rows = await conn.fetch("SELECT code, osm_tags FROM facility_categories ORDER BY sort_order")
    return {
        r["code"]: (json.loads(r["osm_tags"]) if isinstance(r["osm_tags"], str) else r["osm_tags"])
        for r in rows
    }


_UPSERT = """
INSERT INTO facilities (id, source, external_id, name, category, lat, lng, address, osm_ref)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::float8[], $7::float8[], $8::text[], $9::text[])
ON CONFLICT (source, external_id) DO UPDATE SET
    name = EXCLUDED.name, category = EXCLUDED.category, lat = EXCLUDED.lat,
    lng = EXCLUDED.lng, address = EXCLUDED.address, osm_ref = EXCLUDED.osm_ref,
    retired_at = NULL, updated_at = now()
WHERE (facilities.name, facilities.category, facilities.lat, facilities.lng,
       facilities.address, facilities.osm_ref, facilities.retired_at) IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.category, EXCLUDED.lat, EXCLUDED.lng, EXCLUDED.address,
       EXCLUDED.osm_ref, NULL)
RETURNING (xmax = 0) AS inserted
"""

# external id, name, category, lat, lng, address
FacilityRow = tuple[str, str, str, float, float, str | None]


async def upsert_facilities(
    conn: asyncpg.Connection,
    source: str,
    rows: list[FacilityRow],
    *,
    osm: bool = False,
) -> tuple[int, int]:
    """Insert or update by (source, external_id): (inserted, updated); unchanged rows: neither.

    A retired facility that comes back is in service again (counted as updated). With
    ``osm`` the external ids are OpenStreetMap objects, shared by every OSM source.
    """
    if not rows:
        return 0, 0
    ext, names, cats, lats, lngs, addrs = (list(c) for c in zip(*rows, strict=True))
    ids = [uuid.uuid4() for _ in rows]
    refs = ext if osm else [None] * len(rows)
    result = await conn.fetch(
        _UPSERT, ids, [source] * len(rows), ext, names, cats, lats, lngs, addrs, refs
    )
    inserted = sum(1 for r in result if r["inserted"])
    return inserted, len(result) - inserted


async def facility_ids(conn: asyncpg.Connection, source: str) -> list[uuid.UUID]:
    """The facilities of ``source`` in service."""
    rows = await conn.fetch(
        "SELECT id FROM facilities WHERE source = $1 AND retired_at IS NULL", source
    )
    return [r["id"] for r in rows]


async def retire_missing(conn: asyncpg.Connection, source: str, keep: list[str]) -> int:
    """Retire the facilities of ``source`` whose external id is not in ``keep``: how many."""
    status = await conn.execute(
        "UPDATE facilities SET retired_at = now(), updated_at = now() "
        "WHERE source = $1 AND retired_at IS NULL AND NOT (external_id = ANY($2::text[]))",
        source,
        keep,
    )
    return int(status.split()[-1])


async def replace_network(
    conn: asyncpg.Connection,
    source: str,
    nodes: list[tuple[int, float, float]],
    edges: list[tuple[int, int, float]],
) -> None:
    """Replace the walking network of ``source`` (in the caller's transaction).

    Every node of the source is stored under the source, also those another source has too:
    the graph build merges them, and no source's edges depend on another source's rows.
    """
    await conn.execute("DELETE FROM walk_edges WHERE source = $1", source)
    await conn.execute("DELETE FROM walk_nodes WHERE source = $1", source)
    await conn.copy_records_to_table(
        "walk_nodes",
        records=[(source, i, lat, lng) for i, lat, lng in nodes],
        columns=["source", "id", "lat", "lng"],
    )
    await conn.copy_records_to_table(
        "walk_edges",
        records=[(source, u, v, length) for u, v, length in edges],
        columns=["source", "u", "v", "length_m"],
    )


# --- request paths (SQLAlchemy session) ------------------------------------------------


async def list_categories(session: AsyncSession) -> list[FacilityCategory]:
    rows = await session.scalars(
        select(FacilityCategory).order_by(FacilityCategory.sort_order, FacilityCategory.code)
    )
    return list(rows)


async def get_facility(session: AsyncSession, facility_id: uuid.UUID) -> Facility | None:
    return await session.get(Facility, facility_id)


async def get_area(session: AsyncSession, area_id: uuid.UUID) -> Area | None:
    return await session.get(Area, area_id)


async def data_key(session: AsyncSession) -> str:
    return str(await session.scalar(text("SELECT key FROM facility_data_state WHERE id = 1")))
