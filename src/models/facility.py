"""Facilities of the life circle, their categories, and the walking network they sit on.

Coordinates are stored in WGS-84 and converted at the API edge. The network is kept as plain
node and edge rows (no PostGIS); every worker builds an in-memory graph from them once per
data version (``facility_data_state``) and answers walking-time queries from memory.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Identity,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id

GROUPS = ("宜居", "宜业", "宜游", "宜学", "宜养")


class FacilityCategory(Base):
    __tablename__ = "facility_categories"
    __table_args__ = (
        CheckConstraint(
            "\"group\" IN ('宜居', '宜业', '宜游', '宜学', '宜养')", name="group_known"
        ),
        CheckConstraint("tier_minutes BETWEEN 1 AND 60", name="tier_range"),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(80))
    group: Mapped[str] = mapped_column(String(8))
    tier_minutes: Mapped[int] = mapped_column(Integer)
    # "key=value" OpenStreetMap tags whose POIs belong to this category.
    osm_tags: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0")


class Facility(Base):
    __tablename__ = "facilities"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_facilities_source_external_id"),
        CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180", name="coords_range"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    # Where the row came from ("osm", a city data file …) and its id there: re-imports update.
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(ForeignKey("facility_categories.code"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class WalkNode(Base):
    __tablename__ = "walk_nodes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(64), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)


class WalkEdge(Base):
    __tablename__ = "walk_edges"
    __table_args__ = (CheckConstraint("length_m >= 0", name="length_non_negative"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    u: Mapped[int] = mapped_column(BigInteger)
    v: Mapped[int] = mapped_column(BigInteger)
    length_m: Mapped[float] = mapped_column(Float)


class FacilityDataState(Base):
    """One row: bumped on every change of facilities or network, so workers reload."""

    __tablename__ = "facility_data_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="1")
    key: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), server_default=func.gen_random_uuid()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())




