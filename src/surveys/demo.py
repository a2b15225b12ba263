"""Demo: the 2026 needs survey of 曹杨新村街道, closed, with a few hundred online and paper
questionnaires, and an open survey residents can answer now (called from ``src.demo``)."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection
from src.models.area import Area
from src.models.survey import Channel, SurveyStatus
from src.models.user import Role, RoleGrant, User
from src.surveys import repository
from src.surveys.rules import answer_items, merge, tally_items

STREET = "310107012"  # 曹杨新村街道
COMMUNITIES = ("310107012001", "310107012002", "310107012003", "310107012004")
RESPONDENTS = 240  # demo residents who answered online (no phone: not for dev-login)
PAPER = 160

NEED = [
    ("elder", "为老服务（日间照料、助餐）"),
    ("kids", "托育和儿童活动"),
    ("sport", "健身场地"),
    ("culture", "文化活动室"),
    ("market", "菜场和便民商业"),
]
IMPROVE = [
    ("lift", "加装电梯"),
    ("parking", "停车"),
    ("green", "绿化和口袋公园"),
    ("light", "夜间照明"),
    ("access", "无障碍通道"),
    ("waste", "垃圾分类点"),
]
PRIORITY = [
    ("pocket_park", "口袋公园"),
    ("canteen", "长者食堂"),
    ("playground", "儿童游乐场"),
    ("library", "社区书房"),
]
IDEAS = [
    "楼道灯经常坏，晚上回家不方便",
    "希望长者食堂能送餐上门",
    "小区停车位太少，消防通道常被占",
    "菜场离得远，老人买菜不方便",
    "希望绿地里多放几张座椅",
    "加装电梯的审批能不能快一点",
    "孩子放学后没有地方活动",
]


def _questions() -> list[dict[str, Any]]:
    def options(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"key": k, "label": v} for k, v in pairs]

    return [
        {
            "key": "need",
            "kind": "single",
            "title": "您最希望社区增加哪类服务设施？",
            "required": True,
            "options": options(NEED),
        },
        {
            "key": "improve",
            "kind": "multiple",
            "title": "居住环境中最需要改善的是（最多 3 项）",
            "required": False,
            "options": options(IMPROVE),
            "max_choices": 3,
        },
        {
            "key": "satisfied",
            "kind": "scale",
            "title": "您对目前社区生活圈的满意度",
            "required": True,
            "scale_min": 1,
            "scale_max": 5,
            "scale_labels": {"1": "很不满意", "3": "一般", "5": "很满意"},
        },
        {
            "key": "priority",
            "kind": "ranking",
            "title": "请给以下项目按迫切程度排序",
            "required": False,
            "options": options(PRIORITY),
        },
        {"key": "idea", "kind": "text", "title": "其他意见和建议", "required": False},
        {"key": "where", "kind": "location", "title": "您觉得最需要改造的地点", "required": False},
    ]


def _rows(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "min_choices": None,
            "max_choices": None,
            "scale_min": None,
            "scale_max": None,
            "scale_labels": None,
            "options": None,
            **q,
        }
        for q in questions
    ]


def _answers(rng: random.Random, centre: tuple[float, float]) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "need": rng.choices([k for k, _ in NEED], weights=[34, 18, 16, 12, 20])[0],
        "satisfied": rng.choices([1, 2, 3, 4, 5], weights=[5, 12, 30, 35, 18])[0],
    }
    if rng.random() < 0.85:
        answers["improve"] = rng.sample([k for k, _ in IMPROVE], rng.randint(1, 3))
    if rng.random() < 0.7:
        answers["priority"] = rng.sample([k for k, _ in PRIORITY], rng.randint(2, 4))
    if rng.random() < 0.3:
        answers["idea"] = rng.choice(IDEAS)
    if rng.random() < 0.2:  # WGS-84 near the community's centre
        answers["where"] = {
            "lat": round(centre[0] + rng.uniform(-0.003, 0.003), 6),
            "lng": round(centre[1] + rng.uniform(-0.003, 0.003), 6),
        }
    return answers


async def seed_surveys_demo(session: AsyncSession, areas: dict[str, Area]) -> None:
    street = areas.get(STREET)
    if street is None:
        return
    staff = await session.scalar(
        select(RoleGrant.user_id).where(
            RoleGrant.area_id == street.id, RoleGrant.role == Role.street
        )
    )
    if staff is None:
        return
    rng = random.Random(2026)
    communities = [areas[c] for c in COMMUNITIES]
    people = [
        User(
            display_name=f"曹杨居民{i + 1:03d}",
            verified=True,
            home_community_id=communities[i % len(communities)].id,
        )
        for i in range(RESPONDENTS)
    ]
    session.add_all(people)
    await session.flush()
    conn = await driver_connection(session)
    questions = _rows(_questions())
    closed_id = uuid.uuid4()
    await repository.insert_survey(
        conn,
        survey_id=closed_id,
        area_id=street.id,
        street_id=street.id,
        title="2026年曹杨新村街道“问需求计”居民需求调查",
        description="了解居民对社区生活圈服务设施的需求，结果用于编制需求清单和2027年项目清单。",
        year=2026,
        opens_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        closes_at=dt.datetime(2026, 6, 30, tzinfo=dt.UTC),
        anonymous=False,
        created_by=staff,
    )
    await repository.replace_questions(conn, closed_id, questions)
    await repository.set_status(conn, closed_id, SurveyStatus.open)
    survey = await repository.load(conn, closed_id)
    assert survey is not None
    online: list[tuple[int, list[tuple[str, str, int, int]]]] = []
    items: list[tuple[uuid.UUID | None, str, str | None, float | None, float | None]] = []
    paper_items: list[tuple[uuid.UUID | None, str, str | None, float | None, float | None]] = []
    for person in people:
        home = next(c for c in communities if c.id == person.home_community_id)
        answers = _answers(rng, (home.centroid_lat, home.centroid_lng))
        response_id = uuid.uuid4()
        items += [(response_id, *item) for item in answer_items(survey.questions, answers)]
        await repository.insert_named(
            conn,
            response_id=response_id,
            survey_id=closed_id,
            user_id=person.id,
            community_id=home.id,
            answers=answers,
        )
        online.append((1, tally_items(survey.questions, answers)))
    paper_rows = []
    paper: list[tuple[int, list[tuple[str, str, int, int]]]] = []
    for i in range(PAPER):
        home = communities[i % len(communities)]
        answers = _answers(rng, (home.centroid_lat, home.centroid_lng))
        paper_id = uuid.uuid4()
        paper_items += [(paper_id, *item) for item in answer_items(survey.questions, answers)]
        paper_rows.append(
            (
                paper_id,
                closed_id,
                home.id,
                f"CY2026-{i + 1:04d}",
                staff,
                json.dumps(answers, ensure_ascii=False),
            )
        )
        paper.append((1, tally_items(survey.questions, answers)))
    await repository.insert_paper(conn, paper_rows)
    await repository.add_tallies(conn, closed_id, Channel.online, merge(*online))
    await repository.add_tallies(conn, closed_id, Channel.paper, merge(*paper))
    await repository.add_items(conn, closed_id, Channel.online, items)
    await repository.add_items(conn, closed_id, Channel.paper, paper_items)
    await repository.set_status(conn, closed_id, SurveyStatus.closed)

    now = dt.datetime.now(dt.UTC)
    open_id = uuid.uuid4()
    await repository.insert_survey(
        conn,
        survey_id=open_id,
        area_id=street.id,
        street_id=street.id,
        title="曹杨新村街道社区食堂选址意见征询",
        description="街道计划新增一处社区食堂，请告诉我们您的需求和希望的位置。",
        year=2026,
        opens_at=now - dt.timedelta(days=1),
        closes_at=now + dt.timedelta(days=30),
        anonymous=False,
        created_by=staff,
    )
    await repository.replace_questions(
        conn,
        open_id,
        _rows(
            [
                {
                    "key": "use",
                    "kind": "single",
                    "title": "您会去社区食堂吃饭吗？",
                    "required": True,
                    "options": [
                        {"key": "daily", "label": "每天"},
                        {"key": "weekly", "label": "每周几次"},
                        {"key": "rarely", "label": "偶尔"},
                        {"key": "never", "label": "不会"},
                    ],
                },
                {
                    "key": "price",
                    "kind": "scale",
                    "title": "您能接受的午餐价格（元）",
                    "required": False,
                    "scale_min": 10,
                    "scale_max": 25,
                },
                {
                    "key": "where",
                    "kind": "location",
                    "title": "您希望食堂开在哪里",
                    "required": False,
                },
                {"key": "idea", "kind": "text", "title": "其他建议", "required": False},
            ]
        ),
    )
    await repository.set_status(conn, open_id, SurveyStatus.open)
