"""Facility files (CSV or GeoJSON) in, validated row by row, upserted by stable external id.

CSV columns: ``id`` (or ``external_id``), ``name``, ``category``, ``lat``, ``lng`` (or
``lon``), optional ``address``. GeoJSON: a FeatureCollection of Point features whose
properties carry the same names (the feature ``id`` serves as external id too). Coordinates
are in the file's ``coord_sys`` and stored in WGS-84.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from src.core.geo import CoordSys, convert
from src.facilities_nearby import repository

BATCH = 1000


@dataclass(frozen=True)
class Row:
    line: int
    external_id: str
    name: str
    category: str
    lat: float  # WGS-84
    lng: float
    address: str | None


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass
class Parsed:
    rows: list[Row] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass
class ImportSummary:
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: list[Rejected]
    committed: bool


class FileError(ValueError):
    """The file as a whole cannot be read (not CSV/GeoJSON, missing columns)."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _check(
    line: int,
    raw: dict[str, Any],
    coord_sys: CoordSys,
    categories: set[str],
    seen: set[str],
) -> Row | Rejected:
    ext = _text(raw.get("id") if raw.get("id") not in (None, "") else raw.get("external_id"))
    name = _text(raw.get("name"))
    category = _text(raw.get("category"))
    address = _text(raw.get("address")) or None
    lat = _number(raw.get("lat"))
    lng = _number(raw.get("lng") if raw.get("lng") not in (None, "") else raw.get("lon"))
    problems = []
    if not ext:
        problems.append("missing id")
    elif len(ext) > 128:
        problems.append("id longer than 128 characters")
    elif ext in seen:
        problems.append(f"duplicate id {ext!r} in the file")
    if not name:
        problems.append("missing name")
    elif len(name) > 200:
        problems.append("name longer than 200 characters")
    if category not in categories:
        problems.append(f"unknown category {category!r}" if category else "missing category")
    if lat is None or lng is None:
        problems.append("lat/lng missing or not a number")
    elif not (-90 <= lat <= 90 and -180 <= lng <= 180):
        problems.append(f"coordinates out of range ({lat}, {lng})")
    if address is not None and len(address) > 300:
        problems.append("address longer than 300 characters")
    if problems:
        return Rejected(line, "; ".join(problems))
    assert lat is not None and lng is not None
    seen.add(ext)
    w_lat, w_lng = convert(lat, lng, coord_sys, CoordSys.wgs84)
    return Row(line, ext, name, category, round(w_lat, 7), round(w_lng, 7), address)


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    needed = [{"id", "external_id"}, {"name"}, {"category"}, {"lat"}, {"lng", "lon"}]
    missing = ["/".join(sorted(group)) for group in needed if not group & fields]
    if missing:
        raise FileError(f"CSV lacks columns: {', '.join(missing)}")
    for record in reader:
        yield reader.line_num, {k.strip().lower(): v for k, v in record.items() if k}


def _geojson_records(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise FileError("GeoJSON must be a FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise FileError("GeoJSON FeatureCollection without a features list")
    for number, feature in enumerate(features, start=1):
        props = dict(feature.get("properties") or {}) if isinstance(feature, dict) else {}
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if isinstance(feature, dict) and feature.get("id") is not None and not props.get("id"):
            props["id"] = feature["id"]
        if (
            isinstance(geometry, dict)
            and geometry.get("type") == "Point"
            and isinstance(geometry.get("coordinates"), list)
            and len(geometry["coordinates"]) >= 2
        ):
            props["lng"], props["lat"] = geometry["coordinates"][:2]
        else:
            props["lat"] = props["lng"] = None
        yield number, props


def parse(path: Path, text: str, coord_sys: CoordSys, categories: set[str]) -> Parsed:
    """Every row checked; the rows to import and the rejected ones with their reasons."""
    is_json = path.suffix.lower() in (".geojson", ".json")
    records = _geojson_records(text) if is_json else _csv_records(text)
    parsed = Parsed()
    seen: set[str] = set()
    for line, raw in records:
        outcome = _check(line, raw, coord_sys, categories, seen)
        if isinstance(outcome, Rejected):
            parsed.rejected.append(outcome)
        else:
            parsed.rows.append(outcome)
    return parsed


async def import_facilities(
    conn: asyncpg.Connection,
    path: Path,
    *,
    source: str,
    coord_sys: CoordSys,
    strict: bool,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Validate the whole file, then upsert all valid rows (or none, when ``strict``)."""
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FileError("the file is not UTF-8 text") from None
    categories = set(await repository.category_codes(conn))
    parsed = parse(path, text, coord_sys, categories)
    read = len(parsed.rows) + len(parsed.rejected)
    if strict and parsed.rejected:
        return ImportSummary(read, 0, 0, 0, parsed.rejected, committed=False)
    inserted = updated = 0
    async with conn.transaction():
        for start in range(0, len(parsed.rows), BATCH):
            batch = parsed.rows[start : start + BATCH]
            ins, upd = await repository.upsert_facilities(
                conn,
                source,
                [(r.external_id, r.name, r.category, r.lat, r.lng, r.address) for r in batch],
            )
            inserted, updated = inserted + ins, updated + upd
            if progress:
                progress(start + len(batch), len(parsed.rows))
        if inserted or updated:
            await repository.bump_data_version(conn)
    unchanged = len(parsed.rows) - inserted - updated
    return ImportSummary(read, inserted, updated, unchanged, parsed.rejected, committed=True)
