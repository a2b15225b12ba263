"""``create_app(settings)``: plugins, routers, exception handlers, dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, License, SecurityScheme
from litestar.types import ControllerRouterHandler
from pydantic import BaseModel

from src.area_stats.controllers import AreaStatsController
from src.areas.controllers import AreaController
from src.briefs.controllers import BriefController
from src.categories.controllers import CategoryController
from src.config import Settings
from src.core import heap
from src.core.caller import caller_middleware
from src.core.db import (
    autocommit_engine,
    create_engine,
    make_autocommit_sessionmaker,
    make_sessionmaker,
)
from src.core.errors import EXCEPTION_HANDLERS
from src.core.health import health, ready
from src.core.inputs import harden_request
from src.core.logging import access_log_middleware, configure_logging
from src.core.metrics import instrument_pool, metrics, request_metrics_middleware
from src.core.openapi import install_openapi_amendments
from src.core.principals import PrincipalCache
from src.core.ratelimit import RateLimiter, rate_limit_middleware
from src.core.redis import create_redis, create_store
from src.core.schemas import encode_model
from src.core.twins import Twins, table_path
from src.core.unit_of_work import (
    provide_db_session,
    provide_optional_principal,
    provide_principal,
    provide_unit,
    unit_of_work_middleware,
)
from src.core.web import web_conventions
from src.events.controllers import EventController
from src.exports.controllers import ExportController
from src.facilities_nearby.controllers import CoverageController, FacilityController
from src.facilities_nearby.runtime import facilities_lifespan
from src.facility_reviews.controllers import FacilityRankingController, FacilityReviewController
from src.identity.controllers import AuthController, DevLoginController, MeController
from src.identity.subscription_controllers import SubscriptionController
from src.identity.wechat import HttpWeChatClient
from src.integrations.city_portal.client import portal_lifespan
from src.integrations.city_portal.controllers import PortalController, PortalLoginController
from src.moderation.controllers import ModerationController, ReportController
from src.monthly_reports.controllers import MonthlyReportController
from src.needs.controllers import AreaNeedsController, NeedController
from src.projects.controllers import ProjectController, ProjectStatsController
from src.proposals.controllers import MyProposalsController, ProposalController
from src.ratings.controllers import EventRatingController, SatisfactionController
from src.staff.controllers import StaffController, UserAdminController
from src.surveys.controllers import SurveyController, SurveyExportController
from src.uploads.controllers import UploadController
from src.votes import live as votes_live
from src.votes.controllers import VoteController, live_screen

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    health,
    ready,
    metrics,
    AuthController,
    MeController,
    AreaController,
    ProposalController,
    MyProposalsController,
    ReportController,
    ModerationController,
    SubscriptionController,
    UploadController,
    ProjectController,
    ProjectStatsController,
    NeedController,
    AreaNeedsController,
    PortalLoginController,
    PortalController,
    FacilityController,
    CoverageController,
    CategoryController,
    EventController,
    EventRatingController,
    SatisfactionController,
    VoteController,
    live_screen,
    StaffController,
    UserAdminController,
    ExportController,
    SurveyController,
    SurveyExportController,
    AreaStatsController,
    FacilityReviewController,
    FacilityRankingController,
    MonthlyReportController,
    BriefController,
]


def create_app(settings: Settings) -> Litestar:
    if not settings.database_url:
        raise ValueError("settings.database_url is required (lifecircle run starts one)")
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        assert settings.database_url is not None
        engine = create_engine(
            settings.database_url,
            settings.db_pool_size,
            settings.db_max_overflow,
            settings.db_pool_timeout_s,
        )
        instrument_pool(engine, settings.db_pool_size)
        redis = (
            create_redis(
                settings.redis_url, settings.redis_max_connections, settings.redis_pool_timeout_s
            )
            if settings.redis_url
            else None
        )
        store = create_store(redis)
        http = httpx.AsyncClient(timeout=settings.http_timeout_s)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.autocommit_sessionmaker = make_autocommit_sessionmaker(engine)
        app.state.autocommit_engine = autocommit_engine(engine)
        app.state.redis = redis  # shared with the live results hub (src/votes/live.py)
        app.state.store = store
        app.state.limiter = RateLimiter(store, flush_s=settings.rate_limit_flush_s)
        await app.state.limiter.start()
        app.state.principals = PrincipalCache(settings.database_url)
        await app.state.principals.start()
        app.state.http = http
        app.state.wechat = HttpWeChatClient(
            http, settings.wechat_api_base, settings.wechat_app_id, settings.wechat_app_secret
        )
        # Copies of a ballot that meet in any worker of this host (src/core/twins.py).
        app.state.twins = Twins.open(table_path(settings.database_url, settings.secret_key))
        try:
            yield
        finally:
            await http.aclose()
            app.state.twins.close()
            await app.state.principals.stop()
            await app.state.limiter.stop()
            await store.close()
            await engine.dispose()

    handlers = list(ROUTE_HANDLERS)
    if settings.is_dev_like:
        handlers.append(DevLoginController)

    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan, portal_lifespan, votes_live.lifespan, facilities_lifespan],
        on_startup=[install_openapi_amendments, heap.freeze],
        # Settings ride on the app state: handlers, middleware and guards read one object.
        state=State({"settings": settings}),
        dependencies={
            "unit": Provide(provide_unit),
            "db_session": Provide(provide_db_session),
            "principal": Provide(provide_principal),
            "maybe_principal": Provide(provide_optional_principal),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        type_encoders={BaseModel: encode_model},
        # Query and path values and JSON depth checked before any handler (src/core/inputs.py).
        before_request=harden_request,
        middleware=[
            request_metrics_middleware,
            caller_middleware,
            rate_limit_middleware,
            unit_of_work_middleware,
        ],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="lifecircle API",
            version="1.0.0",
            description="Backend of the 15-minute community life circle participation app.",
            path="/schema",
            license=License(
                name="Proprietary (all rights reserved)", identifier="LicenseRef-Proprietary"
            ),
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"BearerToken": []}],
        ),
        logging_config=None,
        debug=False,
    )
    # The access log and the web conventions (request id, CORS, OPTIONS, 415, ETag,
    # compression) wrap the router itself: Litestar runs ``middleware`` only for matched
    # routes, and a 404, a 405 or a preflight must be logged and follow the conventions too.
    app.asgi_handler = access_log_middleware(web_conventions(app.asgi_handler, app, settings))
    return app


def app_from_env() -> Litestar:
    """Factory for uvicorn workers: the app from the environment's settings."""
    return create_app(Settings())
