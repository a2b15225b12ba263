"""Base request/response models. Requests reject unknown fields (no mass assignment) and
control characters anywhere in their input (see :mod:`src.core.inputs`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from src.core.inputs import CONTROL_MESSAGE, find_control

CONTROL_ERROR_TYPE = "control_character"


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:
        # Before validation, on the raw input: every field of every request schema, the
        # free-form ones (``dict[str, Any]``) and object keys included, in one place.
        if not isinstance(data, dict):
            return data
        path = find_control(data)
        if path is None:
            return data
        raise ValidationError.from_exception_data(
            cls.__name__,
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
