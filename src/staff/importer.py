"""``lifecircle staff import FILE.csv``: staff roles in bulk, for setting up a district.

Columns: ``phone, area_code, role`` and optionally ``display_name``. A phone not yet known
becomes a user (then ``display_name`` is required), who signs in later through the portal
or the mini-program with that number. Grants follow the same level rules as the API
(committee → community, street/planner → street, admin → district); a grant already held
is left as is.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from src.areas import repository as areas_repository
from src.core import audit
from src.core.csv_import import Outcome
from src.core.errors import unprocessable
from src.models.user import Role, User
from src.staff import repository
from src.staff.service import check_role_fits, grant_role

REQUIRED = ("phone", "area_code", "role")
OPTIONAL = ("display_name",)


class StaffRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str = Field(pattern=r"^1[3-9]\d{9}$")
    area_code: str = Field(min_length=1, max_length=32)
    role: Role
    display_name: str | None = Field(default=None, min_length=1, max_length=50)


async def import_staff_row(session: AsyncSession, values: dict[str, str]) -> Outcome:
    row = StaffRow.model_validate({k: v for k, v in values.items() if v != ""})
    area = await areas_repository.get_by_code(session, row.area_code)
    if area is None:
        raise unprocessable(
            "unknown_area",
            f"区域编码 {row.area_code} 不存在",
            f"No area has the code {row.area_code}",
        )
    check_role_fits(row.role, area)
    user = await repository.get_user_by_phone(session, row.phone)
    if user is None:
        if row.display_name is None:
            raise unprocessable(
                "display_name_required",
                "新用户需要填写姓名",
                "display_name is required for a phone not yet known",
            )
        user = User(phone=row.phone, display_name=row.display_name)
        session.add(user)
        await session.flush()
        await audit.record(
            session,
            None,
            "user.create",
            "user",
            user.id,
            area_id=area.id,
            details={"source": "cli"},
        )
    result = await grant_role(session, None, user.id, row.role, area, source="cli")
    return Outcome.created if result.created else Outcome.unchanged
