"""Serve an ASGI app over real HTTP on loopback in a background thread (fakes of outside
services for tests and the demo), and start the fakes ``lifecircle run`` uses in dev."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import uvicorn

from src.config import Settings

if TYPE_CHECKING:
    from src.integrations.city_portal.fake import FakePortal, Identity


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int | None = None,
        lifespan: Literal["auto", "on", "off"] = "off",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="warning", lifespan=lifespan
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class BackgroundLoop:
    """Run ``main(stop)`` in its own event loop in a background thread until :meth:`stop`."""

    def __init__(self, main: Callable[[asyncio.Event], Awaitable[object]], name: str) -> None:
        self.main = main
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.main(self.stop_event))
        finally:
            self.loop.close()

    def start(self) -> BackgroundLoop:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=30)


# --- the outside services `lifecircle run` fakes in dev --------------------------------------

DEMO_PORTAL_PORT = 8010  # the port of the default LIFECIRCLE_PORTAL_API_BASE


@dataclass
class DevServices:
    """What :func:`start_dev_services` started, and the settings pointed at it."""

    settings: Settings
    fake_wechat: BackgroundServer | None = None
    wechat_delivery: BackgroundLoop | None = None
    fake_portal: FakePortal | None = None
    portal_server: BackgroundServer | None = None
    delivery: BackgroundLoop | None = None
    tickets: list[tuple[str, Identity]] = field(default_factory=list)
    _started: list[BackgroundServer | BackgroundLoop] = field(default_factory=list)

    def describe(self) -> list[str]:
        lines = []
        if self.fake_wechat:
            lines.append(
                f"fake WeChat at {self.fake_wechat.url} (login codes 'ok-<openid>[~n]'; "
                "subscribe messages sent: GET /fake/messages)"
            )
        if self.portal_server:
            lines.append(
                f"fake city portal at {self.portal_server.url} "
                "(received events: GET /_fake/events; send a webhook: POST /_fake/webhooks)"
            )
            for ticket, who in self.tickets:
                lines.append(
                    f"  sign-on ticket {ticket}: {who.name} ({who.community_code or '无社区'})"
                )
        if self.delivery:
            lines.append(f"outbox delivered to {self.settings.portal_api_base} as it fills")
        return lines

    def stop(self) -> None:
        for part in reversed(self._started):
            part.stop()
        self._started.clear()


def start_dev_services(
    settings: Settings, *, api_url: str, portal_port: int | None = DEMO_PORTAL_PORT
) -> DevServices:
    """In dev and test, where an outside service is left at its default address, start its
    fake on loopback, point the settings at it and deliver to it: WeChat (login, and the
    subscribe messages of ``lifecircle wechat-worker``), the city portal (the README's
    sign-on tickets; its webhooks go to ``api_url``; the outbox of ``lifecircle worker``).
    Elsewhere nothing starts and the settings are unchanged."""
    services = DevServices(settings)
    if not settings.is_dev_like:
        return services
    defaults = Settings.model_fields
    try:
        if settings.wechat_api_base == defaults["wechat_api_base"].default:
            from src.identity.wechat_fake import create_fake_wechat_app

            services.fake_wechat = BackgroundServer(
                create_fake_wechat_app(settings.wechat_app_id, settings.wechat_app_secret)
            ).start()
            services._started.append(services.fake_wechat)
            settings = settings.model_copy(update={"wechat_api_base": services.fake_wechat.url})
            services.wechat_delivery = BackgroundLoop(
                partial(_deliver_wechat, settings), "wechat-delivery"
            ).start()
            services._started.append(services.wechat_delivery)
        if settings.portal_api_base == defaults["portal_api_base"].default:
            from src.integrations.city_portal.fake import FakePortal, quiet_dropped_replies

            quiet_dropped_replies()
            fake = FakePortal(
                settings.portal_app_id,
                settings.portal_app_secret,
                webhook_url=api_url.rstrip("/") + "/api/v1/integrations/portal/webhook",
                webhook_secret=settings.portal_webhook_secret,
            )
            services.tickets = fake.issue_demo_tickets()
            services.fake_portal = fake
            services.portal_server = _start_on(fake.app, portal_port)
            services._started.append(services.portal_server)
            settings = settings.model_copy(update={"portal_api_base": services.portal_server.url})
            services.delivery = BackgroundLoop(
                partial(_deliver_outbox, settings), "outbox-delivery"
            ).start()
            services._started.append(services.delivery)
    except BaseException:
        services.stop()
        raise
    services.settings = settings
    return services


def _start_on(app: Any, port: int | None) -> BackgroundServer:
    """Serve ``app`` on ``port``, or on a free port when that one is taken (or None)."""
    if port is not None:
        try:
            return BackgroundServer(app, port=port).start()
        except RuntimeError:
            pass
    return BackgroundServer(app).start()


async def _deliver_outbox(settings: Settings, stop: asyncio.Event) -> None:
    """The outbox worker of ``lifecircle worker``, without the periodic jobs."""
    from src.core.db import create_engine, make_sessionmaker
    from src.integrations.city_portal.client import PortalClient
    from src.integrations.city_portal.worker import OutboxWorker, WorkerConfig

    assert settings.database_url
    engine = create_engine(settings.database_url, pool_size=2, max_overflow=0)
    client = PortalClient.from_settings(settings)
    try:
        worker = OutboxWorker(
            make_sessionmaker(engine), client, WorkerConfig.from_settings(settings)
        )
        await worker.run(stop)
    finally:
        await client.aclose()
        await engine.dispose()


async def _deliver_wechat(settings: Settings, stop: asyncio.Event) -> None:
    """The subscribe-message delivery of ``lifecircle wechat-worker``."""
    import httpx

    from src.core.db import create_engine, make_sessionmaker
    from src.identity import subscribe_worker
    from src.identity.wechat import HttpWeChatSender

    assert settings.database_url
    engine = create_engine(settings.database_url, pool_size=2, max_overflow=0)
    try:
        async with httpx.AsyncClient(timeout=settings.http_timeout_s, trust_env=False) as http:
            sender = HttpWeChatSender(
                http, settings.wechat_api_base, settings.wechat_app_id, settings.wechat_app_secret
            )
            task = asyncio.create_task(
                subscribe_worker.run(make_sessionmaker(engine), sender, settings)
            )
            await stop.wait()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await engine.dispose()
