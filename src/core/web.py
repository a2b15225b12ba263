"""The web conventions of API.md, as one ASGI layer around the router.

Every rule a browser or a mobile client relies on at the HTTP level lives here:

- **Request id.** Every response carries ``X-Request-Id``: the client's own when it is 1–128
  visible ASCII characters, else a new one. The id is ``scope["state"]["request_id"]``, which
  the access log (src/core/logging.py) writes on the request's line.
- **CORS** for the origins of ``LIFECIRCLE_CORS_ORIGINS``: a preflight is answered here with
  the path's real methods; a response to an allowed origin names it and exposes our headers.
  Other origins get no CORS header at all (the browser then refuses, as it should).
- **OPTIONS** without a preflight: 204 with ``Allow`` listing the path's real methods.
- **Content types.** A request body that is not JSON where the route reads JSON is refused
  with 415 ``unsupported_media_type`` (multipart stays valid where the route takes a form).
- **ETag and 304** on GET 200 JSON replies (details and lists): a strong tag from a hash of
  the body; ``If-None-Match`` with it gets 304 and no body.
- **Compression** (br or gzip, by the client's Accept-Encoding q-values) of text and JSON
  bodies of at least ``LIFECIRCLE_COMPRESS_MIN_BYTES``. Only complete bodies are compressed:
  a streamed body (live results, CSV exports) goes out raw, chunk by chunk, as the handler
  sends it, so an event is never held back and an export stays in constant memory.

It wraps the router itself (see ``create_app``), not a route: Litestar runs its ``middleware``
list only for matched routes, and a 404, a 405 or an OPTIONS must follow these rules too.
The rate limiter's 429, the unit of work's 503 and every stream pass through it, and writes
still commit before the first byte: this layer only sees the response after the unit of work
has let it go.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import anyio.to_thread
import brotli
from litestar import Litestar
from litestar.enums import RequestEncodingType
from litestar.types import ASGIApp
from litestar.utils import normalize_path

from src.config import Settings
from src.core.errors import AppError, send_problem
from src.core.errors import Message as Text
from src.core.ids import new_id_hex

REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID_LENGTH = 128
# Headers a browser may send on a cross-origin call, and response headers its scripts may read.
CORS_ALLOW_HEADERS = (
    "Authorization, Content-Type, Idempotency-Key, Accept-Language, X-Request-Id, If-None-Match"
)
CORS_EXPOSE_HEADERS = "X-Request-Id, ETag, Idempotent-Replayed, Retry-After, Content-Disposition"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = frozenset(
    {RequestEncodingType.MULTI_PART.value, RequestEncodingType.URL_ENCODED.value}
)
# Bodies at least this large are compressed on a worker thread, not on the event loop.
_THREAD_MIN_BYTES = 64 * 1024
_GZIP_LEVEL = 6
_BROTLI_QUALITY = 4  # quality 11 costs 50x the CPU for a few per cent; 4 beats gzip -6
_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "br": lambda body: bytes(brotli.compress(body, quality=_BROTLI_QUALITY)),
    "gzip": lambda body: _gzip(body),
}


def _gzip(body: bytes) -> bytes:
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip container
    return compressor.compress(body) + compressor.flush()


def unsupported_media_type() -> AppError:
    return AppError(
        415,
        "unsupported_media_type",
        Text(
            "不支持的内容类型：请求体须为 JSON（Content-Type: application/json）",
            "Unsupported media type: the body must be JSON (Content-Type: application/json)",
        ),
    )


def valid_request_id(value: bytes) -> bool:
    """1–128 visible ASCII characters (no space, no control character)."""
    return 0 < len(value) <= MAX_REQUEST_ID_LENGTH and all(0x21 <= c <= 0x7E for c in value)


def choose_encoding(accept_encoding: str) -> str | None:
    """``br`` or ``gzip``, whichever the client weighs highest (br on a tie), or None."""
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        token, *params = part.split(";")
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        if token.strip():
            weights[token.strip().lower()] = weight
    best, best_weight = None, 0.0
    for coding in ("br", "gzip"):
        weight = weights.get(coding, weights.get("*", 0.0))
        if weight > best_weight:
            best, best_weight = coding, weight
    return best


def _media_type(value: bytes) -> str:
    return value.split(b";", 1)[0].strip().lower().decode("latin-1")


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _is_compressible(media_type: str) -> bool:
    if media_type == "text/event-stream":
        return False  # each event must reach the screen as it happens
    return (
        media_type.startswith("text/")
        or _is_json(media_type)
        or media_type in ("application/javascript", "application/xml", "image/svg+xml")
    )


def _etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """The weak comparison RFC 9110 asks of If-None-Match."""
    for candidate in if_none_match.split(b","):
        tag = candidate.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def _without(headers: Iterable[tuple[bytes, bytes]], *names: bytes) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in headers if name.lower() not in names]


def _with_vary(headers: list[tuple[bytes, bytes]], token: bytes) -> list[tuple[bytes, bytes]]:
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            present = {part.strip().lower() for part in value.split(b",")}
            if token.lower() not in present:
                headers[index] = (name, value + b", " + token)
            return headers
    headers.append((b"vary", token))
    return headers


class WebConventions:
    """The ASGI layer; built once per app by :func:`web_conventions`."""

    def __init__(self, app: ASGIApp, litestar: Litestar, settings: Settings) -> None:
        self._app = app
        self._router = litestar.asgi_router
        self._origins = frozenset(
            origin.strip().rstrip("/").lower()
            for origin in settings.cors_origins.split(",")
            if origin.strip()
        )
        self._max_age = str(settings.cors_max_age_s).encode()
        self._min_bytes = settings.compress_min_bytes
        # The methods of each path (as the router names it: "/x/{id}"), over every route of it.
        methods: dict[str, set[str]] = {}
        for route in litestar.routes:
            methods.setdefault(route.path_format, set()).update(getattr(route, "methods", ()))
        self._methods = {path: ", ".join(sorted(found)) for path, found in methods.items()}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])  # the last of a repeated header wins; fine here
        given = headers.get(REQUEST_ID_HEADER, b"")
        request_id = given.decode() if valid_request_id(given) else new_id_hex()
        scope["state"]["request_id"] = request_id
        origin = headers.get(b"origin", b"").decode("latin-1")
        allowed_origin = origin.encode() if origin and origin in self._origins else None
        added: list[tuple[bytes, bytes]] = [(REQUEST_ID_HEADER, request_id.encode())]
        if self._origins:
            added.append((b"vary", b"Origin"))
        if allowed_origin is not None:
            added += [
                (b"access-control-allow-origin", allowed_origin),
                (b"access-control-expose-headers", CORS_EXPOSE_HEADERS.encode()),
            ]
        send = self._decorating_send(scope, headers, added, send)

        method = scope["method"]
        if method == "OPTIONS" and (allow := self._allowed_methods(scope)) is not None:
            await self._answer_options(headers, allowed_origin is not None, allow, send)
            return
        if method in _BODY_METHODS and not self._body_type_accepted(scope, headers):
            await send_problem(scope, receive, send, unsupported_media_type())
            return
        await self._app(scope, receive, send)

    # -- OPTIONS and CORS preflight ------------------------------------------------------

    def _route(self, scope: Any, method: str) -> tuple[Any, str] | None:
        """The handler and path template of the request's path for ``method`` (None: the
        router answers 404 or 405 itself)."""
        try:
            _, handler, _, _, template = self._router.handle_routing(
                path=normalize_path(scope["path"]), method=method
            )
        except Exception:
            return None
        return handler, template

    def _allowed_methods(self, scope: Any) -> str | None:
        found = self._route(scope, "OPTIONS")
        return self._methods.get(found[1]) if found is not None else None

    async def _answer_options(
        self, headers: dict[bytes, bytes], allowed_origin: bool, allow: str, send: Any
    ) -> None:
        answer = [(b"allow", allow.encode())]
        if allowed_origin and b"access-control-request-method" in headers:
            answer += [
                (b"access-control-allow-methods", allow.encode()),
                (b"access-control-allow-headers", CORS_ALLOW_HEADERS.encode()),
                (b"access-control-max-age", self._max_age),
            ]
        await send({"type": "http.response.start", "status": 204, "headers": answer})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    # -- request content type ------------------------------------------------------------

    def _body_type_accepted(self, scope: Any, headers: dict[bytes, bytes]) -> bool:
        """JSON everywhere; a form where the route takes one; anything on a route that reads
        no body when none is sent. Only non-JSON requests pay for the route lookup."""
        content_type = headers.get(b"content-type")
        if content_type is None:
            return True  # nothing declared: the body, if any, is parsed as JSON or refused
        media_type = _media_type(content_type)
        if _is_json(media_type):
            return True
        found = self._route(scope, scope["method"])
        if found is None:
            return True  # 404 / 405 from the router
        data = found[0].parsed_fn_signature.parameters.get("data")
        if data is None:
            return (
                headers.get(b"content-length", b"0") == b"0" and b"transfer-encoding" not in headers
            )
        body = getattr(data.kwarg_definition, "media_type", None)
        wanted = body.value if isinstance(body, RequestEncodingType) else body
        return wanted in _FORM_TYPES and media_type == wanted

    # -- the response --------------------------------------------------------------------

    def _decorating_send(
        self,
        scope: Any,
        request_headers: dict[bytes, bytes],
        added: list[tuple[bytes, bytes]],
        send: Any,
    ) -> Any:
        """``send`` that adds the request id and CORS headers to the response, tags GET JSON
        replies (and answers 304), and compresses complete bodies."""
        method = scope["method"]
        coding = choose_encoding(request_headers.get(b"accept-encoding", b"").decode("latin-1"))
        if_none_match = request_headers.get(b"if-none-match")
        held: Any = None
        buffered: list[bytes] = []
        passing = True

        async def decorating_send(message: Any) -> None:
            nonlocal held, passing
            if message["type"] == "http.response.start":
                message["headers"] = headers = [
                    *_without(message.get("headers", ()), REQUEST_ID_HEADER),
                    *added,
                ]
                status = message["status"]
                response = {name.lower(): value for name, value in headers}
                media_type = _media_type(response.get(b"content-type", b""))
                compressible = _is_compressible(media_type)
                if compressible:
                    _with_vary(headers, b"Accept-Encoding")
                length = response.get(b"content-length")
                wants_body = (
                    method != "HEAD"
                    and status not in (204, 304)
                    and length is not None  # a stream has none: it goes out as it comes
                    and (
                        (
                            method == "GET"
                            and status == 200
                            and _is_json(media_type)
                            and b"etag" not in response
                        )
                        or (
                            compressible
                            and coding is not None
                            and b"content-encoding" not in response
                            and int(length) >= self._min_bytes
                        )
                    )
                )
                if wants_body:
                    held, passing = message, False
                    return
                await send(message)
                return
            if passing or held is None or message["type"] != "http.response.body":
                await send(message)
                return
            buffered.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start, body = held, b"".join(buffered)
            held, passing = None, True
            await self._send_whole(start, body, method, coding, if_none_match, send)

        return decorating_send

    async def _send_whole(
        self,
        start: Any,
        body: bytes,
        method: str,
        coding: str | None,
        if_none_match: bytes | None,
        send: Any,
    ) -> None:
        headers: list[tuple[bytes, bytes]] = start["headers"]
        response = {name.lower(): value for name, value in headers}
        media_type = _media_type(response.get(b"content-type", b""))
        if method == "GET" and start["status"] == 200 and _is_json(media_type):
            etag = b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'
            headers.append((b"etag", etag))
            if if_none_match is not None and _etag_matches(if_none_match, etag):
                kept = _without(headers, b"content-length", b"content-type")
                await send({"type": "http.response.start", "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
        if (
            coding is not None
            and _is_compressible(media_type)
            and b"content-encoding" not in response
            and len(body) >= self._min_bytes
        ):
            compress = _COMPRESSORS[coding]
            if len(body) >= _THREAD_MIN_BYTES:
                packed = await anyio.to_thread.run_sync(compress, body)
            else:
                packed = compress(body)
            if len(packed) < len(body):
                body = packed
                headers = start["headers"] = [
                    *_without(headers, b"content-length"),
                    (b"content-encoding", coding.encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})


def web_conventions(app: ASGIApp, litestar: Litestar, settings: Settings) -> ASGIApp:
    """``app`` (``litestar``'s router inside its exception handling) in :class:`WebConventions`."""
    return WebConventions(app, litestar, settings)
