"""A quarter of decision-support figures for the demo streets (called from ``src.demo``):
suggestions with places, supports and official replies over the last 90 days in every demo
community, review meetings with ratings (app and paper), and projects of this year."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.area import Area, AreaLevel
from src.models.event import Event, EventKind, EventStatus
from src.models.project import Project, ProjectStatus
from src.models.proposal import Proposal, ProposalReply, ProposalStatus
from src.models.rating import RatingTally
from src.models.user import Role, RoleGrant, User

TITLES = {
    "accessibility": ("楼道加装扶手", "老人上下楼不方便，建议加装扶手和夜间感应灯。"),
    "elderly_care": ("增加助餐点供应时段", "长者食堂中午排队久，希望增加供应时段。"),
    "parking": ("规范非机动车停放", "电动车乱停占用消防通道，建议划线并增加充电桩。"),
    "greening": ("口袋公园增加遮阴", "夏天公园座椅太晒，希望种树或加遮阳棚。"),
}


async def seed_area_stats_demo(session: AsyncSession, areas: dict[str, Area]) -> None:
    rng = random.Random(18)
    now = dt.datetime.now(dt.UTC)
    known = set((await session.execute(text("SELECT code FROM proposal_categories"))).scalars())
    categories = [c for c in TITLES if c in known] or sorted(known)[:3]
    communities = [a for a in areas.values() if a.level == AreaLevel.community]
    residents = {
        c.id: list(
            (await session.execute(select(User.id).where(User.home_community_id == c.id)))
            .scalars()
            .all()
        )
        for c in communities
    }
    staff = {
        grant.area_id: grant.user_id
        for grant in (
            await session.execute(select(RoleGrant).where(RoleGrant.role == Role.street))
        ).scalars()
    }
    for community in communities:
        street_staff = staff.get(community.parent_id)
        authors = residents[community.id]
        if street_staff is None or not authors:
            continue
        for _ in range(rng.randint(8, 14)):
            category = rng.choice(categories)
            title, body = TITLES.get(category, ("社区建议", "希望改善社区环境。"))
            created = now - dt.timedelta(days=rng.uniform(1, 90))
            status = rng.choice(
                [
                    ProposalStatus.submitted,
                    ProposalStatus.under_review,
                    ProposalStatus.accepted,
                    ProposalStatus.rejected,
                    ProposalStatus.adopted,
                    ProposalStatus.done,
                ]
            )
            proposal = Proposal(
                community_id=community.id,
                street_id=community.parent_id,
                author_id=rng.choice(authors),
                title=title,
                body=body,
                category=category,
                status=status,
                support_count=rng.choice([0, 1, 2, 5, 8]),
                created_at=created,
                updated_at=created,
                lat=community.centroid_lat + rng.uniform(-0.004, 0.004),
                lng=community.centroid_lng + rng.uniform(-0.004, 0.004),
            )
            session.add(proposal)
            await session.flush()
            if status != ProposalStatus.submitted:
                session.add(
                    ProposalReply(
                        proposal_id=proposal.id,
                        author_id=street_staff,
                        author_role="street",
                        body="街道已收到，正在研究办理。",
                        created_at=created + dt.timedelta(hours=rng.uniform(2, 14 * 24)),
                    )
                )
        # A finished project with a closed review meeting and its ratings.
        project = Project(
            community_id=community.id,
            street_id=community.parent_id,
            title=f"{community.name[:4]}口袋公园改造",
            category=categories[0],
            year=now.year,
            status=ProjectStatus.done,
            created_by=street_staff,
            progress_percent=100,
            actual_start=(now - dt.timedelta(days=150)).date(),
            actual_end=(now - dt.timedelta(days=95)).date(),
        )
        session.add(project)
        session.add(
            Project(
                community_id=community.id,
                street_id=community.parent_id,
                title=f"{community.name[:4]}非机动车棚",
                category=categories[-1],
                year=now.year,
                status=ProjectStatus.building,
                created_by=street_staff,
                progress_percent=40,
                planned_end=(now + dt.timedelta(days=rng.choice([30, 60]))).date(),
            )
        )
        await session.flush()
        starts = now - dt.timedelta(days=rng.uniform(10, 80))
        event = Event(
            kind=EventKind.review,
            status=EventStatus.open,
            community_id=community.id,
            street_id=community.parent_id,
            project_id=project.id,
            title="竣工评议会",
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=2),
            created_by=street_staff,
        )
        session.add(event)
        await session.flush()
        for source in ("app", "paper"):
            for score in range(1, 6):
                n = rng.choice([0, 1, 2, 4, 6]) if score >= 3 else rng.choice([0, 1])
                if n:
                    session.add(
                        RatingTally(
                            event_id=event.id,
                            source=source,
                            criterion="overall",
                            score=score,
                            project_id=project.id,
                            community_id=community.id,
                            street_id=community.parent_id,
                            n=n,
                        )
                    )
        await session.flush()
        # Closing runs the rollup trigger (satisfaction of the project, community, street).
        event.status = EventStatus.closed
        event.closed_at = starts + dt.timedelta(hours=2)
        await session.flush()
