"""A consumer nobody here wrote: openapi-python-client generates a client from the served
document with zero warnings, and a resident's and a committee's story runs through it
against the API over real HTTP (a second app instance, as another worker would be)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import importlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.servers import free_port
from src.models.user import Role
from tests.builders import make_tree, make_user
from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent
PACKAGE = "lifecircle_client"
SCORES = {"overall": 5, "design": 4, "construction": 4, "usefulness": 3}


@pytest.fixture(scope="module")
def live_url(settings: Settings, client: httpx.AsyncClient) -> Iterator[str]:
    """The API in a process of its own, as `lifecircle run` hands settings to workers."""
    port = free_port()
    env = {**os.environ}
    for field, value in settings.model_dump().items():
        if value is not None:
            env[f"LIFECIRCLE_{field.upper()}"] = str(value)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "src.app:app_from_env",
            "--factory",
            "--host=127.0.0.1",
            f"--port={port}",
            "--log-level=warning",
            "--no-proxy-headers",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # only against a hang
    while True:
        assert server.poll() is None, "the API did not start"
        assert time.monotonic() < deadline, "the API did not answer"
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=60)


@pytest.fixture(scope="module")
def generated(live_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client generated from the document the live server serves."""
    root = tmp_path_factory.mktemp("generated")
    document = root / "openapi.json"
    document.write_bytes(httpx.get(f"{live_url}/schema/openapi.json").content)
    out = root / PACKAGE
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(out),
            "--meta",
            "none",
            "--config",
            str(HERE / "openapi-python-client.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    said = (run.stdout + run.stderr).strip()
    assert run.returncode == 0, said
    # Zero warnings: the generator says nothing but what it generates.
    assert said == f"Generating {out}", said
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def api(package: ModuleType, module: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{module}")


def model(package: ModuleType, name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


async def test_a_story_through_the_generated_client(
    generated: ModuleType, live_url: str, db: async_sessionmaker[AsyncSession]
) -> None:
    async with contextlib.AsyncExitStack() as clients:
        await _story(generated, live_url, db, clients)


async def _story(
    generated: ModuleType,
    live_url: str,
    db: async_sessionmaker[AsyncSession],
    clients: contextlib.AsyncExitStack,
) -> None:
    tree = await make_tree(db, communities=1)
    community = tree.communities[0]
    resident = await make_user(db, community=community)
    neighbour = await make_user(db, community=community)
    committee = await make_user(db, role=Role.committee, area=community)
    street = await make_user(db, role=Role.street, area=tree.street)

    anonymous = await clients.enter_async_context(generated.Client(base_url=live_url))

    async def sign_in(phone: str) -> Any:
        reply = await api(generated, "identity.dev_login").asyncio_detailed(
            client=anonymous, body=model(generated, "DevLoginIn").from_dict({"phone": phone})
        )
        assert reply.status_code == 200, reply.content
        tokens = reply.parsed
        assert tokens.token_type == "Bearer"
        signed_in = generated.AuthenticatedClient(base_url=live_url, token=tokens.access_token)
        return await clients.enter_async_context(signed_in)

    as_resident = await sign_in(resident.phone)
    as_neighbour = await sign_in(neighbour.phone)
    as_committee = await sign_in(committee.phone)
    as_street = await sign_in(street.phone)

    # A resident submits a suggestion; a neighbour supports it.
    categories = await api(generated, "proposals.proposal_categories").asyncio_detailed(
        client=anonymous
    )
    assert categories.status_code == 200 and categories.parsed
    submitted = await api(generated, "proposals.submit_proposal").asyncio_detailed(
        client=as_resident,
        idempotency_key=str(uuid.uuid4()),
        body=model(generated, "ProposalIn").from_dict(
            {
                "title": "小区门口增加无障碍坡道",
                "body": "老人推轮椅进出很不方便，希望在东门增加坡道。",
                "category": categories.parsed[0].code,
            }
        ),
    )
    assert submitted.status_code == 201, submitted.content
    proposal_id = submitted.parsed.id
    supported = await api(generated, "proposals.support_proposal").asyncio_detailed(
        proposal_id, client=as_neighbour
    )
    assert supported.status_code == 200, supported.content
    shown = await api(generated, "proposals.get_proposal").asyncio_detailed(
        proposal_id, client=as_resident
    )
    assert shown.status_code == 200 and shown.parsed.support_count == 1

    # The committee opens a coordination meeting; the resident votes; paper ballots come in.
    now = dt.datetime.now(dt.UTC)
    event = await api(generated, "events.create_event").asyncio_detailed(
        client=as_committee,
        body=model(generated, "EventIn").from_dict(
            {
                "kind": "coordination",
                "title": "东门坡道方案协调会",
                "community_id": str(community.id),
                "starts_at": (now + dt.timedelta(hours=1)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=3)).isoformat(),
                "venue": "居委会二楼会议室",
                "voting": {"electorate": 20},
            }
        ),
    )
    assert event.status_code == 201, event.content
    event_id = event.parsed.id
    options = []
    for title in ("方案一：缓坡", "方案二：升降平台"):
        added = await api(generated, "events.add_option").asyncio_detailed(
            event_id,
            client=as_committee,
            body=model(generated, "EventsOptionIn").from_dict({"title": title}),
        )
        assert added.status_code == 201, added.content
        options.append(str(added.parsed.id))
    opened = await api(generated, "events.open_event").asyncio_detailed(
        event_id, client=as_committee
    )
    assert opened.status_code == 200, opened.content
    cast = await api(generated, "votes.cast_ballot").asyncio_detailed(
        event_id,
        client=as_resident,
        idempotency_key=str(uuid.uuid4()),
        body=model(generated, "BallotIn").from_dict({"option_ids": [options[0]]}),
    )
    assert cast.status_code == 201, cast.content
    counted = await api(generated, "votes.event_paper_counts").asyncio_detailed(
        event_id,
        client=as_committee,
        body=model(generated, "VotesPaperCountsIn").from_dict(
            {"counts": {options[0]: 4, options[1]: 2}, "note": "现场纸质选票"}
        ),
    )
    assert counted.status_code == 201, counted.content
    assert counted.parsed.paper_voters == 6

    # A review meeting of a project: the resident rates it; paper rating sheets come in.
    project = await api(generated, "projects.create_project").asyncio_detailed(
        client=as_committee,
        body=model(generated, "ProjectIn").from_dict(
            {
                "title": "东门无障碍坡道",
                "community_id": str(community.id),
                "category": "public_space",
            }
        ),
    )
    assert project.status_code == 201, project.content
    review = await api(generated, "events.create_event").asyncio_detailed(
        client=as_committee,
        body=model(generated, "EventIn").from_dict(
            {
                "kind": "review",
                "title": "东门坡道竣工评议会",
                "community_id": str(community.id),
                "project_id": str(project.parsed.id),
                "starts_at": now.isoformat(),
                "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
                "venue": "居委会活动室",
            }
        ),
    )
    assert review.status_code == 201, review.content
    review_id = review.parsed.id
    opened = await api(generated, "events.open_event").asyncio_detailed(
        review_id, client=as_committee
    )
    assert opened.status_code == 200, opened.content
    rated = await api(generated, "ratings.rate").asyncio_detailed(
        review_id,
        client=as_resident,
        body=model(generated, "RatingIn").from_dict({"scores": SCORES, "comment": "坡道很实用"}),
    )
    assert rated.status_code == 201, rated.content
    assert rated.parsed.scores.to_dict() == SCORES
    paper = await api(generated, "ratings.rating_paper_counts").asyncio_detailed(
        review_id,
        client=as_committee,
        body=model(generated, "RatingsPaperCountsIn").from_dict(
            {"counts": {"overall": {"5": 2, "4": 1}}, "note": "纸质评分表 3 份"}
        ),
    )
    assert paper.status_code == 201, paper.content

    # Street staff export the street's suggestions as CSV.
    export = await api(generated, "exports.export_proposals").asyncio_detailed(
        client=as_street,
        street_id=tree.street.id,
        format_=model(generated, "ExportFormat").CSV,
    )
    assert export.status_code == 200, export.content
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert any("小区门口增加无障碍坡道" in row for row in rows[1:]), rows

    # A failure parses as the problem it is.
    again = await api(generated, "votes.cast_ballot").asyncio_detailed(
        event_id,
        client=as_resident,
        body=model(generated, "BallotIn").from_dict({"option_ids": [options[1]]}),
    )
    assert again.status_code == 409, again.content
    assert again.parsed.code == json.loads(again.content)["code"] == "already_voted"
