"""Sign-in attempts are limited twice: per client address and per account.

- Per address (``rate_limit_login_per_minute``, 900): a flood guard sized so that a hall of
  300 residents on one Wi-Fi address can all sign in (and refresh) within a minute.
- Per account (``rate_limit_login_account_per_minute``, 10): the phone of a dev sign-in, the
  WeChat openid, the portal user id, the refresh-token family. Guessing one account stays
  slow however many addresses the guesses come from.

Every attempt counts (a success too): a resident signs in a few times a minute at most.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from src.core.ratelimit import address_key


async def limit_address(request: Request[Any, Any, Any], state: State) -> None:
    client = request.client.host if request.client else "unknown"
    await state.limiter.check(
        f"login:{address_key(client)}", state.settings.rate_limit_login_per_minute, 60
    )


async def limit_account(state: State, kind: str, account: str) -> None:
    await state.limiter.check(
        f"login-account:{kind}:{account}", state.settings.rate_limit_login_account_per_minute, 60
    )
