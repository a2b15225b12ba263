"""``LIFECIRCLE_ENV=prod`` refuses to start with public or missing secrets (src/config.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from pydantic import ValidationError

from src.app import create_app
from src.config import Settings, UnsafeSettings

ROOT = Path(__file__).resolve().parent.parent

PROD_SECRETS: dict[str, Any] = {
    "secret_key": "prod-" + "k" * 40,
    "portal_app_secret": "prod-portal-app-secret-0123456789",
    "portal_webhook_secret": "prod-portal-webhook-secret-0123456789",
    "wechat_app_secret": "prod-wechat-secret-0123456789",
    "metrics_token": "prod-metrics-token-0123456789",
}


def _prod(**overrides: Any) -> Settings:
    return Settings(env="prod", **{**PROD_SECRETS, **overrides})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("secret_key", Settings.model_fields["secret_key"].default),
        ("portal_app_secret", Settings.model_fields["portal_app_secret"].default),
        ("portal_webhook_secret", Settings.model_fields["portal_webhook_secret"].default),
        ("wechat_app_secret", Settings.model_fields["wechat_app_secret"].default),
        ("metrics_token", None),
        ("metrics_token", ""),
    ],
)
def test_prod_refuses_each_public_or_missing_secret(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        _prod(**{field: value})
    message = str(refused.value)
    assert f"LIFECIRCLE_{field.upper()}" in message
    # Only the one setting at fault is named, and no secret is echoed.
    named = {f for f in PROD_SECRETS if f"LIFECIRCLE_{f.upper()}" in message}
    assert named == {field}
    assert all(str(v) not in message for k, v in PROD_SECRETS.items() if k != field)


def test_prod_refuses_a_short_secret_key() -> None:
    # Too short for any environment: the field's own bound says so, naming the field.
    with pytest.raises(ValidationError) as refused:
        _prod(secret_key="s" * 31)
    assert [e["loc"] for e in refused.value.errors()] == [("secret_key",)]


def test_the_development_defaults_name_every_setting_to_set() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(env="prod")
    message = str(refused.value)
    for field in PROD_SECRETS:
        assert f"LIFECIRCLE_{field.upper()}" in message


def test_metrics_switched_off_need_no_token_and_dev_keeps_its_defaults() -> None:
    assert _prod(metrics_token=None, metrics_enabled=False).env == "prod"
    assert Settings(env="dev").secret_key == Settings.model_fields["secret_key"].default
    assert Settings(env="test").metrics_token is None


async def test_prod_with_proper_values_starts_and_serves(settings: Settings) -> None:
    prod = _prod(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        wechat_api_base=settings.wechat_api_base,
        portal_api_base=settings.portal_api_base,
        log_level="WARNING",
    )
    app: Litestar = create_app(prod)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/health")).status_code == 200
            # prod has no dev sign-in, and its metrics want the token.
            dev_login = await http.post("/api/v1/auth/dev-login", json={"phone": "1"})
            assert dev_login.status_code == 404
            assert (await http.get("/metrics")).status_code == 401


async def test_an_app_from_unvalidated_prod_settings_does_not_start(settings: Settings) -> None:
    # model_copy(update=...) skips validation: the app checks again as it starts.
    default_key = Settings.model_fields["secret_key"].default
    unsafe = settings.model_copy(update={"env": "prod", "secret_key": default_key})
    app: Litestar = create_app(unsafe)
    # The start-up task group wraps the error: look for it among the leaves.
    with pytest.raises(Exception) as refused:
        async with app.lifespan():
            pass  # pragma: no cover - never reached
    causes = _leaves(refused.value)
    assert any(isinstance(e, UnsafeSettings) and "LIFECIRCLE_SECRET_KEY" in str(e) for e in causes)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


async def _cli(*args: str, **env: str) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIFECIRCLE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src.cli",
        *args,
        cwd=ROOT,
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, (out + err).decode()


async def test_lifecircle_run_in_prod_with_defaults_exits_naming_the_settings() -> None:
    code, output = await _cli("run", "--no-demo", LIFECIRCLE_ENV="prod")
    assert code != 0
    for field in PROD_SECRETS:
        assert f"LIFECIRCLE_{field.upper()}" in output, output
    assert "serving" not in output
    assert "Traceback" not in output
    # A proper secret key is not named, nor printed.
    code, output = await _cli(
        "run", "--no-demo", LIFECIRCLE_ENV="prod", LIFECIRCLE_SECRET_KEY=PROD_SECRETS["secret_key"]
    )
    assert code != 0
    assert "LIFECIRCLE_SECRET_KEY" not in output
    assert PROD_SECRETS["secret_key"] not in output
    assert "LIFECIRCLE_METRICS_TOKEN" in output
    code, output = await _cli(
        "run", "--no-demo", LIFECIRCLE_ENV="prod", LIFECIRCLE_SECRET_KEY="too-short-a-key"
    )
    assert code != 0
    assert "LIFECIRCLE_SECRET_KEY: String should have at least 32 characters" in output
    assert "too-short-a-key" not in output
