from __future__ import annotations

from litestar import get
from litestar.datastructures import State
from litestar.response import Response
from sqlalchemy import text


@get("/health", tags=["system"], summary="Process alive", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", tags=["system"], summary="Database and Redis answer")
async def ready(state: State) -> Response[dict[str, str]]:
    checks: dict[str, str] = {}
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "down"
    if state.settings.redis_url:
        checks["redis"] = "ok" if await state.store.ping() else "down"
    healthy = all(v == "ok" for v in checks.values())
    return Response(
        {"status": "ok" if healthy else "unavailable", **checks},
        status_code=200 if healthy else 503,
    )
