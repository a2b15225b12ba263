"""Demo: an open coordination meeting in 曹杨一村 with three design options (called from
``src.demo``), so the big screen and the ballot can be tried at once. The meeting has an
electorate (residents who may vote, most of them not on the app) and a display link for the
projector whose secret is the fixed :data:`DISPLAY_SECRET` (demo data loads only in dev and
test, so this secret opens nothing elsewhere); ``lifecircle run`` prints its URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.events.schemas import Eligibility, ResultsVisibility, VotingRules
from src.models.area import Area
from src.models.event import Event, EventDisplayLink, EventKind, EventOption, EventStatus
from src.models.project import Project, ProjectStatus
from src.models.user import Role, RoleGrant
from src.votes.display import hash_token

COMMUNITY = "310107012001"  # 曹杨一村居委会
TITLE = "曹杨一村中心绿地改造方案协调会"
ELECTORATE = 320  # households' voters of the estate, on the app or not
DISPLAY_SECRET = "demo-big-screen-caoyang-yicun-0001"
OPTIONS = [
    (
        "方案一：保留香樟树，沿树池增设座椅",
        "保留现有三棵香樟树，树池边加一圈木座椅，老人可以坐着聊天。",
    ),
    ("方案二：儿童游乐区与休息区分开", "东侧做软质铺地的儿童游乐区，西侧做带遮阳的休息区。"),
    ("方案三：环形健身步道", "沿绿地边缘铺一条 200 米环形步道，配夜间照明。"),
]


async def seed_votes_demo(session: AsyncSession, areas: dict[str, Area]) -> None:
    community = areas[COMMUNITY]
    committee = await session.scalar(
        select(RoleGrant.user_id).where(
            RoleGrant.area_id == community.id, RoleGrant.role == Role.committee
        )
    )
    if committee is None:
        return
    project = await session.scalar(
        select(Project.id).where(
            Project.community_id == community.id, Project.status == ProjectStatus.designing
        )
    )
    now = dt.datetime.now(dt.UTC)
    rules = VotingRules(
        method="single",
        max_choices=1,
        eligibility=Eligibility.community_residents,
        results_visibility=ResultsVisibility.live,
        electorate=ELECTORATE,
    )
    event = Event(
        kind=EventKind.coordination,
        status=EventStatus.open,
        community_id=community.id,
        street_id=community.parent_id,
        project_id=project,
        title=TITLE,
        description="请居民在三个设计方案中选择一个。现场无法用手机投票的居民可举手或填写纸质选票。",
        venue="曹杨一村居委会二楼活动室",
        starts_at=now - dt.timedelta(minutes=30),
        ends_at=now + dt.timedelta(days=7),
        voting=rules.model_dump(mode="json"),
        created_by=committee,
        opened_at=now,
    )
    session.add(event)
    await session.flush()
    for position, (title, description) in enumerate(OPTIONS):
        session.add(
            EventOption(event_id=event.id, position=position, title=title, description=description)
        )
    session.add(
        EventDisplayLink(
            event_id=event.id, token_hash=hash_token(DISPLAY_SECRET), created_by=committee
        )
    )
    await session.flush()


async def display_url(session: AsyncSession, base_url: str) -> str | None:
    """The demo meeting's big screen, opened by its display link."""
    event_id = await session.scalar(select(Event.id).where(Event.title == TITLE))
    if event_id is None:
        return None
    return f"{base_url}/events/{event_id}/live#display={DISPLAY_SECRET}"
