"""Tokens and the principal.

Access tokens are short-lived JWTs (HS256 only: ``alg: none`` and other algorithms are refused)
that name the user and the sign-in family. Roles are read from the database
(:func:`load_principal`) on every write and on every read the worker has no current copy for
(src/core/principals.py: kept copies are forgotten when PostgreSQL announces a change), so a
revoked role or a revoked family takes effect at the caller's next request in the worker that
revoked it, and within milliseconds in the others. Where the token is read:
``src/core/caller.py``; what the caller may do: ``src/core/policy.py``.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from litestar import Request

from src.config import Settings
from src.core.errors import unauthorized
from src.core.ids import new_id
from src.models.user import Role

STAFF_ROLES = frozenset({Role.committee, Role.street, Role.planner, Role.admin})


@dataclass(frozen=True)
class Grant:
    role: Role
    area_id: uuid.UUID | None  # None: the whole city (admins only)


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    display_name: str
    verified: bool
    community_id: uuid.UUID | None
    grants: tuple[Grant, ...]
    family_id: uuid.UUID

    def has_role(self, *roles: Role) -> bool:
        return any(g.role in roles for g in self.grants)

    @property
    def is_staff(self) -> bool:
        return any(g.role in STAFF_ROLES for g in self.grants)

    def role_list(self) -> list[Grant]:
        """The roles as /me shows them: resident of the home community, then staff grants."""
        roles = [Grant(Role.resident, self.community_id)] if self.community_id else []
        return roles + list(self.grants)


# --- tokens -----------------------------------------------------------------


def issue_access_token(settings: Settings, user_id: uuid.UUID, family_id: uuid.UUID) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": str(user_id),
        "fam": str(family_id),
        "typ": "access",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + dt.timedelta(seconds=settings.access_token_ttl_s),
        "jti": str(new_id()),
    }
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    family_id: uuid.UUID


# Tokens verified already, by (token, secret, audience, issuer): a client sends the same token
# on every request for its lifetime, and verifying the HMAC and claims again costs more than
# the request's SQL. A hit is still checked against its expiry. Bounded: cleared when full.
_VERIFIED: dict[tuple[str, str, str, str], tuple[TokenClaims, float]] = {}
_VERIFIED_MAX = 50_000


def decode_access_token(settings: Settings, token: str) -> TokenClaims:
    key = (token, settings.secret_key, settings.jwt_audience, settings.jwt_issuer)
    hit = _VERIFIED.get(key)
    if hit is not None and hit[1] > time.time():
        return hit[0]
    claims = _decode_access_token(settings, token)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = claims
    return claims[0]


def _decode_access_token(settings: Settings, token: str) -> tuple[TokenClaims, float]:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "fam", "aud", "iss"]},
        )
        if claims.get("typ") != "access":
            raise jwt.InvalidTokenError("not an access token")
        found = TokenClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["fam"]))
        return found, float(claims["exp"])
    except jwt.ExpiredSignatureError as exc:
        raise unauthorized(
            "token_expired", "登录已过期，请重新登录", "The token has expired"
        ) from exc
    except (jwt.InvalidTokenError, ValueError, KeyError, TypeError) as exc:
        raise unauthorized("invalid_token", "登录凭证无效", "The token is not valid") from exc


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("invalid_token", "登录凭证无效", "The token is not valid")
    return token.strip()


# --- principal ----------------------------------------------------------------

_PRINCIPAL_SQL = """
    SELECT u.display_name, u.verified, u.home_community_id, u.disabled, f.revoked_at,
           coalesce(array_agg(g.role::text || ':' || coalesce(g.area_id::text, ''))
                    FILTER (WHERE g.id IS NOT NULL), '{}') AS grants
    FROM users u
    JOIN auth_families f ON f.id = $2 AND f.user_id = u.id
    LEFT JOIN role_grants g ON g.user_id = u.id
    WHERE u.id = $1
    GROUP BY u.id, f.revoked_at
"""


async def load_principal(conn: Any, claims: TokenClaims) -> Principal:
    """The caller with their roles: one statement, straight on the request's asyncpg
    connection (the hottest query of the system: every signed-in request asks it)."""
    row = await conn.fetchrow(_PRINCIPAL_SQL, claims.user_id, claims.family_id)
    if row is None or row["disabled"] or row["revoked_at"] is not None:
        raise unauthorized("token_revoked", "登录已失效，请重新登录", "The sign-in was revoked")
    grants = []
    for item in row["grants"]:
        role, _, area = item.partition(":")
        grants.append(Grant(Role(role), uuid.UUID(area) if area else None))
    return Principal(
        user_id=claims.user_id,
        display_name=row["display_name"],
        verified=row["verified"],
        community_id=row["home_community_id"],
        grants=tuple(grants),
        family_id=claims.family_id,
    )
