"""Errors as RFC 9457 problem+json with a stable ``code``, Chinese by default, English on request.

Services raise :class:`AppError` (or a subclass); one set of exception handlers turns it, and
every framework error, into a problem document. No stack trace ever leaves the process.

Validation failures of the framework (a body pydantic refuses, a query, path or header value
msgspec refuses, a required parameter absent) are one 422 ``validation_failed`` whose
``errors`` name each field as the client sent it and say what is wrong in the caller's
language, from one table of check kinds (``_FIELD_MESSAGES``). The ``errors`` a service
passes to :func:`validation_failed` itself are its own and shown as given.
"""

from __future__ import annotations

import logging
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions import (
    MethodNotAllowedException as LitestarMethodNotAllowed,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from pydantic import BaseModel

logger = logging.getLogger("lifecircle.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Message:
    zh: str
    en: str


def wants_english(request: Request[Any, Any, Any]) -> bool:
    """English when the client's first language preference is English."""
    header = request.headers.get("accept-language", "")
    first = header.split(",", 1)[0].strip().lower()
    return first.startswith("en")


@dataclass
class AppError(Exception):
    """A domain error: HTTP status, stable code, bilingual message."""

    status: int
    code: str
    message: Message
    errors: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message.en}"


def bad_request(code: str, zh: str, en: str) -> AppError:
    return AppError(400, code, Message(zh, en))


def unauthorized(
    code: str = "unauthorized", zh: str = "请先登录", en: str = "Sign-in required"
) -> AppError:
    return AppError(401, code, Message(zh, en), headers={"WWW-Authenticate": "Bearer"})


def forbidden(
    code: str = "forbidden", zh: str = "无权执行此操作", en: str = "Not allowed"
) -> AppError:
    return AppError(403, code, Message(zh, en))


def not_found(what_zh: str = "资源", what_en: str = "Resource") -> AppError:
    return AppError(404, "not_found", Message(f"{what_zh}不存在", f"{what_en} not found"))


def conflict(code: str, zh: str, en: str) -> AppError:
    return AppError(409, code, Message(zh, en))


def unprocessable(code: str, zh: str, en: str) -> AppError:
    return AppError(422, code, Message(zh, en))


def validation_failed(errors: list[dict[str, str]]) -> AppError:
    return AppError(
        422,
        "validation_failed",
        Message("请求内容不符合要求", "The request is not valid"),
        errors=errors,
    )


def too_many_requests(retry_after_s: int) -> AppError:
    return AppError(
        429,
        "rate_limited",
        Message("操作过于频繁，请稍后再试", "Too many requests, try again later"),
        headers={"Retry-After": str(max(1, retry_after_s))},
    )


_STATUS_TITLES = {
    400: ("请求有误", "Bad request"),
    401: ("未登录", "Unauthorized"),
    403: ("无权访问", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("不支持的请求方法", "Method not allowed"),
    409: ("冲突", "Conflict"),
    413: ("请求体过大", "Payload too large"),
    415: ("不支持的内容类型", "Unsupported media type"),
    422: ("无法处理", "Unprocessable content"),
    429: ("请求过多", "Too many requests"),
    500: ("服务器内部错误", "Internal server error"),
    502: ("上游服务回复有误", "Bad gateway"),
    503: ("服务暂不可用", "Service unavailable"),
}

_GENERIC_BY_STATUS = {
    400: ("bad_request", Message("请求有误", "Bad request")),
    401: ("unauthorized", Message("请先登录", "Sign-in required")),
    403: ("forbidden", Message("无权执行此操作", "Not allowed")),
    404: ("not_found", Message("资源不存在", "Not found")),
    405: ("method_not_allowed", Message("不支持该请求方法", "Method not allowed")),
    413: ("payload_too_large", Message("请求体过大", "Request body too large")),
    415: ("unsupported_media_type", Message("不支持的内容类型", "Unsupported media type")),
    429: ("rate_limited", Message("操作过于频繁，请稍后再试", "Too many requests")),
    503: ("service_unavailable", Message("服务暂不可用", "Service unavailable")),
}


def problem_response(request: Request[Any, Any, Any], error: AppError) -> Response[dict[str, Any]]:
    english = wants_english(request)
    title_zh, title_en = _STATUS_TITLES.get(error.status, ("错误", "Error"))
    body: dict[str, Any] = {
        "type": f"https://lifecircle.sh.cn/problems/{error.code}",
        "title": title_en if english else title_zh,
        "status": error.status,
        "detail": error.message.en if english else error.message.zh,
        "code": error.code,
        "instance": request.url.path,
    }
    if error.errors:
        body["errors"] = error.errors
    headers = {"Content-Language": "en" if english else "zh-CN", **error.headers}
    return Response(body, status_code=error.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def send_problem(scope: Any, receive: Any, send: Any, error: AppError) -> None:
    """Answer with a problem document from raw ASGI middleware."""
    request: Request[Any, Any, Any] = Request(scope)
    await problem_response(request, error).to_asgi_response(None, request)(scope, receive, send)


# --- Validation messages -------------------------------------------------------------------
# One table: the kind of a failed check → its message in both languages, the check's values
# filled in. Both validators are mapped onto these kinds: pydantic for bodies (its error
# ``type`` and ``ctx``), msgspec for query, path and header values (Litestar's signature model;
# its messages are the only thing it reports, parsed by the patterns below). A message never
# names its field: ``field`` does, with the name the client sent (an alias such as ``from``,
# ``options[2].label`` for nested values).

# A field's message for text holding control characters (src/core/inputs.py).
CONTROL_CHARACTER_MESSAGE = Message("不能包含控制字符", "must not contain control characters")

_FIELD_MESSAGES: dict[str, Message] = {
    "missing": Message("必填", "required"),
    "extra": Message("不是可接受的字段", "is not an accepted field"),
    "type": Message("必须是{what}", "must be {what}"),
    "ge": Message("不能小于 {limit}", "must be at least {limit}"),
    "gt": Message("必须大于 {limit}", "must be greater than {limit}"),
    "le": Message("不能大于 {limit}", "must be at most {limit}"),
    "lt": Message("必须小于 {limit}", "must be less than {limit}"),
    "multiple_of": Message("必须是 {limit} 的倍数", "must be a multiple of {limit}"),
    "min_chars": Message("至少 {limit} 个字符", "must be at least {limit} characters long"),
    "max_chars": Message("最多 {limit} 个字符", "must be at most {limit} characters long"),
    "min_items": Message("至少 {limit} 项", "must have at least {limit} items"),
    "not_empty": Message("不能为空", "must not be empty"),
    "max_items": Message("最多 {limit} 项", "must have at most {limit} items"),
    "pattern": Message("格式不正确", "is not in the expected format"),
    "choice": Message("必须是以下之一：{choices}", "must be one of: {choices}"),
    "timezone": Message("必须带时区（如 +08:00）", "must carry a UTC offset (e.g. +08:00)"),
    "finite": Message("必须是有限的数字", "must be a finite number"),
    "json": Message("不是合法的 JSON", "is not valid JSON"),
    "control": CONTROL_CHARACTER_MESSAGE,
    # A rule of a schema's own validator: its text is English (src/*/schemas.py).
    "rule": Message("不符合要求：{text}", "{text}"),
    "invalid": Message("取值无效", "is not valid"),
}

# What a value must be, for kind ``type``.
_TYPE_NAMES: dict[str, Message] = {
    "int": Message("整数", "an integer"),
    "float": Message("数字", "a number"),
    "bool": Message(" true 或 false", "true or false"),
    "str": Message("字符串", "a string"),
    "array": Message("数组", "an array"),
    "object": Message("对象", "an object"),
    "uuid": Message("合法的 ID（UUID）", "a valid id (UUID)"),
    "datetime": Message(
        " RFC 3339 时间（如 2026-05-01T09:00:00+08:00）",
        "an RFC 3339 time (e.g. 2026-05-01T09:00:00+08:00)",
    ),
    "date": Message("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)"),
    "time": Message("时间（HH:MM:SS）", "a time (HH:MM:SS)"),
    "url": Message("网址", "a URL"),
    "null": Message(" null", "null"),
}

# pydantic error type → (kind, what) for type errors, (kind, ctx key of the limit) otherwise.
_PYDANTIC_TYPES: dict[str, tuple[str, str]] = {
    **{
        name: ("type", what)
        for what, names in {
            "int": ("int_type", "int_parsing", "int_from_float", "int_parsing_size"),
            "float": ("float_type", "float_parsing", "decimal_type", "decimal_parsing"),
            "bool": ("bool_type", "bool_parsing"),
            "str": ("string_type", "string_unicode", "string_sub_type"),
            "array": ("list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type"),
            "object": ("dict_type", "model_type", "model_attributes_type", "dataclass_type"),
            "uuid": ("uuid_type", "uuid_parsing", "uuid_version"),
            "datetime": (
                "datetime_type",
                "datetime_parsing",
                "datetime_from_date_parsing",
                "datetime_object_invalid",
            ),
            "date": (
                "date_type",
                "date_parsing",
                "date_from_datetime_parsing",
                "date_from_datetime_inexact",
            ),
            "time": ("time_type", "time_parsing"),
            "url": ("url_type", "url_parsing", "url_syntax_violation", "url_scheme"),
            "null": ("none_required",),
        }.items()
        for name in names
    },
    "missing": ("missing", ""),
    "extra_forbidden": ("extra", ""),
    "greater_than": ("gt", "gt"),
    "greater_than_equal": ("ge", "ge"),
    "less_than": ("lt", "lt"),
    "less_than_equal": ("le", "le"),
    "multiple_of": ("multiple_of", "multiple_of"),
    "string_too_short": ("min_chars", "min_length"),
    "string_too_long": ("max_chars", "max_length"),
    "too_short": ("min_items", "min_length"),
    "too_long": ("max_items", "max_length"),
    "string_pattern_mismatch": ("pattern", ""),
    "enum": ("choice", "expected"),
    "literal_error": ("choice", "expected"),
    "union_tag_invalid": ("choice", "expected_tags"),
    "timezone_aware": ("timezone", ""),
    "finite_number": ("finite", ""),
    "json_invalid": ("json", ""),
    "json_type": ("json", ""),
    "value_error": ("rule", "error"),
    "assertion_error": ("rule", "error"),
    "control_character": ("control", ""),
}

# msgspec's messages (the `` - at `$…` `` tail already cut by Litestar), in the order tried.
_MSGSPEC_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Expected `(?P<what>[^`]+)`, got `[^`]+`$"), "type"),
    (re.compile(r"^Expected `(?P<what>str)` of length >= (?P<limit>\d+)$"), "min_chars"),
    (re.compile(r"^Expected `(?P<what>str)` of length <= (?P<limit>\d+)$"), "max_chars"),
    (re.compile(r"^Expected `(?P<what>[^`]+)` of length >= (?P<limit>\d+)$"), "min_items"),
    (re.compile(r"^Expected `(?P<what>[^`]+)` of length <= (?P<limit>\d+)$"), "max_items"),
    (re.compile(r"^Expected `(?P<what>[^`]+)` >= (?P<limit>\S+)$"), "ge"),
    (re.compile(r"^Expected `(?P<what>[^`]+)` > (?P<limit>\S+)$"), "gt"),
    (re.compile(r"^Expected `(?P<what>[^`]+)` <= (?P<limit>\S+)$"), "le"),
    (re.compile(r"^Expected `(?P<what>[^`]+)` < (?P<limit>\S+)$"), "lt"),
    (
        re.compile(r"^Expected `(?P<what>[^`]+)` that is a multiple of (?P<limit>\S+)$"),
        "multiple_of",
    ),
    (re.compile(r"^Expected `(?P<what>[^`]+)` matching regex "), "pattern"),
    (re.compile(r"^Invalid enum value "), "choice"),
    (re.compile(r"^Invalid RFC3339 encoded (?P<what>datetime|date|time)$"), "type"),
    (re.compile(r"^Invalid (?P<what>UUID)$"), "type"),
    (re.compile(r"^Expected `datetime` with a timezone component$"), "timezone"),
    (re.compile(r"^Object missing required field `(?P<sub>[^`]+)`$"), "missing"),
    (re.compile(r"^Object contains unknown field `(?P<sub>[^`]+)`$"), "extra"),
]


def _number(value: Any) -> str:
    """``1`` for 1.0, ``-90`` for "-90.0": limits read as a person writes them."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return str(value)


def _what(name: str) -> str:
    """A type as ``_TYPE_NAMES`` keys it: msgspec says ``int | null``, ``UUID``."""
    for part in name.split("|"):
        part = part.strip().lower()
        if part != "null":
            return part
    return "null"


def field_message(kind: str, english: bool, **values: Any) -> str:
    """The message of one failed check in the caller's language, its values filled in."""
    template = _FIELD_MESSAGES.get(kind, _FIELD_MESSAGES["invalid"])
    if kind == "type":
        what = _TYPE_NAMES.get(_what(str(values.get("what", ""))))
        if what is None:
            template = _FIELD_MESSAGES["invalid"]
        else:
            values = {**values, "what": what.en if english else what.zh}
    if kind == "choice":
        choices = [str(c) for c in values.get("choices") or []]
        if not choices:
            template = _FIELD_MESSAGES["invalid"]
        values = {**values, "choices": (", " if english else "、").join(choices)}
    if "limit" in values:
        values = {**values, "limit": _number(values["limit"])}
        if kind in ("min_chars", "min_items") and values["limit"] == "1":
            template = _FIELD_MESSAGES["not_empty"]
    text = template.en if english else template.zh
    try:
        return text.format(**values).strip()
    except (KeyError, IndexError):
        fallback = _FIELD_MESSAGES["invalid"]
        return fallback.en if english else fallback.zh


def _unwrap(tp: Any) -> Any:
    """The type under ``Annotated`` and ``Optional``; a real union is left as it is."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _union_member(members: tuple[Any, ...], tag: str) -> Any:
    """The member of a union a pydantic ``loc`` element names: a discriminator's value or
    a member's type name."""
    for member in members:
        member = _unwrap(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            if member.__name__ == tag:
                return member
            for info in member.model_fields.values():
                literal = _unwrap(info.annotation)
                if get_origin(literal) is Literal and tag in [str(a) for a in get_args(literal)]:
                    return member
        elif getattr(member, "__name__", None) == tag:
            return member
    return Any


def wire_path(root: Any, loc: Sequence[str | int]) -> str:
    """A pydantic error ``loc`` as the client spells the field: ``options[2].label``.

    Walks the model along the ``loc`` so that the elements pydantic adds for a union (the
    member's tag or type name, which the client never wrote) are left out; aliases are
    already in ``loc`` (pydantic reports them)."""
    out = ""
    tp = root
    for item in loc:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            tp = _union_member(get_args(tp), str(item))
            continue
        if isinstance(item, int):
            out += f"[{item}]"
            args = get_args(tp)
            tp = args[0] if origin in (list, set, frozenset, tuple) and args else Any
            continue
        out += f".{item}" if out else str(item)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = tp.model_fields
            info = fields.get(item) or next((f for f in fields.values() if f.alias == item), None)
            tp = info.annotation if info is not None else Any
        elif origin is dict and get_args(tp):
            tp = get_args(tp)[1]
        else:
            tp = Any
    return out or "body"


def _choices_from_expected(expected: str) -> list[str]:
    """pydantic's ``'a', 'b' or 'c'`` as ``["a", "b", "c"]``."""
    quoted = re.findall(r"'((?:[^'\\]|\\.)*)'", expected)
    if quoted:
        return quoted
    return [p for p in re.split(r",\s*|\s+or\s+", expected) if p]


def _pydantic_field_error(root: Any, error: dict[str, Any], english: bool) -> dict[str, str]:
    kind, key = _PYDANTIC_TYPES.get(str(error.get("type")), ("invalid", ""))
    ctx = error.get("ctx") or {}
    loc = tuple(error.get("loc") or ())
    values: dict[str, Any] = {}
    if kind == "type":
        values["what"] = key
    elif kind == "choice":
        values["choices"] = _choices_from_expected(str(ctx.get(key, "")))
    elif kind == "rule":
        values["text"] = str(ctx.get(key, error.get("msg", "")))
    elif key:
        values["limit"] = ctx.get(key)
    field = wire_path(root, loc)
    if str(error.get("type", "")).startswith("union_tag_"):
        # The discriminator field of a tagged union is missing or holds no member's tag.
        discriminator = str(ctx.get("discriminator", "")).strip("'")
        field = f"{field}.{discriminator}" if loc else discriminator
        if error.get("type") == "union_tag_not_found":
            kind = "missing"
    return {"field": field, "message": field_message(kind, english, **values)}


def _choices_of(tp: Any) -> list[str]:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return [str(m.value) for m in tp]
    if get_origin(tp) is Literal:
        return [str(a) for a in get_args(tp)]
    return []


def _parameter(request: Request[Any, Any, Any], name: str) -> Any:
    """The handler's parameter ``name`` (its ``FieldDefinition``), or None."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    parameters = getattr(signature, "parameters", None) or {}
    return parameters.get(name)


def _msgspec_field_error(
    request: Request[Any, Any, Any], item: dict[str, Any], english: bool
) -> dict[str, str]:
    key = str(item.get("key") or "")
    name, _, rest = key.partition(".")
    parameter = _parameter(request, name)
    # Litestar names a value by the handler's argument (``date_from``); the client sent the
    # parameter's own name (``QueryParameter(name="from")``).
    alias = getattr(getattr(parameter, "kwarg_definition", None), "name", None)
    field = (alias or name or str(item.get("source") or "query")) + (f".{rest}" if rest else "")
    message = str(item.get("message", ""))
    for pattern, kind in _MSGSPEC_PATTERNS:
        match = pattern.match(message)
        if match is None:
            continue
        values: dict[str, Any] = match.groupdict()
        if sub := values.pop("sub", None):
            field = f"{field}.{sub}"
        if kind == "choice" and parameter is not None:
            values["choices"] = _choices_of(parameter.annotation)
        return {"field": field, "message": field_message(kind, english, **values)}
    return {"field": field, "message": field_message("invalid", english)}


def _body_type(request: Request[Any, Any, Any]) -> Any:
    parameter = _parameter(request, "data")
    return parameter.annotation if parameter is not None else Any


def _translate_validation(request: Request[Any, Any, Any], exc: ValidationException) -> AppError:
    english = wants_english(request)
    cause = exc.__cause__
    errors: list[dict[str, str]] = []
    if isinstance(cause, KeyError) and cause.args:
        # A required parameter is absent: Litestar's KeyError holds its wire name.
        errors.append({"field": str(cause.args[0]), "message": field_message("missing", english)})
    elif isinstance(body_errors := getattr(cause, "errors", None), list):
        # pydantic's errors of the body (ExtendedMsgSpecValidationError carries them).
        root = _body_type(request)
        errors = [
            _pydantic_field_error(root, e, english) for e in body_errors if isinstance(e, dict)
        ]
    else:
        extra = exc.extra if isinstance(exc.extra, list) else []
        errors = [
            _msgspec_field_error(request, item, english) for item in extra if isinstance(item, dict)
        ]
    unique = list({(e["field"], e["message"]): e for e in errors}.values())
    if not unique:
        unique.append({"field": "body", "message": field_message("invalid", english)})
    return validation_failed(unique)


def app_error_handler(request: Request[Any, Any, Any], exc: AppError) -> Response[dict[str, Any]]:
    return problem_response(request, exc)


def http_exception_handler(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    if isinstance(exc, ValidationException):
        return problem_response(request, _translate_validation(request, exc))
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        status = 404
    elif isinstance(exc, NotAuthorizedException):
        status = 401
    elif isinstance(exc, PermissionDeniedException):
        status = 403
    elif isinstance(exc, LitestarMethodNotAllowed):
        status = 405
    if status >= 500:
        return internal_error_handler(request, exc)
    code, message = _GENERIC_BY_STATUS.get(
        status, ("bad_request", Message("请求有误", "Bad request"))
    )
    # Litestar raises ClientException from the SerializationException of a body that does
    # not decode; its text varies ("malformed", "truncated", …), its cause does not.
    if status == 400 and isinstance(exc.__cause__, SerializationException):
        code, message = (
            "malformed_body",
            Message("请求体不是合法的 JSON", "The body is not valid JSON"),
        )
    headers = dict(exc.headers or {})
    return problem_response(request, AppError(status, code, message, headers=headers))


def _dependency_down(exc: BaseException) -> str | None:
    """``database`` or ``redis`` when the error means that dependency cannot be reached."""
    import asyncpg
    import redis.exceptions
    import sqlalchemy.exc

    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return "redis"
        if isinstance(
            seen,
            asyncpg.exceptions.PostgresConnectionError
            | asyncpg.exceptions.CannotConnectNowError
            | asyncpg.exceptions.TooManyConnectionsError
            | asyncpg.exceptions.AdminShutdownError
            | asyncpg.exceptions.InterfaceError
            | sqlalchemy.exc.TimeoutError
            | ConnectionError,
        ):
            return "database"
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return "database"
        seen = seen.__cause__ or seen.__context__
    return None


def _too_deep(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, RecursionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def internal_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    if _too_deep(exc) and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        # Backstop: the before_request hook (src/core/inputs.py) refuses bodies nested deeper
        # than its bound; a recursion that still happens on a request with a body is that
        # body's doing. Logged, since it means a decoding path the bound does not cover.
        logger.warning("recursion on a request body", extra={"path": request.url.path})
        return problem_response(
            request,
            AppError(
                400,
                "malformed_body",
                Message("请求体嵌套过深", "The body is nested too deeply"),
            ),
        )
    down = _dependency_down(exc)
    if down is not None:
        # A dependency outage is not a bug: say so, and invite a retry (nothing was committed).
        logger.warning("%s unavailable", down, extra={"path": request.url.path})
        return problem_response(
            request,
            AppError(
                503,
                f"{down}_unavailable",
                Message("服务暂不可用，请稍后重试", "Service unavailable for a moment, retry"),
                headers={"Retry-After": "2"},
            ),
        )
    logger.exception("unhandled error", extra={"path": request.url.path}, exc_info=exc)
    error = AppError(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        Message("服务器开小差了，请稍后再试", "Something went wrong on our side, try again later"),
    )
    return problem_response(request, error)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    AppError: app_error_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}

__all__ = [
    "CONTROL_CHARACTER_MESSAGE",
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "AppError",
    "Message",
    "bad_request",
    "conflict",
    "field_message",
    "forbidden",
    "not_found",
    "problem_response",
    "send_problem",
    "too_many_requests",
    "unauthorized",
    "unprocessable",
    "validation_failed",
    "wants_english",
]
