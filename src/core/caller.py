"""Who is calling, settled once at the edge: the client address and the verified token.

:func:`caller_middleware` runs first among the app's own middleware (after routing) and puts
into ``scope["state"]``, for every HTTP request:

- ``"client_ip"`` (``str``): the client's address. The TCP peer, unless the peer is one of
  ``LIFECIRCLE_TRUSTED_PROXIES`` (comma-separated IPs or CIDRs, none by default): then the
  right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy (all hops
  trusted: the left-most). When a proxy was believed, ``scope["client"]`` is rewritten to
  that address too, so ``request.client.host`` agrees. ``"unknown"`` without a peer.
- ``"token_claims"`` (``TokenClaims | None``): the claims of a valid ``Authorization: Bearer``
  access token, decoded once here (signature, expiry, issuer, audience checked by
  :func:`src.core.auth.decode_access_token`). ``None`` when there is no such header or the
  token is not valid. Signature-valid claims only: whether the user and the sign-in family
  still stand is for the principal lookup to say.
- ``"token_error"`` (``AppError | None``): when an ``Authorization`` header was sent and
  refused (not ``Bearer``, empty, invalid, expired), the 401 to raise where a principal is
  required; ``None`` otherwise. Never both set.

Consumers: the rate limits (src/core/ratelimit.py: per user when ``token_claims``, else per
``client_ip``), the principal dependency and the idempotency scope, through
:func:`token_claims` (which also decodes when the middleware did not run, e.g. a bare app).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from litestar.types import ASGIApp

from src.config import Settings
from src.core.auth import TokenClaims, decode_access_token
from src.core.errors import AppError, unauthorized

CLIENT_IP = "client_ip"
TOKEN_CLAIMS = "token_claims"
TOKEN_ERROR = "token_error"

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=16)
def trusted_networks(spec: str) -> tuple[_Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16"`` → networks (a bare address is a /32 or /128)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _address(text: str) -> _Address | None:
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # "203.0.113.5:1234"
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: _Address, networks: tuple[_Network, ...]) -> bool:
    return any(ip in network for network in networks)


def resolve_client(peer: str | None, forwarded: list[str], networks: tuple[_Network, ...]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy; then the right-most
    untrusted hop of the ``X-Forwarded-For`` values (in header order)."""
    if peer is None:
        return "unknown"
    if not networks:
        return peer
    peer_ip = _address(peer)
    if peer_ip is None or not _trusted(peer_ip, networks):
        return peer
    client = str(peer_ip)
    hops = [hop for value in forwarded for hop in value.split(",")]
    for hop in reversed(hops):
        ip = _address(hop)
        if ip is None:  # garbage: nothing to its left can be believed either
            break
        client = str(ip)
        if not _trusted(ip, networks):
            break
    return client


def decode_authorization(
    settings: Settings, header: str | None
) -> tuple[TokenClaims | None, AppError | None]:
    """(claims, None), (None, the 401) or (None, None) when no header was sent."""
    if not header:
        return None, None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None, unauthorized("invalid_token", "登录凭证无效", "The token is not valid")
    try:
        return decode_access_token(settings, token), None
    except AppError as error:
        return None, error


def caller_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        settings: Settings = scope["litestar_app"].state.settings
        authorization: str | None = None
        forwarded: list[str] = []
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
        client = scope.get("client")
        peer = client[0] if client else None
        address = resolve_client(peer, forwarded, trusted_networks(settings.trusted_proxies))
        if address != peer and address != "unknown":
            scope["client"] = (address, 0)
        claims, error = decode_authorization(settings, authorization)
        state = scope["state"]
        state[CLIENT_IP] = address
        state[TOKEN_CLAIMS] = claims
        state[TOKEN_ERROR] = error
        await app(scope, receive, send)

    return middleware


def token_claims(scope: Any, settings: Settings) -> TokenClaims | None:
    """The caller's verified claims; raises the stored 401 for a refused header; None when
    no ``Authorization`` header was sent."""
    state = scope["state"]
    if TOKEN_CLAIMS not in state:  # the middleware did not run
        header = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
        )
        state[TOKEN_CLAIMS], state[TOKEN_ERROR] = decode_authorization(settings, header)
    error: AppError | None = state.get(TOKEN_ERROR)
    if error is not None:
        raise error
    claims: TokenClaims | None = state[TOKEN_CLAIMS]
    return claims


def caller_scope(scope: Any, settings: Settings) -> str:
    """Whose request this is, for per-caller keys (the Idempotency-Key): the token's user,
    else the client address."""
    try:
        claims = token_claims(scope, settings)
    except AppError:
        claims = None
    if claims is not None:
        return str(claims.user_id)
    address = scope["state"].get(CLIENT_IP)
    if address is None:
        client = scope.get("client")
        address = client[0] if client else "unknown"
    return f"anon:{address}"
