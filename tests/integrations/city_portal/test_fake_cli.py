"""``lifecircle fake-portal`` serves the contract on loopback, as the demo runs it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

from src.config import Settings
from src.core.servers import free_port
from src.integrations.city_portal.client import PortalClient

ROOT = Path(__file__).resolve().parents[3]


async def test_the_fake_portal_command_issues_tickets_the_adapter_can_exchange() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src.cli",
        "fake-portal",
        "--port",
        str(port),
        cwd=ROOT,
        env={**os.environ, "LIFECIRCLE_ENV": "test"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    client = PortalClient.from_settings(Settings(portal_api_base=f"http://127.0.0.1:{port}"))
    try:
        assert process.stdout is not None
        lines = [await process.stdout.readline() for _ in range(3)]
        printed = next(line.decode() for line in lines if b"T-" in line)
        ticket = printed.rsplit(": ", 1)[1].strip()
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                try:
                    await http.get(f"http://127.0.0.1:{port}/_fake/stats")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)

        identity = await client.exchange_ticket(ticket)

        assert identity.portal_user_id == "portal-demo-1"
        assert identity.community_code == "310107012001"
        assert identity.verified is True
    finally:
        await client.aclose()
        process.terminate()
        await process.wait()
