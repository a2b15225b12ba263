"""Errors as RFC 9457 problem+json with a stable ``code``, Chinese by default, English on request.

Services raise :class:`AppError` (or a subclass); one set of exception handlers turns it, and
every framework error, into a problem document. No stack trace ever leaves the process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

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


def _field_of(key: str | None, source: str | None) -> str:
    if key:
        return key
    return source or "body"


# A field's message for text holding control characters (src/core/inputs.py).
CONTROL_CHARACTER_MESSAGE = Message("不能包含控制字符", "must not contain control characters")
# Messages of our own validators, shown in the caller's language (pydantic's own are English).
_LOCALIZED_MESSAGES = {CONTROL_CHARACTER_MESSAGE.en: CONTROL_CHARACTER_MESSAGE.zh}


def _translate_validation(exc: ValidationException, english: bool) -> AppError:
    errors: list[dict[str, str]] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            message = str(item.get("message", "invalid"))
            if not english:
                message = _LOCALIZED_MESSAGES.get(message, message)
            errors.append(
                {"field": _field_of(item.get("key"), item.get("source")), "message": message}
            )
    if not errors:
        errors.append({"field": "body", "message": exc.detail or "invalid"})
    return validation_failed(errors)


def app_error_handler(request: Request[Any, Any, Any], exc: AppError) -> Response[dict[str, Any]]:
    return problem_response(request, exc)


def http_exception_handler(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    if isinstance(exc, ValidationException):
        return problem_response(request, _translate_validation(exc, wants_english(request)))
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
