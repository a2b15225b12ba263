"""Cached decision-support figures (src/area_stats/cache.py): one reply per request shape,
kept as a JSON string holding the encoded reply (so a hit sends it byte for byte)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base


class DecisionCache(Base):
    __tablename__ = "decision_cache"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body: Mapped[Any] = mapped_column(JSONB)  # a JSON string: the encoded reply
    computed_at: Mapped[dt.datetime]
