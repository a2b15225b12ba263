"""What ``lifecircle run`` starts in dev, tried as the README tells a newcomer to: the fake city
portal with the README's sign-on tickets, the outbox delivered to it by the delivery worker,
the webhook sent through the fake, and the city-wide admin who may read the outbox. All over
real HTTP: the API and the fakes on loopback, started by ``src.cli.start``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.app import create_app
from src.cli import Started, start
from src.config import Settings
from src.core.servers import BackgroundServer, free_port

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _readme_phone(who: str) -> str:
    match = re.search(r"^\| (\d{11}) \| " + re.escape(who), README, re.MULTILINE)
    assert match, f"README's demo users table has no {who!r}"
    return match.group(1)


def _readme_ticket(name: str) -> str:
    match = re.search(r"^\| `(T-[A-Za-z0-9-]+)` \| " + re.escape(name), README, re.MULTILINE)
    assert match, f"README lists no ticket for {name}"
    return match.group(1)


class Demo:
    def __init__(self, started: Started, api: BackgroundServer, http: httpx.AsyncClient) -> None:
        self.started = started
        self.api = api
        self.http = http
        assert started.services.portal_server is not None
        self.portal = started.services.portal_server.url

    async def sign_in(self, phone: str) -> dict[str, str]:
        reply = await self.http.post("/api/v1/auth/dev-login", json={"phone": phone})
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    async def until(self, probe: Any, what: str) -> Any:
        """Ask ``probe`` again (at most 300 times, 0.1 s apart) until it answers."""
        for _ in range(300):
            if found := await probe():
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def demo(settings: Settings) -> AsyncIterator[Demo]:
    # The test settings with the outside services left at their defaults, as in `make run`.
    defaults = Settings.model_fields
    as_run = settings.model_copy(
        update={
            name: defaults[name].default
            for name in ("wechat_api_base", "portal_api_base", "portal_app_id", "portal_app_secret")
        }
        | {"port": free_port()}
    )
    # `start` migrates and seeds with asyncio.run: in its own thread, off the tests' loop.
    started = await asyncio.to_thread(start, as_run)
    api = BackgroundServer(
        create_app(started.settings), port=started.settings.port, lifespan="on"
    ).start()
    try:
        async with httpx.AsyncClient(base_url=api.url, trust_env=False, timeout=30) as http:
            yield Demo(started, api, http)
    finally:
        await asyncio.to_thread(api.stop)
        await asyncio.to_thread(started.stop)


async def test_run_points_the_api_at_its_fakes(demo: Demo) -> None:
    services = demo.started.services
    assert services.fake_wechat is not None and services.delivery is not None
    assert demo.started.settings.portal_api_base == demo.portal
    assert demo.started.settings.wechat_api_base == services.fake_wechat.url
    assert (await demo.http.get(f"{demo.portal}/_fake/stats")).status_code == 200


async def test_a_readme_ticket_signs_on_once_and_a_forged_one_gets_401(demo: Demo) -> None:
    ticket = _readme_ticket("王建国")

    signed = await demo.http.post("/api/v1/auth/portal", json={"ticket": ticket})
    again = await demo.http.post("/api/v1/auth/portal", json={"ticket": ticket})
    forged = await demo.http.post("/api/v1/auth/portal", json={"ticket": "T-forged-ticket-123"})

    assert signed.status_code == 200, signed.text
    assert signed.json()["access_token"] and signed.json()["refresh_token"]
    me = await demo.http.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {signed.json()['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["display_name"] == "王**" and me.json()["verified"] is True
    for refused in (again, forged):
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "invalid_portal_ticket"


async def test_a_new_suggestion_reaches_the_fake_portal_and_its_webhook_answers(
    demo: Demo,
) -> None:
    resident = await demo.sign_in("13820101000")  # README: a verified resident of 曹杨一村
    submitted = await demo.http.post(
        "/api/v1/proposals",
        json={
            "title": "楼道里装感应灯",
            "body": "晚上楼道太暗，希望装感应灯。",
            "category": "safety",
        },
        headers=resident,
    )
    assert submitted.status_code == 201, submitted.text
    proposal_id = submitted.json()["id"]

    async def arrived() -> dict[str, Any] | None:
        events = (await demo.http.get(f"{demo.portal}/_fake/events")).json()["events"]
        return next(
            (
                e
                for e in events
                if e["topic"] == "proposal.created" and e["payload"]["id"] == proposal_id
            ),
            None,
        )

    event = await demo.until(arrived, "the new suggestion at the fake portal")
    assert event["payload"]["title"] == "楼道里装感应灯"

    # The city-wide admin of the README sees it delivered in the outbox; a district admin may not.
    city_admin = await demo.sign_in(_readme_phone("city-wide admin"))
    outbox = f"/api/v1/integrations/portal/outbox?ordering_key=proposal:{proposal_id}"

    async def delivered() -> list[dict[str, Any]] | None:
        page = await demo.http.get(outbox, headers=city_admin)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        return items if items and items[0]["status"] == "delivered" else None

    items = await demo.until(delivered, "the outbox item marked delivered")
    assert [i["topic"] for i in items] == ["proposal.created"]
    metrics = await demo.http.get("/api/v1/integrations/portal/metrics", headers=city_admin)
    assert metrics.status_code == 200 and metrics.json()["delivered"] >= 1
    district_admin = await demo.sign_in(_readme_phone("admin of 普陀区"))
    refused = await demo.http.get(outbox, headers=district_admin)
    assert refused.status_code == 403 and refused.json()["code"] == "city_admin_required"

    # The portal answers through the webhook, signed by the fake as the README shows.
    hook = await demo.http.post(
        f"{demo.portal}/_fake/webhooks",
        json={
            "type": "proposal.status_changed",
            "data": {"proposal_id": proposal_id, "status": "RECEIVED"},
        },
    )
    assert hook.status_code == 200, hook.text
    assert hook.json()["status"] == 200
    assert hook.json()["reply"]["outcome"] == "applied"
    detail = await demo.http.get(f"/api/v1/proposals/{proposal_id}", headers=resident)
    assert detail.json()["status"] == "under_review"
    assert detail.json()["history"][-1]["to_status"] == "under_review"
