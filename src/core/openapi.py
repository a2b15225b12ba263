"""The served OpenAPI document tells the truth; this module is the one place that makes it so.

Litestar derives paths, parameters and body schemas from the handlers. On start-up
(:func:`install_openapi_amendments`) the document is built once and amended by rules read
off the handlers, never by hand per controller:

- **Component names** are unique: when two schema classes share a name, Litestar qualifies
  them as ``votes_schemas_PaperCountsIn``; we name them ``VotesPaperCountsIn`` (domain +
  class) and give them that ``title`` too (generators name their classes by title).
- **Maps** are objects with ``additionalProperties``: Litestar renders a ``dict`` field with
  size constraints as an array; every ``dict`` field of a pydantic model is re-derived from
  pydantic's own JSON schema.
- **Media types**: exports (CSV or XLSX by ``?format=``), images (QR, charts, uploads), the
  live event stream, each as what it is on the wire.
- **Security**: an operation whose handler does not take ``principal`` is public
  (``security: []``); one that takes ``maybe_principal`` accepts a bearer token or none.
- **Errors**: every failure an operation can answer, as ``application/problem+json`` (RFC
  9457) with our stable ``code``: 400/413/415/422 for bodies, 401/403 when signed-in, 404
  for path lookups, 409 for writes, 422 for parameters, 429 when rate limited, 503 when a
  dependency is down.
- **Headers**: ``Accept-Language`` on every operation, ``Idempotency-Key`` on POSTs (except
  those with ``opt={"idempotency": "off"}``), ``X-Request-Id`` on every response,
  ``Idempotent-Replayed`` on replayable replies, ``Retry-After`` on 429/503, ``ETag`` and a
  ``304`` on JSON GETs.
- **Operation ids**: short camelCase from the handler's name (see :func:`operation_ids`).
- **Tags** carry a description.
"""

from __future__ import annotations

import re
import types
import typing
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from pydantic import BaseModel, TypeAdapter

from src.core.errors import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error (RFC 9457). `code` is stable; `detail` is for people.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["validation_failed", "already_voted"]},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
METHODS = ("get", "put", "post", "delete", "patch")
SCHEMAS = "#/components/schemas/"

TAG_DESCRIPTIONS: dict[str, str] = {
    "system": "Liveness and readiness of the service.",
    "identity": "Sign-in (city portal, WeChat, development), tokens and the caller's own data.",
    "areas": "Districts, streets and communities: the places everything belongs to.",
    "administration": "Staff roles, residents and area set-up for committee and admins.",
    "categories": "Suggestion and facility categories (admins edit them).",
    "proposals": "Residents' suggestions: submit, support, react, reply, moderate.",
    "moderation": "Reports on content and the moderators' queue.",
    "events": "Meetings (deliberation and voting events) and their life cycle.",
    "votes": "Ballots, check-in, paper counts, results, live streams and the big screen.",
    "ratings": "Residents' ratings of a meeting by criteria, and paper rating counts.",
    "surveys": "Questionnaires, responses, results and charts.",
    "needs": "Needs collected from suggestions and surveys, turned into projects.",
    "projects": "Projects and their progress reports and satisfaction.",
    "facilities": "Facilities near a place and a street's service coverage.",
    "facility reviews": "Residents' reviews of facilities and their ranking.",
    "decision support": "Figures for deciding: hotspots, statistics, satisfaction.",
    "monthly reports": "Streets' monthly reports filed to the district.",
    "exports": "CSV and XLSX exports, streamed.",
    "uploads": "Images attached to suggestions and ratings.",
    "city portal": "The city portal integration: webhook, outbox and metrics.",
}

# Media types of the replies that are no JSON (exports follow their `format` query).
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
_BINARY_REPLIES: dict[str, tuple[str, ...]] = {
    # handler name → media types, for handlers whose reply type is decided at run time
    "brief": (XLSX,),
    "chart": ("image/svg+xml; charset=utf-8", "image/png"),
    "download": ("image/jpeg", "image/png", "image/webp"),
}

# Operation ids: handler names that say nothing without their resource.
_QUALIFIED_VERBS = frozenset(
    {"cast", "create", "update", "submit", "list", "detail", "grant", "revoke", "file", "edit"}
    | {"open", "close", "download", "retry", "support", "unsupport"}
)
_ALIASES = {"detail": "get", "mine": "get_my", "change_mine": "change_my"}

