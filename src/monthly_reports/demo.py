"""Demo monthly reports: last month 曹杨新村街道 filed and 长风新村街道 did not."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.area import Area
from src.models.monthly_report import MonthlyReport
from src.models.user import Role, RoleGrant
from src.monthly_reports.service import now_local

FILING_STREET = "310107012"  # 曹杨新村街道; 长风新村街道 (310107013) is the one missing


async def seed_reports_demo(session: AsyncSession, areas: dict[str, Area]) -> None:
    street = areas.get(FILING_STREET)
    if street is None:
        return
    staff = await session.scalar(
        select(RoleGrant.user_id).where(
            RoleGrant.area_id == street.id, RoleGrant.role == Role.street
        )
    )
    if staff is None:
        return
    this_month = now_local().date().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    session.add(
        MonthlyReport(
            street_id=street.id,
            period=last_month,
            progress="完成曹杨一村加装电梯业主意见征询；桂巷口袋公园进入施工。",
            problems="部分加装电梯项目低层住户意见分歧，需街道协调；施工期间非机动车停放受影响。",
            filed_by=staff,
            updated_by=staff,
        )
    )
    await session.flush()
