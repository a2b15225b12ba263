"""Demo needs list (需求清单) of 2026 for 曹杨新村街道, built from the demo suggestions, and the
2027 project list (项目实施清单) drawn from it (called from ``src.demo``).

One need per community and category of the street's suggestions (hidden, merged and
rejected ones left out), plus one street-wide need; the two best-backed community needs and
the street's need are planned and become 2027 projects (a 人民坊 among them), one need is
declined with a reason, the rest stay open.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.area import Area
from src.models.need import EvidenceKind, Need, NeedEvidence, NeedStatus, ProjectNeed
from src.models.project import Project, ProjectKind, ProjectStatus
from src.models.proposal import Proposal, ProposalStatus
from src.models.user import Role, RoleGrant, User

STREET = "310107012"
YEAR = 2026
LEFT_OUT = (ProposalStatus.hidden, ProposalStatus.merged, ProposalStatus.rejected)
TITLES = {
    "accessibility": "老公房加装电梯与无障碍通行",
    "elderly_care": "长者助餐与为老服务",
    "parking": "非机动车停放与充电",
    "public_space": "口袋公园与休憩空间",
}
# What the 2027 list says of the projects drawn from the planned needs, by category.
PLANS = {
    "accessibility": (
        ProjectKind.general,
        "多层住宅加装电梯，楼道扶手和坡道改造",
        "居民自治申请、街道代建、区住建委审批",
        "上海市政工程设计研究院",
    ),
    "elderly_care": (
        ProjectKind.embedded_service,
        "社区长者食堂和助餐点，配套日间照料",
        "街道出资改造、社会组织运营",
        "社区规划师团队",
    ),
}


async def _street_staff(session: AsyncSession, street_id: object) -> User | None:
    return (
        await session.scalars(
            select(User)
            .join(RoleGrant, RoleGrant.user_id == User.id)
            .where(RoleGrant.role == Role.street, RoleGrant.area_id == street_id)
        )
    ).first()


async def seed_needs_demo(session: AsyncSession, areas: dict[str, Area]) -> None:
    street = areas.get(STREET)
    if street is None:
        return
    staff = await _street_staff(session, street.id)
    if staff is None:
        return
    proposals = list(
        await session.scalars(
            select(Proposal)
            .where(Proposal.street_id == street.id, Proposal.status.not_in(LEFT_OUT))
            .order_by(Proposal.created_at, Proposal.id)
        )
    )
    groups: dict[tuple[object, str], list[Proposal]] = {}
    for p in proposals:
        groups.setdefault((p.community_id, p.category), []).append(p)
    now = dt.datetime.now(dt.UTC)
    needs: list[tuple[Need, int]] = []
    for (community_id, category), members in groups.items():
        community = next(a for a in areas.values() if a.id == community_id)
        need = Need(
            year=YEAR,
            community_id=community_id,
            street_id=street.id,
            title=f"{community.name.removesuffix('居委会')}{TITLES.get(category, '居民需求')}",
            description="；".join(p.title for p in members),
            category=category,
            status=NeedStatus.open,
            created_by=staff.id,
        )
        session.add(need)
        await session.flush()
        session.add_all(
            NeedEvidence(
                need_id=need.id, kind=EvidenceKind.proposal, proposal_id=p.id, added_by=staff.id
            )
            for p in members
        )
        needs.append((need, sum(1 + p.support_count for p in members)))
    hub = Need(
        year=YEAR,
        community_id=None,
        street_id=street.id,
        title="街道人民坊：党群服务、长者食堂和托育点一站式",
        description="各居委会征询会上反映的为老、托育和活动空间需求",
        category="elderly_care",
        status=NeedStatus.planned,
        status_reason="街道统筹，纳入2027年度项目实施清单",
        decided_by=staff.id,
        decided_at=now,
        created_by=staff.id,
    )
    session.add(hub)
    await session.flush()
    session.add_all(
        NeedEvidence(
            need_id=hub.id, kind=EvidenceKind.proposal, proposal_id=p.id, added_by=staff.id
        )
        for p in proposals
        if p.category == "elderly_care"
    )
    needs.sort(key=lambda pair: -pair[1])
    chosen = [n for n, _ in needs if n.category in PLANS][:2]
    for need, _ in needs:
        if need in chosen:
            need.status = NeedStatus.planned
            need.status_reason = "居民呼声高，纳入2027年度项目实施清单"
        elif need.category == "parking":
            need.status = NeedStatus.declined
            need.status_reason = "已列入区级非机动车库改造计划，不重复立项"
        else:
            continue
        need.decided_by, need.decided_at = staff.id, now
    await session.flush()
    plans: list[tuple[Need, object, ProjectKind, str, str, str]] = [
        (n, n.community_id, *PLANS[n.category]) for n in chosen
    ]
    first_community = areas[f"{STREET}001"].id
    plans.append(
        (
            hub,
            first_community,
            ProjectKind.renmin_fang,
            "利用曹杨一村闲置商业用房建设人民坊，含党群服务站、长者食堂和托育点",
            "街道统筹、国企代建、社会组织运营",
            "同济大学建筑设计研究院",
        )
    )
    for month, (need, community_id, kind, content, path, team) in enumerate(plans, start=3):
        project = Project(
            community_id=community_id,
            street_id=street.id,
            title=need.title,
            description=need.description,
            category=need.category,
            year=YEAR + 1,
            status=ProjectStatus.planned,
            kind=kind,
            content=content,
            implementation_path=path,
            budget_source="区级财政" if kind != ProjectKind.renmin_fang else "市区两级财政",
            responsible_unit="曹杨新村街道社区管理办",
            design_team=team,
            planned_start=dt.date(YEAR + 1, month, 1),
            planned_end=dt.date(YEAR + 1, month + 6, 30),
            progress_percent=0,
            created_by=staff.id,
        )
        session.add(project)
        await session.flush()
        session.add(ProjectNeed(project_id=project.id, need_id=need.id))
    await session.flush()
