from __future__ import annotations

import uuid

from src.core.schemas import ResponseModel


class UploadOut(ResponseModel):
    id: uuid.UUID
    url: str
    content_type: str
    width: int
    height: int
    size: int


def upload_url(upload_id: uuid.UUID) -> str:
    return f"/api/v1/uploads/{upload_id}"
