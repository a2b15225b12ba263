"""Demo projects with dated progress, one of them overdue (called from ``src.demo``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.area import Area
from src.models.project import Project, ProjectProgress, ProjectStatus
from src.models.user import Role, RoleGrant, User

SHANGHAI = ZoneInfo("Asia/Shanghai")

# (community code, title, category, status, days from today to the planned end,
#  [(days ago, percent, text)])
DEMO = [
    (
        "310107012004",
        "桂巷小区非机动车棚改造",
        "parking",
        ProjectStatus.building,
        -20,  # planned to be finished three weeks ago: overdue
        [
            (150, 20, "完成车棚拆除和场地平整。"),
            (90, 45, "钢结构雨棚完成吊装，充电桩管线预埋。"),
            (30, 70, "充电桩设备到货安装中，因供电扩容审批延误，预计推迟一个月完工。"),
        ],
    ),
    (
        "310107012002",
        "曹杨二村长者食堂",
        "elderly_care",
        ProjectStatus.building,
        90,
        [
            (60, 30, "厨房和餐厅装修开工，消防方案已报审。"),
            (14, 55, "厨房设备进场，居民试吃意见征集中。"),
        ],
    ),
]


async def _staff(session: AsyncSession, role: Role, area_id: object) -> User | None:
    return (
        await session.scalars(
            select(User)
            .join(RoleGrant, RoleGrant.user_id == User.id)
            .where(RoleGrant.role == role, RoleGrant.area_id == area_id)
        )
    ).first()


async def seed_projects_demo(session: AsyncSession, areas: dict[str, Area]) -> None:
    now = dt.datetime.now(SHANGHAI)
    today = now.date()
    for code, title, category, status, end_in, updates in DEMO:
        community = areas[code]
        assert community.parent_id is not None
        committee = await _staff(session, Role.committee, community.id)
        if committee is None:
            continue
        start = today - dt.timedelta(days=200)
        project = Project(
            community_id=community.id,
            street_id=community.parent_id,
            title=title,
            description=title,
            category=category,
            year=today.year,
            status=status,
            budget_source="区级财政",
            responsible_unit="街道社区管理办",
            planned_start=start,
            planned_end=today + dt.timedelta(days=end_in),
            actual_start=start + dt.timedelta(days=45),
            progress_percent=updates[-1][1],
            created_by=committee.id,
            created_at=now - dt.timedelta(days=200),
            updated_at=now - dt.timedelta(days=updates[-1][0]),
        )
        session.add(project)
        await session.flush()
        for seq, (days_ago, percent, text) in enumerate(updates, start=1):
            session.add(
                ProjectProgress(
                    project_id=project.id,
                    seq=seq,
                    text=text,
                    percent=percent,
                    author_id=committee.id,
                    author_role=Role.committee.value,
                    created_at=now - dt.timedelta(days=days_ago),
                )
            )
    # The suggestions demo's finished projects: done at 100 %, with the final update.
    finished = (
        await session.scalars(
            select(Project).where(
                Project.status == ProjectStatus.done,
                Project.community_id.in_([a.id for a in areas.values()]),
            )
        )
    ).all()
    for project in finished:
        project.progress_percent = 100
        project.actual_start = project.actual_start or project.planned_start
        project.actual_end = project.actual_end or today - dt.timedelta(days=7)
        session.add(
            ProjectProgress(
                project_id=project.id,
                seq=1,
                text="工程竣工验收通过，交付使用。",
                percent=100,
                author_id=project.created_by,
                author_role=Role.committee.value,
                created_at=now - dt.timedelta(days=7),
            )
        )
    await session.flush()