_HEADERS: dict[str, Any] = {
    "XRequestId": {
        "description": "The request's id (the client's own `X-Request-Id` when it sent one).",
        "schema": {"type": "string"},
    },
    "IdempotentReplayed": {
        "description": "`true` when this is the stored reply to an earlier request with the "
        "same `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "RetryAfter": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "ETag": {
        "description": "The representation's tag; send it back as `If-None-Match`.",
        "schema": {"type": "string"},
    },
}
_PARAMETERS: dict[str, Any] = {
    "AcceptLanguage": {
        "name": "Accept-Language",
        "in": "header",
        "required": False,
        "description": "Messages are Chinese by default, English when the first language is `en`.",
        "schema": {"type": "string", "examples": ["zh-CN", "en"]},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "1–255 visible ASCII characters, scoped to the caller. A repeat with "
        "the same key and body gets the first reply (`Idempotent-Replayed: true`); another "
        "body → 422 `idempotency_key_reused`; while the first still runs → 409 "
        "`request_in_progress`.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "An `ETag` from an earlier reply: 304 when it is still current.",
        "schema": {"type": "string"},
    },
}
_ERRORS = {
    400: "The body cannot be read (malformed JSON, nested too deep) or the cursor is invalid.",
    401: "No valid bearer token.",
    403: "The caller's role or area does not allow it.",
    404: "Not found (or not visible to the caller).",
    409: "Conflicts with the current state (or the same `Idempotency-Key` is still running).",
    413: "The body is too large.",
    415: "The body's content type is not accepted.",
    422: "The request is not valid (`errors` names the fields) or breaks a rule.",
    429: "Too many requests.",
    502: "An outside service (WeChat, the city portal) answered wrongly.",
    503: "A service this depends on is unavailable; try again shortly.",
}
_UNLIMITED_PATHS = frozenset({"/health", "/ready"})  # src/core/ratelimit.py exempts them
_NO_DEPENDENCY_PATHS = frozenset({"/health"})  # answers without the database or Redis
# Failures answered as the operation's own JSON rather than as a problem.
_JSON_FAILURES: dict[tuple[str, int], str] = {
    ("/ready", 503): "The database or Redis does not answer (it says `down`).",
}
# Handlers that read the bearer token themselves instead of through ``principal``.
_READS_TOKEN_ITSELF = frozenset({"src.votes.controllers.cast"})
# Public handlers that check a credential of their own (401 when it is wrong): a display
# link, the portal's signature, a sign-in ticket or code, a refresh token.
_OWN_CREDENTIAL = frozenset(
    {
        "src.votes.controllers.display_view",
        "src.integrations.city_portal.controllers.webhook",
        "src.integrations.city_portal.controllers.portal",
        "src.identity.controllers.wechat",
        "src.identity.controllers.refresh",
    }
)
# Sign-in handlers: a disabled account is refused (403).
_SIGN_IN = frozenset(
    {
        "src.integrations.city_portal.controllers.portal",
        "src.identity.controllers.wechat",
        "src.identity.controllers.refresh",
        "src.identity.controllers.dev_login",
    }
)
# Handlers that ask an outside service (WeChat, the city portal): 502 when it answers wrongly.
_ASKS_UPSTREAM = frozenset(
    {"src.integrations.city_portal.controllers.portal", "src.identity.controllers.wechat"}
)
# Handlers whose reply has a second success status, and what it means.
_ALSO_SUCCEEDS: dict[str, tuple[str, str]] = {
    "src.events.controllers.check_in": ("200", "Already checked in: the earlier check-in."),
}


# --- the handlers behind the document --------------------------------------------------------


def _handlers(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    found: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    found[(route.path_format or "/", method.lower())] = handler
    return found


def _parameters(handler: HTTPRouteHandler) -> dict[str, Any]:
    return {
        name: parameter.annotation
        for name, parameter in handler.parsed_fn_signature.parameters.items()
    }


# Handlers that read their raw body themselves (the signature covers the bytes); the edge
# still checks it (src/core/inputs.py), so it fails like any other body.
_READS_BODY_ITSELF = frozenset({"src.integrations.city_portal.controllers.webhook"})


def _takes_body(handler: HTTPRouteHandler) -> bool:
    return (
        "data" in handler.parsed_fn_signature.parameters
        or _qualified(handler) in _READS_BODY_ITSELF
    )


# --- component names -------------------------------------------------------------------------


def _component_renames(schemas: dict[str, Any]) -> dict[str, str]:
    """``votes_schemas_PaperCountsIn`` → ``VotesPaperCountsIn`` (Litestar's qualified names
    of clashing classes); ``Page_AreaOut_`` → ``AreaOutPage``."""
    renames: dict[str, str] = {}
    for name in schemas:
        if "_schemas_" in name:
            domain, _, cls = name.partition("_schemas_")
            renames[name] = "".join(w.capitalize() for w in domain.split("_")) + cls
        elif match := re.fullmatch(r"Page_(\w+)_", name):
            renames[name] = match.group(1) + "Page"
    if len(set(renames.values()) | (set(schemas) - set(renames))) != len(schemas):
        raise RuntimeError(f"component renames clash: {renames}")
    return renames


def _rewrite_refs(node: Any, renames: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMAS) and ref[len(SCHEMAS) :] in renames:
            node["$ref"] = SCHEMAS + renames[ref[len(SCHEMAS) :]]
        for value in node.values():
            _rewrite_refs(value, renames)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, renames)


