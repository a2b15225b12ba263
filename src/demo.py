"""Demo data: 普陀区 → 曹杨新村街道 (the 2025 pilot) and 长风新村街道, with users of every role.

Loaded once: a second run finds the district and only adds demo users that a later version
added to the list (the city admin). The phones are listed in the README for ``dev-login``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.area_stats.demo import seed_area_stats_demo
from src.areas.service import create_area
from src.facilities_nearby.demo import seed_facilities_demo
from src.facility_reviews.demo import seed_reviews_demo
from src.models.area import Area, AreaLevel
from src.models.moderation import ItemSource, ReportReason
from src.models.proposal import Proposal, ReactionValue
from src.models.user import Role, RoleGrant, User
from src.moderation import repository as moderation
from src.monthly_reports.demo import seed_reports_demo
from src.needs.demo import seed_needs_demo
from src.projects.demo import seed_projects_demo
from src.proposals import repository as proposals
from src.proposals.demo import seed_proposals_demo
from src.surveys.demo import seed_surveys_demo
from src.votes.demo import seed_votes_demo

DISTRICT = ("310107", "普陀区", 31.2493, 121.3968)
STREETS = {
    "310107012": (
        "曹杨新村街道",
        31.2417,
        121.4098,
        [
            ("310107012001", "曹杨一村居委会", 31.2398, 121.4131),
            ("310107012002", "曹杨二村居委会", 31.2436, 121.4072),
            ("310107012003", "曹杨五村居委会", 31.2452, 121.4011),
            ("310107012004", "桂巷居委会", 31.2375, 121.4065),
        ],
    ),
    "310107013": (
        "长风新村街道",
        31.2255,
        121.3943,
        [
            ("310107013001", "长风一村居委会", 31.2270, 121.3990),
            ("310107013002", "长风二村居委会", 31.2231, 121.3902),
        ],
    ),
}

# The streets' heads for their reference numbers (CY-2026-000001): pinyin initials.
REFERENCE_PREFIXES = {"310107012": "CY", "310107013": "CF"}


@dataclass(frozen=True)
class DemoUser:
    phone: str
    name: str
    role: Role
    area_code: str | None  # staff area (None: city-wide), or the resident's home community
    verified: bool = True
    wechat_openid: str | None = None  # WeChat login code ``ok-<openid>`` signs in as them


# The demo resident linked to WeChat, so subscribe messages can be tried (README).
WECHAT_DEMO = ("13820101000", "o-demo-caoyang-1")


def demo_users() -> list[DemoUser]:
    users = [
        DemoUser("13900000000", "市管理员", Role.admin, None),
        DemoUser("13900000001", "区管理员", Role.admin, DISTRICT[0]),
        DemoUser("13900000011", "曹杨街道工作人员", Role.street, "310107012"),
        DemoUser("13900000012", "长风街道工作人员", Role.street, "310107013"),
        DemoUser("13900000021", "曹杨社区规划师", Role.planner, "310107012"),
    ]
    surnames = "王李张刘陈杨黄赵周吴徐孙"
    n = 0
    for street_code, (_, _, _, communities) in STREETS.items():
        for index, (code, name, _, _) in enumerate(communities, start=1):
            street_no = street_code[-1]
            users.append(
                DemoUser(
                    f"1390000{street_no}1{index:02d}"[:11], f"{name[:-3]}居委", Role.committee, code
                )
            )
            for resident in range(1, 4):
                users.append(
                    DemoUser(
                        f"138{street_no}{index:02d}{resident:02d}0000"[:11],
                        f"{surnames[n % len(surnames)]}居民{resident}",
                        Role.resident,
                        code,
                    )
                )
                n += 1
    users.append(
        DemoUser("13800009999", "未认证居民", Role.resident, "310107012001", verified=False)
    )
    phone, openid = WECHAT_DEMO
    return [replace(u, wechat_openid=openid) if u.phone == phone else u for u in users]


async def seed_demo(session: AsyncSession) -> bool:
    """Load the demo data unless it is there; True when it was loaded now."""
    if await session.scalar(select(Area.id).where(Area.code == DISTRICT[0])):
        codes = {u.area_code for u in demo_users() if u.area_code}
        rows = await session.scalars(select(Area).where(Area.code.in_(codes)))
        await _add_users(session, {a.code: a for a in rows})
        return False
    code, name, lat, lng = DISTRICT
    district = await create_area(
        session, code=code, name=name, level=AreaLevel.district, parent=None, lat=lat, lng=lng
    )
    areas = {district.code: district}
    for street_code, (street_name, s_lat, s_lng, communities) in STREETS.items():
        street = await create_area(
            session,
            code=street_code,
            name=street_name,
            level=AreaLevel.street,
            parent=district,
            lat=s_lat,
            lng=s_lng,
            reference_prefix=REFERENCE_PREFIXES[street_code],
        )
        areas[street.code] = street
        for c_code, c_name, c_lat, c_lng in communities:
            areas[c_code] = await create_area(
                session,
                code=c_code,
                name=c_name,
                level=AreaLevel.community,
                parent=street,
                lat=c_lat,
                lng=c_lng,
            )
    await _add_users(session, areas)
    await seed_proposals_demo(session, areas)
    await seed_projects_demo(session, areas)
    await seed_votes_demo(session, areas)
    await seed_needs_demo(session, areas)
    await seed_surveys_demo(session, areas)
    await seed_facilities_demo(session)
    await seed_area_stats_demo(session, areas)
    await seed_reports_demo(session, areas)
    await seed_reviews_demo(session)
    await _seed_deliberation(session, areas)
    return True


async def _add_users(session: AsyncSession, areas: dict[str, Area]) -> None:
    """The demo users whose phone is not taken yet, with their role grants."""
    specs = demo_users()
    taken = set(
        await session.scalars(select(User.phone).where(User.phone.in_([u.phone for u in specs])))
    )
    for spec in specs:
        if spec.phone in taken:
            continue
        area = areas[spec.area_code] if spec.area_code else None
        home = area.id if spec.role == Role.resident and area else None
        user = User(
            phone=spec.phone,
            display_name=spec.name,
            verified=spec.verified,
            home_community_id=home,
            wechat_openid=spec.wechat_openid,
        )
        session.add(user)
        await session.flush()
        if spec.role != Role.resident:
            session.add(
                RoleGrant(user_id=user.id, role=spec.role, area_id=area.id if area else None)
            )
    await session.flush()


# Reactions of 曹杨一村's residents (in phone order) to its open suggestions, and one report,
# so that sort=consensus|controversial and the moderation queue have something to show.
REACTIONS = {
    "非机动车停放太乱": ("agree", "agree", "agree"),
    "健身步道照明": ("agree", "disagree", "pass"),
    "小区里增设长者助餐点": ("agree", "agree", "pass"),
}
REPORTED = ("健身步道照明", ReportReason.duplicate, "和沿河步道的路灯建议重复")


async def _seed_deliberation(session: AsyncSession, areas: dict[str, Area]) -> None:
    community = areas["310107012001"]
    residents = list(
        await session.scalars(
            select(User)
            .where(User.home_community_id == community.id, User.verified.is_(True))
            .order_by(User.phone)
        )
    )
    rows = await session.scalars(
        select(Proposal).where(
            Proposal.community_id == community.id,
            Proposal.title.in_([*REACTIONS, REPORTED[0]]),
        )
    )
    by_title = {p.title: p for p in rows}
    for title, values in REACTIONS.items():
        if title in by_title:
            for resident, value in zip(residents, values, strict=False):
                await proposals.set_reaction(
                    session, by_title[title].id, resident.id, ReactionValue(value).value
                )
    title, reason, note = REPORTED
    if title in by_title and residents:
        proposal = by_title[title]
        await moderation.add_report(session, proposal.id, residents[-1].id, reason.value, note)
        await moderation.open_item(session, proposal, source=ItemSource.report, reports=1)
