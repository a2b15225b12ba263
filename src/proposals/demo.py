"""Demo suggestions and projects in the demo communities (called from ``src.demo``)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.area import Area
from src.models.project import Project, ProjectStatus
from src.models.proposal import (
    Proposal,
    ProposalReply,
    ProposalStatus,
    ProposalSupport,
    ProposalTransition,
)
from src.models.user import Role, RoleGrant, User

S = ProposalStatus

# (community code, title, body, category, final status, reply, reason)
DEMO = [
    (
        "310107012001",
        "3号楼加装电梯",
        "3号楼六层老公房，住了很多八十多岁的老人，上下楼很困难，希望尽快加装电梯。",
        "accessibility",
        S.adopted,
        "已纳入2025年加装电梯项目，街道正在征询全体业主意见。",
        None,
    ),
    (
        "310107012001",
        "小区里增设长者助餐点",
        "独居老人买菜做饭不方便，希望在活动室附近开一个老年助餐点。",
        "elderly_care",
        S.accepted,
        "已与社区综合为老服务中心对接，选址评估中。",
        None,
    ),
    (
        "310107012001",
        "非机动车停放太乱",
        "楼道口电动车乱停，影响消防通道，建议划定非机动车停放区并增加充电桩。",
        "parking",
        S.under_review,
        "居委会已记录，将在下次征询会上讨论。",
        None,
    ),
    (
        "310107012001",
        "3号楼需要电梯",
        "和之前的建议一样，3号楼老人多，需要电梯。",
        "accessibility",
        S.merged,
        None,
        None,
    ),
    (
        "310107012001",
        "把绿地改成停车场",
        "小区停车位太少，建议把中心绿地改成停车场。",
        "parking",
        S.rejected,
        None,
        "中心绿地是小区唯一的公共活动空间，不宜改为停车场；停车问题另行研究错时停车方案。",
    ),
    (
        "310107012001",
        "健身步道照明",
        "晚上沿河步道太暗，老人散步不安全，希望增加路灯。",
        "safety",
        S.submitted,
        None,
        None,
    ),
    (
        "310107012002",
        "口袋公园增加儿童游乐设施",
        "附近没有适合三到六岁孩子玩的地方，希望在口袋公园里增加儿童游乐设施。",
        "childcare",
        S.done,
        "儿童游乐设施已于国庆前完工开放，欢迎居民使用并提出意见。",
        None,
    ),
    (
        "310107012002",
        "菜市场营业时间延长",
        "上班族下班后菜场已经关门，建议延长到晚上八点。",
        "markets",
        S.submitted,
        None,
        None,
    ),
    (
        "310107013001",
        "社区学校开设智能手机课",
        "很多老人不会用手机挂号、付款，希望社区学校开设智能手机使用课程。",
        "education",
        S.under_review,
        "社区学校已在排课，预计下月开班。",
        None,
    ),
]

PATHS: dict[ProposalStatus, list[ProposalStatus]] = {
    S.submitted: [],
    S.under_review: [S.under_review],
    S.accepted: [S.under_review, S.accepted],
    S.rejected: [S.under_review, S.rejected],
    S.merged: [S.under_review, S.merged],
    S.adopted: [S.under_review, S.accepted, S.adopted],
    S.done: [S.under_review, S.accepted, S.adopted, S.done],
}


async def _residents(session: AsyncSession, community_id: uuid.UUID) -> list[User]:
    rows = await session.scalars(
        select(User).where(User.home_community_id == community_id).order_by(User.phone)
    )
    return list(rows.all())


async def _committee(session: AsyncSession, community_id: uuid.UUID) -> User | None:
    row = await session.scalars(
        select(User)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == Role.committee, RoleGrant.area_id == community_id)
    )
    return row.first()


async def seed_proposals_demo(session: AsyncSession, areas: dict[str, Area]) -> None:
    now = dt.datetime.now(dt.UTC)
    projects: dict[str, Project] = {}
    by_title: dict[str, Proposal] = {}
    for n, (code, title, body, category, final, reply, reason) in enumerate(DEMO):
        community = areas[code]
        assert community.parent_id is not None
        residents = await _residents(session, community.id)
        committee = await _committee(session, community.id)
        if not residents or committee is None:
            continue
        author = residents[n % len(residents)]
        created = now - dt.timedelta(days=40 - n * 3)
        proposal = Proposal(
            community_id=community.id,
            street_id=community.parent_id,
            author_id=author.id,
            anonymous=n % 4 == 3,
            title=title,
            body=body,
            category=category,
            lat=community.centroid_lat + 0.0004 * (n % 3),
            lng=community.centroid_lng - 0.0003 * (n % 2),
            status=S.submitted,
            created_at=created,
            updated_at=created,
        )
        session.add(proposal)
        await session.flush()
        by_title[title] = proposal
        supporters = [r for r in residents if r.id != author.id]
        for supporter in supporters[: 1 + n % len(supporters)] if supporters else []:
            session.add(ProposalSupport(proposal_id=proposal.id, user_id=supporter.id))
            proposal.support_count += 1
        current = S.submitted
        for step, to in enumerate(PATHS[final], start=1):
            if to == S.merged:
                target = by_title["3号楼加装电梯"]
                proposal.merged_into = target.id
            if to == S.adopted:
                project = projects.get(code)
                if project is None:
                    project = Project(
                        community_id=community.id,
                        street_id=community.parent_id,
                        title=f"{community.name[:-3]}{title}",
                        description=body,
                        category=category,
                        year=now.year,
                        status=ProjectStatus.done if final == S.done else ProjectStatus.designing,
                        budget_source="区级财政",
                        responsible_unit="街道社区管理办",
                        planned_start=(now - dt.timedelta(days=120)).date(),
                        planned_end=(now + dt.timedelta(days=120)).date(),
                        created_by=committee.id,
                    )
                    session.add(project)
                    await session.flush()
                    projects[code] = project
                proposal.project_id = project.id
            session.add(
                ProposalTransition(
                    proposal_id=proposal.id,
                    actor_id=committee.id,
                    actor_role=Role.committee.value,
                    from_status=current,
                    to_status=to,
                    reason=reason if to == S.rejected else None,
                    at=created + dt.timedelta(days=step),
                )
            )
            current = to
        proposal.status = final
        if reply:
            session.add(
                ProposalReply(
                    proposal_id=proposal.id,
                    author_id=committee.id,
                    author_role=Role.committee.value,
                    body=reply,
                    created_at=created + dt.timedelta(days=1, hours=2),
                )
            )
    await session.flush()
    # Supports carried over by the merge, as the live merge does.
    for proposal in by_title.values():
        if proposal.merged_into is not None:
            target = by_title["3号楼加装电梯"]
            known = set(
                (
                    await session.scalars(
                        select(ProposalSupport.user_id).where(
                            ProposalSupport.proposal_id == target.id
                        )
                    )
                ).all()
            )
            for user_id in (
                await session.scalars(
                    select(ProposalSupport.user_id).where(
                        ProposalSupport.proposal_id == proposal.id
                    )
                )
            ).all():
                if user_id not in known:
                    session.add(ProposalSupport(proposal_id=target.id, user_id=user_id))
                    target.support_count += 1
    await session.flush()
