"""The demo data has an open coordination vote in 曹杨一村 that a demo resident can use."""

from __future__ import annotations

import httpx
from litestar import Litestar

from src.demo import demo_users
from src.votes.demo import DISPLAY_SECRET, ELECTORATE, display_url


async def test_demo_vote_is_open(client: httpx.AsyncClient) -> None:
    phone = next(
        u.phone
        for u in demo_users()
        if u.area_code == "310107012001" and u.role == "resident" and u.verified
    )
    login = await client.post("/api/v1/auth/dev-login", json={"phone": phone})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    listed = await client.get(
        "/api/v1/events", params={"kind": "coordination", "status": "open"}, headers=headers
    )
    events = listed.json()["items"]
    assert [e["title"] for e in events] == ["曹杨一村中心绿地改造方案协调会"]
    event = events[0]
    assert len(event["options"]) == 3 and event["voting"]["results_visibility"] == "live"
    results = await client.get(f"/api/v1/events/{event['id']}/results", headers=headers)
    assert results.status_code == 200 and results.json()["eligible_count"] >= 3


async def test_demo_big_screen_opens_with_its_display_link(
    client: httpx.AsyncClient, app: Litestar
) -> None:
    async with app.state.sessionmaker() as session:
        url = await display_url(session, "http://127.0.0.1:8000")
    assert url is not None and url.endswith(f"#display={DISPLAY_SECRET}")
    path = url.removeprefix("http://127.0.0.1:8000").partition("#")[0]
    page = await client.get(path)
    assert page.status_code == 200
    view = await client.get(
        path.replace("/events/", "/api/v1/events/").removesuffix("/live") + "/display",
        headers={"X-Display-Link": DISPLAY_SECRET},
    )
    assert view.status_code == 200, view.text
    results = view.json()["results"]
    assert results["electorate"] == ELECTORATE and results["turnout"] <= 1.0
    assert view.json()["check_in"]["code"]
