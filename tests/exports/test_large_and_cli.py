"""Many rows through a real loopback HTTP server (streamed, read as it arrives) and the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from pathlib import Path

import httpx
import openpyxl
import uvicorn
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.servers import free_port
from tests.exports.helpers import copy_proposals, make_world

ROOT = Path(__file__).resolve().parents[2]
ROWS = 10_000


async def test_many_rows_stream_in_pieces_and_all_arrive(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    app: Litestar,
    database_url: str,
    tmp_path: Path,
) -> None:
    w = await make_world(db, client)
    await copy_proposals(database_url, w.a, w.author, ROWS)
    # The app, already started by the ``client`` fixture, served over real HTTP from the
    # tests' own event loop (its engine and Redis client belong to that loop).
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            params = {"street_id": str(w.street.id), "format": "csv"}
            pieces = 0
            target = tmp_path / "export.csv"
            with target.open("wb") as out:
                async with http.stream(
                    "GET", "/api/v1/exports/proposals", params=params, headers=w.h["street_staff"]
                ) as response:
                    assert response.status_code == 200
                    assert response.headers.get("transfer-encoding") == "chunked"
                    export_id = response.headers["x-export-id"]
                    async for chunk in response.aiter_raw():
                        pieces += 1
                        out.write(chunk)
            assert pieces > 5, "the file arrives batch by batch, not in one piece"
            with target.open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.reader(f))
            assert len(rows) == ROWS + 1
            assert rows[1][5] == "第0条，内容\n第二行"
            assert sum(1 for r in rows[1:] if r[8] == "匿名居民") == len(range(0, ROWS, 7))

            params["format"] = "xlsx"
            response = await http.get(
                "/api/v1/exports/proposals", params=params, headers=w.h["street_staff"]
            )
            assert response.status_code == 200
            book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
            count = sum(1 for _ in book.active.iter_rows(min_row=2, values_only=True))
            book.close()
            assert count == ROWS
    finally:
        server.should_exit = True
        await serving
    async with db() as session:
        recorded = (
            await session.execute(
                text("SELECT row_count, status::text FROM exports WHERE id = :id"),
                {"id": export_id},
            )
        ).one()
    assert tuple(recorded) == (ROWS, "completed")


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src.cli",
        "export",
        "proposals",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, stderr.decode()


async def test_cli_writes_the_file_and_records_it(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    w = await make_world(db, client)
    await copy_proposals(database_url, w.b, w.author, 50)
    target = tmp_path / "out.xlsx"
    env = {**os.environ, "LIFECIRCLE_DATABASE_URL": database_url, "LIFECIRCLE_ENV": "test"}
    code, stderr = await _cli(env, "--street", w.street.code, "--format", "xlsx", "-o", str(target))
    assert code == 0, stderr
    assert "✓ 50 rows" in stderr
    book = openpyxl.load_workbook(target)
    assert book.active.max_row == 51
    async with db() as session:
        recorded = (
            await session.execute(
                text(
                    "SELECT row_count, actor_id, filters->>'via' AS via FROM exports"
                    " WHERE area_id = :a ORDER BY created_at DESC LIMIT 1"
                ),
                {"a": w.street.id},
            )
        ).one()
    assert (recorded.row_count, recorded.actor_id, recorded.via) == (50, None, "cli")

    code, stderr = await _cli(env, "--street", "NO-SUCH", "-o", str(tmp_path / "x.csv"))
    assert code == 2 and "no street" in stderr
    assert not (tmp_path / "x.csv").exists()
