"""Cached decision-support figures (src/area_stats/cache.py): one body per request shape."""

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
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_at: Mapped[dt.datetime]
