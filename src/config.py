"""One Settings object, built from the environment (prefix ``LIFECIRCLE_``)."""

from __future__ import annotations

import ipaddress
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets whose development defaults are public (they are in this file): prod must set them.
_SECRETS = ("secret_key", "portal_app_secret", "portal_webhook_secret", "wechat_app_secret")
MIN_SECRET_KEY_LENGTH = 32


class UnsafeSettings(ValueError):
    """``LIFECIRCLE_ENV=prod`` with settings that must not reach production."""


class Settings(BaseSettings):
    # Errors never echo the input: it holds the secrets.
    model_config = SettingsConfigDict(
        env_prefix="LIFECIRCLE_", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["dev", "test", "prod"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    # None means: start the embedded PostgreSQL under ``data_dir`` (``lifecircle run``).
    database_url: str | None = None
    # None means: in-process fallbacks (one process only).
    redis_url: str | None = None
    data_dir: str = ".lifecircle"
    # Connections per worker. Kept open, not overflowed: an overflow connection is opened and
    # closed per request under load (a connect costs more than the request). A request that
    # finds them all busy waits up to ``db_pool_timeout_s``, then gets 503.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    db_pool_timeout_s: float = 5.0

    # Tokens.
    secret_key: str = Field(default="dev-secret-change-me-dev-secret-change-me", min_length=32)
    jwt_issuer: str = "lifecircle"
    jwt_audience: str = "lifecircle-app"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600

    # Request limits.
    max_body_bytes: int = 1_048_576
    # Rate limits (src/core/ratelimit.py). Signed-in callers count per user; anonymous calls
    # per address, sized for a hall of 300 residents behind one Wi-Fi address all signing in
    # within a minute (2-3 anonymous calls each: sign-in, refresh, a public page).
    rate_limit_user_per_minute: int = 1200
    rate_limit_ip_per_minute: int = 1800
    rate_limit_login_per_minute: int = 900  # sign-in attempts per address
    rate_limit_login_account_per_minute: int = 10  # per phone, openid, portal id, refresh family
    rate_limit_flush_s: float = 0.2  # how often a worker shares its counts through Redis
    # Proxies whose X-Forwarded-For is believed: comma-separated IPs or CIDRs (none by default).
    trusted_proxies: str = ""
    redis_max_connections: int = 200  # per worker; a caller waits for a free one, then 503
    redis_pool_timeout_s: float = 2.0
    idempotency_ttl_s: int = 48 * 3600
    idempotency_lock_s: int = 60

    # WeChat mini-program login (code2session).
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_app_id: str = "wx-demo-app"
    wechat_app_secret: str = "wx-demo-secret"
    http_timeout_s: float = 5.0
    # Subscribe messages (订阅消息): our notification kind → the mini-program's template id,
    # and the delivery worker (src/identity/subscribe_worker.py).
    # "kind=template_id" pairs, comma-separated (a plain string: `lifecircle run` hands every
    # setting to its workers as an environment variable).
    wechat_subscribe_templates: str = (
        "reply=tmpl-proposal-reply,status_changed=tmpl-proposal-status,"
        "event_reminder=tmpl-event-reminder,survey_opened=tmpl-survey-opened"
    )
    wechat_send_batch: int = 50
    wechat_send_max_attempts: int = 8
    wechat_send_lease_s: float = 30.0

    log_level: str = "INFO"

    # Web clients (src/core/web.py): origins allowed to call the API from a browser
    # (comma-separated, e.g. "https://console.example.cn"; empty: no CORS headers at all),
    # how long a browser may keep a preflight's answer, and the smallest body compressed.
    cors_origins: str = ""
    cors_max_age_s: int = 600
    compress_min_bytes: int = 500

    # Moderation (src/moderation): the sensitive-word list ("" = the packaged list), what a
    # word without its own action does to a suggestion ("refuse": 422 sensitive_content;
    # "hold": accepted as pending_review), how often the file is checked for changes.
    moderation_words_file: str = ""
    moderation_mode: Literal["refuse", "hold"] = "refuse"
    moderation_reload_s: float = 2.0
    moderation_report_limit: int = 20  # reports per resident per hour
    # Decision support (src/area_stats): area figures and hot spots are served from a cache
    # at most this old (0: always computed); the worker's precompute job refreshes them.
    decision_cache_s: int = 300

    # Suggestions (proposals), uploads and projects.
    proposal_submit_limit: int = 10  # suggestions per resident per window
    proposal_submit_window_s: int = 3600
    proposal_support_limit: int = 60  # support taps (PUT/DELETE) per resident per window
    proposal_support_window_s: int = 60
    upload_max_bytes: int = 10 * 1024 * 1024
    upload_max_pixels: int = 40_000_000
    upload_limit: int = 60  # uploads per user per window
    upload_window_s: int = 3600

    # Facilities nearby: walking speeds (m/s), detour factor of straight-line estimates, how
    # far a point may be from the street network to snap onto it, and how often workers check
    # for new facility or network data.
    walk_speed_mps: float = 1.2
    walk_speed_elderly_mps: float = 0.9
    walk_detour_factor: float = 1.3
    walk_snap_max_m: float = 250.0
    facilities_poll_s: float = 5.0
    coverage_cell_m: float = 100.0
    coverage_radius_m: float = 500.0

    # Operations: when set, GET /metrics wants ``Authorization: Bearer <metrics_token>``;
    # prod requires one unless metrics are switched off (then GET /metrics is 404).
    metrics_enabled: bool = True
    metrics_token: str | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the entry
        return value

    @field_validator("cors_origins")
    @classmethod
    def _valid_origins(cls, value: str) -> str:
        for part in value.split(","):
            origin = part.strip()
            if origin and not origin.startswith(("http://", "https://")):
                raise ValueError(f"a CORS origin is scheme://host[:port], not {origin!r}")
        return value

    @property
    def is_dev_like(self) -> bool:
        return self.env in ("dev", "test")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        check_production(self)
        return self

    # Exports (street staff downloads).
    export_limit: int = 30  # exports per user per window
    export_window_s: int = 3600
    export_idle_timeout_s: int = 300  # a stalled download gives its snapshot back after this
    # City portal (src/integrations/city_portal): base URL fixed here, never from a request.
    portal_api_base: str = "http://127.0.0.1:8010"
    portal_app_id: str = "lifecircle"
    portal_app_secret: str = Field(default="portal-dev-secret-change-me-0123456789", min_length=16)
    # The portal signs its webhook calls with this one.
    portal_webhook_secret: str = Field(
        default="portal-webhook-dev-secret-change-me-0123", min_length=16
    )
    portal_timeout_s: float = 5.0
    portal_max_reply_bytes: int = 64 * 1024
    portal_webhook_max_skew_s: int = 300
    portal_max_attempts: int = 12  # then the item is dead-lettered (status failed)
    portal_backoff_base_s: float = 1.0
    portal_backoff_cap_s: float = 300.0
    portal_lease_s: float = 60.0
    portal_batch_size: int = 32
    portal_poll_interval_s: float = 1.0
    portal_breaker_threshold: int = 5  # consecutive failures that open the circuit
    portal_breaker_cooldown_s: float = 30.0
    # Meetings (events) and votes.
    event_check_in_window_s: int = 120  # a check-in code changes every window
    event_check_in_grace_s: int = 20  # a code is still accepted this long after its window
    event_public_base_url: str = "https://lifecircle.sh.cn"  # what the check-in QR points to
    event_sse_keepalive_s: float = 15.0  # a comment line on idle result streams
    event_stream_ticket_ttl_s: int = 60  # a stream ticket opens a stream within this time
    event_display_link_grace_h: int = 24  # a display link lasts this long after the meeting
    event_display_recheck_s: float = 5.0  # a display stream re-reads its link (revoked?)
    # Security: personal data retention (``lifecircle purge``, src/retention).
    retention_auth_days: int = 7  # expired refresh tokens and ended sign-in sessions
    retention_outbox_days: int = 30  # delivered portal messages
    retention_portal_events_days: int = 90  # webhook events received from the portal
    retention_notifications_days: int = 180  # notifications the resident has read


def unsafe_production_settings(settings: Settings) -> list[str]:
    """What ``settings`` lacks for production, one line per setting (empty: nothing)."""
    problems: list[str] = []
    defaults = Settings.model_fields
    for name in _SECRETS:
        if getattr(settings, name) == defaults[name].default:
            problems.append(f"LIFECIRCLE_{name.upper()} (still the development default)")
    if len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(f"LIFECIRCLE_SECRET_KEY (shorter than {MIN_SECRET_KEY_LENGTH} characters)")
    if settings.metrics_enabled and not settings.metrics_token:
        problems.append(
            "LIFECIRCLE_METRICS_TOKEN (unset: /metrics would be open;"
            " or set LIFECIRCLE_METRICS_ENABLED=false)"
        )
    return problems


def check_production(settings: Settings) -> None:
    """The one rule: in prod, refuse to start with public or missing secrets."""
    if settings.env != "prod":
        return
    problems = unsafe_production_settings(settings)
    if problems:
        listed = "\n".join(f"    - {problem}" for problem in problems)
        raise UnsafeSettings(f"LIFECIRCLE_ENV=prod refuses to start; set:\n{listed}")
