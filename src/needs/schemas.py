from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import Field, model_validator

from src.core.schemas import RequestModel, ResponseModel
from src.models.need import NeedStatus
from src.models.proposal import ProposalStatus
from src.projects.schemas import YearlyListFields

SOURCES_MAX = 200
REASON_MAX = 500


class ProposalSourceIn(RequestModel):
    kind: Literal["proposal"]
    id: uuid.UUID


class SurveyOptionSourceIn(RequestModel):
    """An option of a needs survey question (src/needs/evidence.py checks it is in the need's
    area); its votes are the answers that chose it, online and paper."""

    kind: Literal["survey_option"]
    survey_id: uuid.UUID
    question_key: str = Field(min_length=1, max_length=64)
    option_key: str = Field(min_length=1, max_length=64)


SourceIn = Annotated[ProposalSourceIn | SurveyOptionSourceIn, Field(discriminator="kind")]


class NeedIn(RequestModel):
    """A need of one community (``community_id``) or of a whole street (``street_id``)."""

    title: str = Field(min_length=2, max_length=100)
    description: str = Field(default="", max_length=5000)
    category: str = Field(min_length=1, max_length=32)
    community_id: uuid.UUID | None = None
    street_id: uuid.UUID | None = None
    year: int = Field(ge=2000, le=2100, description="the year of the needs list")
    sources: list[SourceIn] = Field(default_factory=list, max_length=SOURCES_MAX)

    @model_validator(mode="after")
    def _one_area(self) -> NeedIn:
        if (self.community_id is None) == (self.street_id is None):
            raise ValueError("give exactly one of community_id and street_id")
        return self


class NeedPatch(RequestModel):
    """``status``: ``open → planned | declined``, with a ``reason``. ``sources`` replaces the
    need's evidence (only while it is open)."""

    title: str | None = Field(default=None, min_length=2, max_length=100)
    description: str | None = Field(default=None, max_length=5000)
    category: str | None = Field(default=None, min_length=1, max_length=32)
    status: NeedStatus | None = None
    reason: str | None = Field(default=None, min_length=1, max_length=REASON_MAX)
    sources: list[SourceIn] | None = Field(default=None, max_length=SOURCES_MAX)

    @model_validator(mode="after")
    def _complete(self) -> NeedPatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        if self.status in (NeedStatus.planned, NeedStatus.declined) and not self.reason:
            raise ValueError("a reason is required to plan or decline a need")
        if "reason" in self.model_fields_set and "status" not in self.model_fields_set:
            raise ValueError("reason goes with status")
        return self


class NeedProjectIn(YearlyListFields):
    """Next year's project from a planned need. Title, description and category default to
    the need's, ``year`` to the need's year + 1; ``community_id`` is required for a street's
    need (the community the project is built in). ``with_need_ids``: other planned needs of
    the same street the project also answers."""

    title: str | None = Field(default=None, min_length=2, max_length=100)
    description: str | None = Field(default=None, max_length=5000)
    category: str | None = Field(default=None, min_length=1, max_length=32)
    community_id: uuid.UUID | None = None
    year: int | None = Field(default=None, ge=2000, le=2100)
    with_need_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class EvidenceOut(ResponseModel):
    supports: int = Field(description="supports of the need's suggestions")
    survey_votes: int = Field(description="answers choosing the need's survey options")
    suggestions: int = Field(description="suggestions behind the need (hidden ones excluded)")


class NeedOut(ResponseModel):
    id: uuid.UUID
    year: int
    title: str
    description: str
    category: str
    community_id: uuid.UUID | None
    street_id: uuid.UUID
    evidence: EvidenceOut
    score: int = Field(description="suggestions + supports + survey_votes (see the needs docs)")
    rank: int | None = Field(default=None, description="1 = most evidence in this list")
    status: NeedStatus
    reason: str | None
    project_ids: list[uuid.UUID]
    created_at: dt.datetime
    updated_at: dt.datetime


class SourceOut(ResponseModel):
    kind: str
    id: uuid.UUID | None = None  # a suggestion
    survey_id: uuid.UUID | None = None
    question_key: str | None = None
    option_key: str | None = None


class NeedSuggestionOut(ResponseModel):
    id: uuid.UUID
    title: str
    community_id: uuid.UUID
    status: ProposalStatus
    support_count: int


class NeedDetailOut(NeedOut):
    sources: list[SourceOut]
    suggestions: list[NeedSuggestionOut]
