"""Base request/response models.

Requests reject unknown fields (no mass assignment) and control characters anywhere in their
input (see :mod:`src.core.inputs`), and their types are **strict**, one rule for every body:

- **Bodies are JSON, validated with JSON's own types.** :meth:`RequestModel.model_validate`
  (what Litestar's body decoder calls) validates its input as a JSON document in pydantic's
  strict mode: a boolean is only ``true``/``false`` (not ``"yes"``, ``"true"`` or ``1``), a
  number only a JSON number (not ``"31"``), an integer only a JSON integer (not ``1.5`` or
  ``1.0``), a string only a JSON string. What JSON can only spell as a string still comes as a
  string: RFC 3339 times, dates, UUIDs, enum values. A refused value is a 422
  ``validation_failed`` naming the field (messages: :mod:`src.core.errors`).
- **Query, path and header values are strings on the wire**, so they keep being parsed
  (by Litestar's signature model, msgspec in lax mode): ``?limit=31`` is 31, a date is
  ``YYYY-MM-DD``. A boolean parameter takes ``true``/``false``/``1``/``0`` (any case) and
  nothing else: ``?overdue=yes`` is a 422 like any other bad value.
"""

from __future__ import annotations

from typing import Any, Self

import msgspec
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.config import ExtraValues
from pydantic_core import InitErrorDetails, PydanticCustomError, to_json

from src.core.inputs import CONTROL_MESSAGE, find_control

CONTROL_ERROR_TYPE = "control_character"


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: ExtraValues | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """Validate ``obj`` as the JSON document it stands for, with strict JSON types.

        Litestar hands over the body already decoded; pydantic's strict mode on Python
        objects would refuse a UUID or a time given as a string, its strict mode on JSON
        takes exactly what JSON can say. So the value goes back to JSON text first (cheap:
        pydantic-core in Rust; bodies are bounded by ``max_body_bytes``). ``strict`` and
        ``from_attributes`` are ignored: a request is never lax nor an ORM object.
        """
        _refuse_control_characters(cls, obj)
        return super().model_validate_json(
            to_json(obj, inf_nan_mode="constants"),
            strict=True,
            extra=extra,
            context=context,
            by_alias=by_alias,
            by_name=by_name,
        )

    @classmethod
    def model_validate_json(
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: ExtraValues | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """The same rules for JSON text (a handler that reads its own body, the webhook)."""
        try:
            document = msgspec.json.decode(json_data)
        except msgspec.DecodeError:
            document = None  # pydantic says what is wrong with it
        _refuse_control_characters(cls, document)
        return super().model_validate_json(
            json_data,
            strict=True,
            extra=extra,
            context=context,
            by_alias=by_alias,
            by_name=by_name,
        )


def _refuse_control_characters(model: type[BaseModel], document: Any) -> None:
    """Control characters anywhere in a request document (every string and object key, the
    free-form fields' included), looked for once, on the raw document: not in a
    ``mode="before"`` validator, since pydantic validates what such a validator returns as
    Python objects, not as JSON, and strict types would then refuse a time or a UUID."""
    path = find_control(document)
    if path is None:
        return
    raise ValidationError.from_exception_data(
        model.__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError(CONTROL_ERROR_TYPE, CONTROL_MESSAGE.en),
                loc=path,
                input="",  # never echo the offending text
            )
        ],
    )


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def encode_model(model: BaseModel) -> msgspec.Raw:
    """How every pydantic model in a reply is written (the app's ``type_encoders``): by
    pydantic-core in one call, embedded as is by Litestar's msgspec encoder. Litestar's own
    encoder builds the ``model_dump(mode="json")`` dicts first and encodes them again, which
    cost a list page of 20 suggestions more than its SQL (py-spy, street list); the bytes are
    the same."""
    return msgspec.Raw(model_json(model))


def model_json(model: BaseModel) -> bytes:
    """A model's reply bytes, as :func:`encode_model` writes them (for a reply kept encoded)."""
    return model.__pydantic_serializer__.to_json(model)
