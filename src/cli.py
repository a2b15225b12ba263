"""The ``lifecircle`` command: run, migrate, seed-demo (and later domains' commands)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from src.config import Settings

if TYPE_CHECKING:
    from src.core.servers import DevServices

COMMANDS: dict[
    str,
    tuple[
        str,
        Callable[[argparse.ArgumentParser], None],
        Callable[[argparse.Namespace, Settings], int],
    ],
] = {}


def command(
    name: str, help_text: str, configure: Callable[[argparse.ArgumentParser], None] | None = None
) -> Callable[
    [Callable[[argparse.Namespace, Settings], int]], Callable[[argparse.Namespace, Settings], int]
]:
    """Register a sub-command; later domains add theirs with this decorator."""

    def register(
        func: Callable[[argparse.Namespace, Settings], int],
    ) -> Callable[[argparse.Namespace, Settings], int]:
        COMMANDS[name] = (help_text, configure or (lambda _: None), func)
        return func

    return register


def ensure_database(settings: Settings) -> tuple[Settings, Any]:
    """The settings with a database URL; starts the embedded server when none is configured."""
    if settings.database_url:
        return settings, None
    from src.core.embedded import start_embedded_postgres

    server, url = start_embedded_postgres(settings.data_dir)
    print(f"• embedded PostgreSQL under {settings.data_dir}/pgdata", flush=True)
    return settings.model_copy(update={"database_url": url}), server


def migrate(settings: Settings) -> None:
    from alembic.config import Config

    from alembic import command as alembic_command

    root = Path(__file__).resolve().parent.parent
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    assert settings.database_url
    config.cmd_opts = argparse.Namespace(x=[f"url={settings.database_url}"])
    alembic_command.upgrade(config, "head")


async def _seed(settings: Settings) -> bool:
    from src.core.db import create_engine, make_sessionmaker
    from src.demo import seed_demo

    assert settings.database_url
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            loaded = await seed_demo(session)
            from src.votes.demo import display_url

            screen = await display_url(session, f"http://127.0.0.1:{settings.port}")
            if screen:
                print(f"• demo big screen (display link): {screen}", flush=True)
            return loaded
    finally:
        await engine.dispose()


@command("migrate", "apply database migrations (alembic upgrade head)")
def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    settings, _server = ensure_database(settings)
    migrate(settings)
    print("✓ migrations applied", flush=True)
    return 0


@command("seed-demo", "load the demo areas and users (once)")
def _seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    settings, _server = ensure_database(settings)
    migrate(settings)
    loaded = asyncio.run(_seed(settings))
    print("✓ demo data loaded" if loaded else "• demo data already present", flush=True)
    return 0


def _configure_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    parser.add_argument("--workers", type=int, help="worker processes (LIFECIRCLE_WORKERS)")
    parser.add_argument("--port", type=int, help="port to listen on (LIFECIRCLE_PORT)")


# uvicorn believes X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS) by default: off.
# The app settles the client address itself, from LIFECIRCLE_TRUSTED_PROXIES only
# (src/core/caller.py), so there is one rule and it is the app's.
_NO_PROXY_HEADERS: dict[str, Any] = {"proxy_headers": False, "forwarded_allow_ips": ""}


@dataclass
class Started:
    """What :func:`start` set up: the settings to serve with, and what to stop afterwards."""

    settings: Settings
    services: DevServices
    database: Any = None  # the embedded PostgreSQL server, kept alive while serving

    def stop(self) -> None:
        self.services.stop()


def local_url(settings: Settings) -> str:
    """Where this machine reaches the API (the fakes call it there)."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def start(settings: Settings, *, demo: bool = True) -> Started:
    """Everything ``lifecircle run`` does before it serves, without blocking: the database
    (embedded when none is configured), migrations, the demo data, and in dev the fakes of
    the outside services with a delivery worker (src/core/servers.py). Tests call this."""
    from src.core.servers import start_dev_services

    settings, database = ensure_database(settings)
    migrate(settings)
    print("✓ migrations applied", flush=True)
    if demo and settings.is_dev_like:
        loaded = asyncio.run(_seed(settings))
        print("✓ demo data loaded" if loaded else "• demo data already present", flush=True)
    services = start_dev_services(settings, api_url=local_url(settings))
    for line in services.describe():
        print(line if line.startswith(" ") else f"• {line}", flush=True)
    return Started(services.settings, services, database)


def serve(settings: Settings) -> None:
    """Serve the API in the foreground until interrupted."""
    import uvicorn

    workers = settings.workers if settings.redis_url else 1
    print(f"✓ serving on http://{settings.host}:{settings.port}  (docs: /schema)", flush=True)
    if workers > 1:
        from src.core.metrics import prepare_multiprocess_dir

        prepare_multiprocess_dir(settings.data_dir)
        # Workers rebuild the app from the environment: hand them the resolved settings.
        for field, value in settings.model_dump().items():
            if value is not None:
                os.environ[f"LIFECIRCLE_{field.upper()}"] = str(value)
        config = uvicorn.Config(
            "src.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            access_log=False,
            log_level="warning",
            **_NO_PROXY_HEADERS,
        )
        from src.core.workers import serve_workers

        serve_workers(config)
    else:
        from src.app import create_app

        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            access_log=False,
            log_level="warning",
            **_NO_PROXY_HEADERS,
        )


@command("run", "migrate, load demo data and serve the API", _configure_run)
def _run(args: argparse.Namespace, settings: Settings) -> int:
    overrides = {k: v for k in ("workers", "port") if (v := getattr(args, k, None)) is not None}
    started = start(settings.model_copy(update=overrides), demo=not args.no_demo)
    try:
        serve(started.settings)
    finally:
        started.stop()
    return 0


# Modules of later domains that register their own sub-commands with @command.
CLI_MODULES: list[str] = [
    "src.areas.cli",
    "src.staff.cli",
    "src.exports.cli",
    "src.integrations.city_portal.cli",
    "src.facilities_nearby.cli",
    "src.retention.cli",
    "src.identity.cli",
    "src.surveys.cli",
    "src.proposals.cli",
    "src.jobs.cli",
]


def main(argv: list[str] | None = None) -> int:
    for module in CLI_MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(prog="lifecircle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, configure, _) in COMMANDS.items():
        configure(sub.add_parser(name, help=help_text))
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        # Unsafe production settings (src/config.py) or a malformed variable: say which, exit.
        print("lifecircle: the settings cannot be used:", file=sys.stderr)
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error["loc"])
            name = f"LIFECIRCLE_{where.upper()}: " if where else ""
            print(f"  {name}{error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    return COMMANDS[args.command][2](args, settings)


if __name__ == "__main__":
    # ``python -m src.cli`` runs this file as ``__main__``; domain modules register their
    # commands on ``src.cli``, so call that module's ``main`` (one COMMANDS registry).
    from src.cli import main as _main

    sys.exit(_main())