def unique_component_names(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    renames = _component_renames(components)
    for old, new in renames.items():
        component = components.pop(old)
        component["title"] = new
        components[new] = component
    schema["components"]["schemas"] = dict(sorted(components.items()))
    _rewrite_refs(schema, renames)
    titles = Counter(c.get("title", n) for n, c in components.items())
    for name, component in components.items():
        if titles[component.get("title", name)] > 1:
            component["title"] = name


# --- maps ------------------------------------------------------------------------------------


def _models(annotation: Any, seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    """Every pydantic model reachable from a type annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models(field.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        yield from _models(arg, seen)


def _is_map(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_map(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    if origin is typing.Annotated:
        return _is_map(typing.get_args(annotation)[0])
    return origin is dict or annotation is dict


def _qualified_name(model: type[BaseModel]) -> str:
    """The component name of a class whose name clashes: its domain, then its name."""
    domain = model.__module__.split(".")[1]
    return "".join(w.capitalize() for w in domain.split("_")) + model.__name__


def _model_for(name: str, title: str, by_title: dict[str, list[type[BaseModel]]]) -> Any:
    candidates = by_title.get(title, [])
    if len(candidates) == 1:
        return candidates[0]
    for models in by_title.values():  # a renamed clash: the domain is in the name
        for model in models:
            if name == _qualified_name(model):
                return model
    return None


def maps_as_objects(schema: dict[str, Any], handlers: dict[tuple[str, str], Any]) -> None:
    """Every ``dict`` field of a model, as pydantic describes it: an object whose values are
    ``additionalProperties`` (Litestar makes some of them arrays)."""
    seen: set[type[BaseModel]] = set()
    by_title: dict[str, list[type[BaseModel]]] = defaultdict(list)
    for handler in handlers.values():
        annotations = [*_parameters(handler).values(), handler.parsed_fn_signature.return_type]
        for annotation in annotations:
            raw = getattr(annotation, "annotation", annotation)
            for model in _models(raw, seen):
                by_title[model.__name__].append(model)
    for name, component in schema["components"]["schemas"].items():
        model = _model_for(name, component.get("title", name), by_title)
        if model is None:
            continue
        properties = component.get("properties", {})
        for field_name, field in model.model_fields.items():
            key = field.alias or field_name
            if key not in properties or not _is_map(field.annotation):
                continue
            annotated: Any = typing.Annotated[field.annotation, field]
            derived = TypeAdapter(annotated).json_schema(ref_template=SCHEMAS + "{model}")
            derived.pop("$defs", None)
            derived.pop("title", None)
            derived.pop("default", None)
            if description := properties[key].get("description"):
                derived["description"] = description
            properties[key] = derived


# --- operations ------------------------------------------------------------------------------


def _camel(words: list[str]) -> str:
    words = [w for w in words if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _static_segments(path: str) -> list[str]:
    return [
        s.split(".", 1)[0]
        for s in path.strip("/").split("/")
        if s and not s.startswith("{") and s not in ("api", "v1")
    ]


def _resource(path: str, name: str, taken: str = "") -> tuple[list[str], bool] | None:
    """The nearest static path segment that is not the handler's own word (nor already in
    ``taken``), and whether it comes after the handler's own segment in the path."""
    own = name.replace("_", "-")
    segments = _static_segments(path)
    for index in range(len(segments) - 1, -1, -1):
        segment = segments[index]
        if segment in (own, "mine") or _singular(segment) == own:
            continue
        if segment.startswith(own) or own.endswith(segment):
            continue
        if _singular(segment).replace("-", "").lower() in taken.lower():
            continue
        after = own in segments[:index] or _singular(own) in map(_singular, segments[:index])
        return segment.split("-"), after
    return None


def _is_path_noun(name: str, path: str) -> bool:
    segments = _static_segments(path)
    own = name.replace("_", "-")
    return own in segments or own in map(_singular, segments)


def _base_id(handler: HTTPRouteHandler, path: str, shared: bool) -> str:
    name = handler.handler_name.strip("_")
    words = _ALIASES.get(name, name).split("_")
    if name in _ALIASES or name in _QUALIFIED_VERBS:
        found = _resource(path, name)
        resource = found[0] if found else []
        if resource and name != "list":
            resource[-1] = _singular(resource[-1])
        return _camel(words + resource)
    if len(words) == 1 and (shared or _is_path_noun(name, path)):
        found = _resource(path, name)
        if found:
            resource, after = found
            resource[-1] = _singular(resource[-1])
            return _camel(words + resource if after else resource + words)
    return _camel(words)


def operation_ids(handlers: dict[tuple[str, str], HTTPRouteHandler]) -> dict[tuple[str, str], str]:
    """camelCase of the handler's name (``list_proposals`` → ``listProposals``), by rules:

    - a bare verb or ``mine`` takes its resource: ``cast`` on ``…/ballots`` → ``castBallot``,
      ``create`` on ``/projects`` → ``createProject``, ``mine`` on ``…/ratings/mine`` →
      ``getMyRating``;
    - a bare noun that is a segment of its path, or a name several handlers share, takes the
      nearest other segment, in path order: ``stats`` on ``/areas/{id}/stats`` →
      ``areaStats``, ``proposals`` on ``/exports/proposals`` → ``exportProposals``;
    - ids still shared are qualified, each by its nearest segment not yet in the id
      (``createProject`` on ``/needs/{id}/projects`` → ``needCreateProject``); one that has
      none left keeps its id, the rest take the method, then their order by path."""
    names = Counter(h.handler_name for h in handlers.values())
    ids = {
        key: _base_id(handler, key[0], names[handler.handler_name] > 1)
        for key, handler in sorted(handlers.items())
    }
    for _ in range(4):
        groups: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
        for key, name in ids.items():
            groups[name].append(key)
        clashing = [keys for keys in groups.values() if len(keys) > 1]
        if not clashing:
            return ids
        for keys in clashing:
            bare = []
            for key in keys:
                found = _resource(key[0], handlers[key].handler_name.strip("_"), ids[key])
                if found:
                    resource = found[0]
                    resource[-1] = _singular(resource[-1])
                    ids[key] = _camel([*resource, ids[key]])
                else:
                    bare.append(key)
            for index, key in enumerate(bare[1:] if len(bare) < len(keys) else bare):
                ids[key] = _camel([ids[key], key[1], str(index) if index else ""])
    return ids


def _problem(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _ERRORS[status],
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/XRequestId"}},
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": SCHEMAS + "Problem"}}},
    }
    if status in (429, 503):
        response["headers"]["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
    return response


def _error_statuses(path: str, method: str, handler: HTTPRouteHandler) -> set[int]:
    parameters = _parameters(handler)
    statuses = set() if path in _NO_DEPENDENCY_PATHS else {503}
    if path not in _UNLIMITED_PATHS:
        statuses.add(429)
    if _needs_bearer(handler):
        statuses |= {401, 403}
    if "maybe_principal" in parameters or _qualified(handler) in _OWN_CREDENTIAL:
        statuses.add(401)  # a token (or credential) that is sent must be valid
    if _qualified(handler) in _SIGN_IN:
        statuses.add(403)  # account_disabled
    if _qualified(handler) in _ASKS_UPSTREAM:
        statuses.add(502)
    if "{" in path or _takes_body(handler) or any(n.endswith("_id") for n in parameters):
        statuses.add(404)  # a lookup by path, by a query's id (`?community_id=`) or the body's
    if _takes_body(handler):
        statuses |= {400, 413, 415, 422}
    if "cursor" in parameters:
        statuses.add(400)  # invalid_cursor
    statuses.add(422)  # every query and path value is checked (src/core/inputs.py)
    if method != "get" or "{" in path:
        statuses.add(409)  # the state of what is written or looked up (`event_not_open`)
    if method == "post" and handler.opt.get("idempotency") != "off":
        statuses |= {409, 422}
    return statuses


def _qualified(handler: HTTPRouteHandler) -> str:
    return f"{handler.fn.__module__}.{handler.handler_name}"


def _needs_bearer(handler: HTTPRouteHandler) -> bool:
    return "principal" in _parameters(handler) or _qualified(handler) in _READS_TOKEN_ITSELF


def _reply_media_types(handler: HTTPRouteHandler) -> tuple[str, ...] | None:
    for annotation in _parameters(handler).values():
        if getattr(annotation, "__name__", "") == "ExportFormat":
            return (CSV, XLSX)
    if handler.handler_name in _BINARY_REPLIES:
        return _BINARY_REPLIES[handler.handler_name]
    media_type = str(handler.media_type)
    if media_type.startswith("image/"):
        return (media_type,)
    return None


def _amend_success(
    operation: dict[str, Any], method: str, handler: HTTPRouteHandler, idempotent: bool
) -> None:
    for status, response in list(operation["responses"].items()):
        if not status.startswith("2"):
            continue
        headers = response.setdefault("headers", {})
        headers["X-Request-Id"] = {"$ref": "#/components/headers/XRequestId"}
        if idempotent:
            headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/IdempotentReplayed"}
        content = response.get("content", {})
        if (media_types := _reply_media_types(handler)) is not None:
            response["content"] = {
                m: {"schema": {"type": "string"} if m.startswith("text/") else BINARY}
                for m in media_types
            }
        elif "text/event-stream" in content:
            content["text/event-stream"] = {"schema": {"type": "string"}}
        elif method == "get" and status == "200" and "application/json" in content:
            headers["ETag"] = {"$ref": "#/components/headers/ETag"}
            operation["responses"]["304"] = {
                "description": "Not modified: the `If-None-Match` tag is still current.",
                "headers": {
                    "ETag": {"$ref": "#/components/headers/ETag"},
                    "X-Request-Id": {"$ref": "#/components/headers/XRequestId"},
                },
            }
            operation.setdefault("parameters", []).append(
                {"$ref": "#/components/parameters/IfNoneMatch"}
            )


def amend_operation(
    operation: dict[str, Any], path: str, method: str, handler: HTTPRouteHandler, op_id: str
) -> None:
    operation["operationId"] = op_id
    parameters = _parameters(handler)
    if not _needs_bearer(handler):
        operation["security"] = [{}, {"BearerToken": []}] if "maybe_principal" in parameters else []
    idempotent = method == "post" and handler.opt.get("idempotency") != "off"
    operation.setdefault("parameters", []).append(
        {"$ref": "#/components/parameters/AcceptLanguage"}
    )
    if idempotent:
        operation["parameters"].append({"$ref": "#/components/parameters/IdempotencyKey"})
    responses = operation.setdefault("responses", {})
    for status in [s for s in responses if not s.startswith(("2", "3"))]:
        del responses[status]  # Litestar's guesses; ours follow
    if also := _ALSO_SUCCEEDS.get(_qualified(handler)):
        first = next(v for k, v in responses.items() if k.startswith("2"))
        responses[also[0]] = {**first, "description": also[1]}
    _amend_success(operation, method, handler, idempotent)
    for status in sorted(_error_statuses(path, method, handler)):
        if (path, status) in _JSON_FAILURES:
            responses[str(status)] = {
                **responses["200"],
                "description": _JSON_FAILURES[(path, status)],
            }
        else:
            responses[str(status)] = _problem(status)
    responses["default"] = {
        "description": "Any other error, as problem+json.",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": SCHEMAS + "Problem"}}},
    }
    operation["responses"] = dict(
        sorted(responses.items(), key=lambda kv: (kv[0] == "default", kv[0]))
    )


def amend_document(app: Litestar, schema: dict[str, Any]) -> None:
    """Amend Litestar's document in place (see the module's docstring)."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["headers"] = _HEADERS
    components["parameters"] = _PARAMETERS
    handlers = _handlers(app)
    unique_component_names(schema)
    maps_as_objects(schema, handlers)
    documented = {
        (path, method): handlers[(path, method)]
        for path, item in schema.get("paths", {}).items()
        for method in METHODS
        if method in item
    }
    ids = operation_ids(documented)
    used_tags: set[str] = set()
    for (path, method), handler in documented.items():
        operation = schema["paths"][path][method]
        amend_operation(operation, path, method, handler, ids[(path, method)])
        used_tags.update(operation.get("tags", []))
    schema["tags"] = [
        {"name": tag, "description": TAG_DESCRIPTIONS.get(tag, "")} for tag in sorted(used_tags)
    ]


def install_openapi_amendments(app: Litestar) -> None:
    """On start-up: build the document once and amend it before it is ever served."""
    amend_document(app, app.plugins.get(OpenAPIPlugin).provide_openapi_schema())
