"""What ``lifecircle run`` starts in dev, tried as the README tells a newcomer to: the fake city
portal with the README's sign-on tickets, the outbox delivered to it by the delivery worker,
the webhook sent through the fake, the city-wide admin who may read the outbox, WeChat
subscribe messages delivered to the fake WeChat, and the deliberation demo data. All over real
HTTP: the API and the fakes on loopback, started by ``src.cli.start``."""

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

COMMITTEE = "13900002101"  # README: the committee of 曹杨一村
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


@pytest.fixture(scope="module")
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


async def test_the_wechat_linked_demo_resident_gets_a_subscribe_message(demo: Demo) -> None:
    fake_wechat = demo.started.services.fake_wechat
    assert fake_wechat is not None
    openid = re.search(r"`ok-([A-Za-z0-9-]+)`", README)
    assert openid, "README names the WeChat login code of the linked demo resident"
    wechat = await demo.http.post("/api/v1/auth/wechat", json={"code": f"ok-{openid.group(1)}"})
    assert wechat.status_code == 200, wechat.text
    resident = {"Authorization": f"Bearer {wechat.json()['access_token']}"}
    me = await demo.http.get("/api/v1/me", headers=resident)
    by_phone = await demo.http.get("/api/v1/me", headers=await demo.sign_in("13820101000"))
    assert me.json()["id"] == by_phone.json()["id"]  # the same resident both ways

    granted = await demo.http.put(
        "/api/v1/me/subscriptions", json={"templates": ["reply"]}, headers=resident
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["wechat_linked"] is True
    submitted = await demo.http.post(
        "/api/v1/proposals",
        json={
            "title": "垃圾房异味",
            "body": "垃圾房夏天异味很重，希望每天冲洗。",
            "category": "safety",
        },
        headers=resident,
    )
    assert submitted.status_code == 201, submitted.text
    committee = await demo.sign_in(COMMITTEE)
    reply = await demo.http.post(
        f"/api/v1/proposals/{submitted.json()['id']}/replies",
        json={"body": "已安排保洁每天冲洗。"},
        headers=committee,
    )
    assert reply.status_code == 201, reply.text

    async def sent() -> list[dict[str, Any]] | None:
        messages = await demo.http.get(
            f"{fake_wechat.url}/fake/messages", params={"touser": openid.group(1)}
        )
        return messages.json() or None

    messages = await demo.until(sent, "the subscribe message at the fake WeChat")
    assert len(messages) == 1


async def test_the_demo_has_reactions_and_a_report_waiting_for_moderation(demo: Demo) -> None:
    committee = await demo.sign_in(COMMITTEE)
    resident = await demo.sign_in("13820101000")
    listed = await demo.http.get(
        "/api/v1/proposals", params={"sort": "consensus", "limit": 100}, headers=resident
    )
    assert listed.status_code == 200, listed.text
    reacted = [p for p in listed.json()["items"] if p["agree_count"] + p["disagree_count"]]
    assert reacted and reacted[0]["title"] == "非机动车停放太乱"
    community = (await demo.http.get("/api/v1/me", headers=committee)).json()["roles"][0]["area_id"]
    queue = await demo.http.get(
        "/api/v1/moderation/queue", params={"area_id": community}, headers=committee
    )
    assert queue.status_code == 200, queue.text
    assert "健身步道照明" in [i["proposal"]["title"] for i in queue.json()["items"]]
