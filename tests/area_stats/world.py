"""Random decision-support data for a district with two streets: suggestions with replies,
meetings with check-ins and frozen results, review tallies, projects, needs surveys and the
registered residents of each community. The builders keep what they made, so tests compute
the expected figures from it independently of the SQL."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.areas.service import create_area
from src.core.ids import new_id
from src.models.area import Area, AreaLevel
from src.models.event import Event, EventCheckIn, EventKind, EventStatus
from src.models.project import Project, ProjectStatus
from src.models.proposal import Proposal, ProposalReply, ProposalStatus
from src.models.rating import RatingTally
from src.models.survey import Channel, Survey, SurveyResponse, SurveyStatus
from src.models.user import Role, User
from tests.builders import TestUser, make_user, unique_code

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 7, 1, tzinfo=SHANGHAI)
DAYS = 120


@dataclass
class P:
    id: uuid.UUID
    community_id: uuid.UUID
    street_id: uuid.UUID
    category: str
    status: str
    supports: int
    created_at: dt.datetime
    first_reply: dt.datetime | None
    lat: float | None = None
    lng: float | None = None


@dataclass
class M:
    id: uuid.UUID
    community_id: uuid.UUID
    street_id: uuid.UUID
    kind: str
    status: str
    starts_at: dt.datetime
    check_ins: int
    participants: int
    eligible: int
    overall: dict[int, int] = field(default_factory=dict)  # score → n (review)


@dataclass
class S:
    id: uuid.UUID
    community_id: uuid.UUID | None  # None: a survey of the whole street
    street_id: uuid.UUID
    status: str
    opens_at: dt.datetime
    online: int
    paper: int


@dataclass
class J:
    id: uuid.UUID
    community_id: uuid.UUID
    street_id: uuid.UUID
    status: str
    year: int
    planned_end: dt.date | None


@dataclass
class World:
    district: Area
    streets: list[Area]
    communities: dict[uuid.UUID, list[Area]]  # street id → its communities
    proposals: list[P]
    meetings: list[M]
    projects: list[J]
    staff: dict[str, TestUser]
    surveys: list[S] = field(default_factory=list)
    residents: dict[uuid.UUID, int] = field(default_factory=dict)  # community → registered


async def build_world(db: async_sessionmaker[AsyncSession], seed: int) -> World:
    rng = random.Random(seed)
    async with db() as session, session.begin():
        categories = list(
            (await session.execute(text("SELECT code FROM proposal_categories ORDER BY code")))
            .scalars()
            .all()
        )[:6]
        district = await create_area(
            session,
            code=unique_code("D"),
            name="统计区",
            level=AreaLevel.district,
            parent=None,
            lat=31.24,
            lng=121.41,
        )
        streets: list[Area] = []
        communities: dict[uuid.UUID, list[Area]] = {}
        for s in range(2):
            street = await create_area(
                session,
                code=unique_code("S"),
                name=f"统计街道{s}",
                level=AreaLevel.street,
                parent=district,
                lat=31.24 + s / 100,
                lng=121.41,
            )
            streets.append(street)
            communities[street.id] = [
                await create_area(
                    session,
                    code=unique_code("C"),
                    name=f"统计{s}-{c}村",
                    level=AreaLevel.community,
                    parent=street,
                    lat=31.241 + c / 1000,
                    lng=121.412 + s / 100,
                )
                for c in range(3)
            ]
    home = communities[streets[0].id][0]
    author = await make_user(db, community=home)
    attendees = [await make_user(db, community=home) for _ in range(4)]
    staff = {
        "district_admin": await make_user(db, role=Role.admin, area=district),
        "street0": await make_user(db, role=Role.street, area=streets[0]),
        "committee00": await make_user(db, role=Role.committee, area=home),
        "resident00": await make_user(db, community=home),
    }
    all_communities = [c for cs in communities.values() for c in cs]
    # Registered residents (a survey's response-rate denominator): the author, the attendees
    # and resident00 at home, and some more everywhere; disabled accounts do not count. One
    # community is left empty (its rates are null).
    # (Their own random stream: the rest of the world stays what each seed made before.)
    rng_homes = random.Random(f"{seed}:residents")
    residents = {c.id: 0 for c in all_communities}
    residents[home.id] = 6
    async with db() as session, session.begin():
        for community in all_communities[1:-1]:
            n = rng_homes.randint(1, 9)
            residents[community.id] += n
            for i in range(n + rng_homes.randint(0, 2)):
                session.add(
                    User(display_name="居民", home_community_id=community.id, disabled=i >= n)
                )
    proposals: list[P] = []
    meetings: list[M] = []
    projects: list[J] = []
    async with db() as session, session.begin():
        for _ in range(rng.randint(120, 180)):
            community = rng.choice(all_communities)
            created = START + dt.timedelta(minutes=rng.randrange(DAYS * 24 * 60))
            status = rng.choice(list(ProposalStatus))
            located = rng.random() < 0.7
            lat = 31.235 + rng.random() * 0.01 if located else None
            lng = 121.405 + rng.random() * 0.012 if located else None
            p = Proposal(
                lat=lat,
                lng=lng,
                community_id=community.id,
                street_id=community.parent_id,
                author_id=author.id,
                title="建议",
                body="内容",
                category=rng.choice(categories),
                status=status,
                support_count=rng.choice([0, 0, 1, 3, 10]),
                created_at=created,
                merged_into=None,
            )
            if status == ProposalStatus.merged:
                p.status = ProposalStatus.rejected
            session.add(p)
            await session.flush()
            first = None
            for _r in range(rng.choice([0, 0, 1, 1, 2])):
                at = created + dt.timedelta(minutes=rng.randrange(1, 20 * 24 * 60))
                session.add(
                    ProposalReply(
                        proposal_id=p.id,
                        author_id=staff["street0"].id,
                        author_role="street",
                        body="答复",
                        created_at=at,
                    )
                )
                first = at if first is None or at < first else first
            proposals.append(
                P(
                    p.id,
                    community.id,
                    community.parent_id,
                    p.category,
                    p.status.value,
                    p.support_count,
                    created,
                    first,
                    lat,
                    lng,
                )
            )
        for _ in range(rng.randint(15, 25)):
            community = rng.choice(all_communities)
            kind = rng.choice(list(EventKind))
            status = rng.choice(list(EventStatus))
            starts = START + dt.timedelta(hours=rng.randrange(DAYS * 24))
            participants, eligible = rng.randint(0, 30), rng.randint(30, 60)
            final = None
            event_id = new_id()
            if status == EventStatus.closed:
                # The shape src/votes/tally.py freezes at close.
                paper = rng.randint(0, participants)
                final = {
                    "status": "closed",
                    "final": True,
                    "eligible_count": eligible,
                    "voters": participants - paper,
                    "paper_voters": paper,
                    "participants": participants,
                    "turnout": round(participants / eligible, 4),
                    "quorum": None,
                    "quorum_met": True,
                    "total_votes": 0,
                    "options": [],
                    "computed_at": START.isoformat(),
                    "event_id": str(event_id),
                }
            e = Event(
                id=event_id,
                paper_voters=final["paper_voters"] if final else 0,
                kind=kind,
                status=EventStatus.draft,
                community_id=community.id,
                street_id=community.parent_id,
                title="会议",
                starts_at=starts,
                ends_at=starts + dt.timedelta(hours=2),
                created_by=staff["street0"].id,
                final_results=final,
            )
            session.add(e)
            await session.flush()
            checked = rng.randint(0, len(attendees))
            for user in attendees[:checked]:
                session.add(EventCheckIn(event_id=e.id, user_id=user.id))
            m = M(
                e.id,
                community.id,
                community.parent_id,
                kind.value,
                status.value,
                starts,
                checked,
                participants if final else 0,
                eligible if final else 0,
            )
            if kind == EventKind.review:
                for source in ("app", "paper"):
                    for score in range(1, 6):
                        n = rng.choice([0, 1, 2, 5])
                        if not n:
                            continue
                        session.add(
                            RatingTally(
                                event_id=e.id,
                                source=source,
                                criterion="overall",
                                score=score,
                                project_id=None,
                                community_id=community.id,
                                street_id=community.parent_id,
                                n=n,
                            )
                        )
                        m.overall[score] = m.overall.get(score, 0) + n
            meetings.append(m)
        await session.flush()
        # The status last, as the meetings domain moves it (closing runs the rollup trigger).
        for m in meetings:
            await session.execute(
                text("UPDATE events SET status = CAST(:s AS event_status) WHERE id = :id"),
                {"s": m.status, "id": m.id},
            )
        for _ in range(rng.randint(20, 40)):
            community = rng.choice(all_communities)
            status = rng.choice(list(ProjectStatus))
            end = rng.choice([None, dt.date(2026, 1, 10), dt.date(2030, 1, 1)])
            j = Project(
                community_id=community.id,
                street_id=community.parent_id,
                title="项目",
                category=rng.choice(categories),
                year=rng.choice([2025, 2026]),
                status=status,
                planned_end=end,
                created_by=staff["street0"].id,
            )
            session.add(j)
            await session.flush()
            projects.append(J(j.id, community.id, community.parent_id, status.value, j.year, end))
        # Needs surveys of communities and of whole streets, with online and paper responses.
        surveys: list[S] = []
        for _ in range(rng.randint(6, 12)):
            street = rng.choice(streets)
            community = rng.choice([None, *communities[street.id]])
            opens = START + dt.timedelta(days=rng.randrange(DAYS))
            status = rng.choice(["draft", "open", "closed"])
            sv = Survey(
                area_id=(community or street).id,
                street_id=street.id,
                title="调研",
                year=2026,
                opens_at=opens,
                closes_at=opens + dt.timedelta(days=14),
                status=SurveyStatus(status),
                created_by=staff["street0"].id,
            )
            session.add(sv)
            await session.flush()
            online, paper = rng.randint(0, 6), rng.randint(0, 4)
            for i in range(online + paper):
                session.add(
                    SurveyResponse(
                        id=uuid.uuid4(),
                        survey_id=sv.id,
                        channel=Channel.online if i < online else Channel.paper,
                        sheet_no=None if i < online else f"S{i}",
                        entered_by=None if i < online else staff["street0"].id,
                        answers={},
                    )
                )
            if status != "draft":
                surveys.append(
                    S(
                        sv.id,
                        community.id if community else None,
                        street.id,
                        status,
                        opens,
                        online,
                        paper,
                    )
                )
    return World(
        district, streets, communities, proposals, meetings, projects, staff, surveys, residents
    )


# --- the expected figures, computed in Python from what was built ----------------------


def _in(at: dt.datetime, lo: dt.date | None, hi: dt.date | None) -> bool:
    day = at.astimezone(SHANGHAI).date()
    return (lo is None or day >= lo) and (hi is None or day <= hi)


def expected(
    world: World, members: set[uuid.UUID], lo: dt.date | None, hi: dt.date | None
) -> dict[str, Any]:
    """The figures over the communities ``members``."""
    today = dt.datetime.now(SHANGHAI).date()
    ps = [p for p in world.proposals if p.community_id in members and _in(p.created_at, lo, hi)]
    visible = [p for p in ps if p.status != "hidden"]
    answered = [p for p in visible if p.first_reply is not None]
    hours = [(p.first_reply - p.created_at).total_seconds() / 3600 for p in answered]  # type: ignore[operator]
    within = sum(1 for h in hours if h <= 7 * 24)
    ms = [
        m
        for m in world.meetings
        if m.community_id in members and m.status != "cancelled" and _in(m.starts_at, lo, hi)
    ]
    by_kind: dict[str, dict[str, Any]] = {}
    for m in ms:
        k = by_kind.setdefault(
            m.kind, {"count": 0, "closed": 0, "check_ins": 0, "participants": 0, "eligible": 0}
        )
        k["count"] += 1
        k["closed"] += m.status == "closed"
        k["check_ins"] += m.check_ins
        k["participants"] += m.participants
        k["eligible"] += m.eligible
    for k in by_kind.values():
        k["turnout"] = k["participants"] / k["eligible"] if k["eligible"] else None
    overall: Counter[int] = Counter()
    for m in ms:
        if m.kind == "review" and m.status in ("open", "closed"):
            overall.update(m.overall)
    n = sum(overall.values())
    years = (lo.year if lo else 0, hi.year if hi else 9999)
    js = [j for j in world.projects if j.community_id in members and years[0] <= j.year <= years[1]]
    return {
        "proposals": {
            "total": len(ps),
            "by_status": dict(sorted(Counter(p.status for p in ps).items())),
            "by_category": dict(sorted(Counter(p.category for p in ps).items())),
            "supports": sum(p.supports for p in ps),
        },
        "replies": {
            "proposals": len(visible),
            "answered": len(answered),
            "median_hours_to_first_reply": round(statistics.median(hours), 2) if hours else None,
            "within_7_days": within,
            "within_7_days_share": within / len(visible) if visible else None,
        },
        "meetings": {"total": len(ms), "by_kind": dict(sorted(by_kind.items()))},
        "satisfaction": {
            "count": n,
            "mean_overall": sum(s * c for s, c in overall.items()) / n if n else None,
            "satisfaction_rate": sum(c for s, c in overall.items() if s >= 4) / n if n else None,
        },
        "projects": {
            "total": len(js),
            "by_status": dict(sorted(Counter(j.status for j in js).items())),
            "overdue": sum(
                1
                for j in js
                if j.planned_end is not None
                and j.planned_end < today
                and j.status in ("planned", "designing", "building")
            ),
        },
        "surveys": _surveys(world, members, lo, hi),
    }


def _surveys(
    world: World, members: set[uuid.UUID], lo: dt.date | None, hi: dt.date | None
) -> dict[str, Any]:
    """A community's survey counts where its community does; a street-wide one only where
    the whole street does."""

    def counted(sv: S) -> bool:
        if sv.community_id is not None:
            return sv.community_id in members
        return {c.id for c in world.communities[sv.street_id]} <= members

    def asked(sv: S) -> int:
        """The registered residents of the survey's area: its community, or its street."""
        if sv.community_id is not None:
            return world.residents[sv.community_id]
        return sum(world.residents[c.id] for c in world.communities[sv.street_id])

    ss = [sv for sv in world.surveys if counted(sv) and _in(sv.opens_at, lo, hi)]
    online, paper = sum(sv.online for sv in ss), sum(sv.paper for sv in ss)
    residents = sum(asked(sv) for sv in ss)
    return {
        "count": len(ss),
        "closed": sum(1 for sv in ss if sv.status == "closed"),
        "responses": online + paper,
        "online": online,
        "paper": paper,
        "residents": residents,
        "response_rate": round(online / residents, 4) if residents else None,
        "response_rate_with_paper": round((online + paper) / residents, 4) if residents else None,
    }
