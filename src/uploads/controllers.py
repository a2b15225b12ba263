from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from src.core.deps import CurrentUser, DbSession
from src.core.errors import AppError, Message, not_found
from src.uploads import service
from src.uploads.schemas import UploadOut, upload_url
from src.uploads.storage import storage_for

# The whole multipart body may carry a 10 MB file plus its headers; the file's own size is
# checked against ``settings.upload_max_bytes`` (413).
UPLOAD_BODY_LIMIT = 10 * 1024 * 1024 + 64 * 1024


class UploadController(Controller):
    path = "/api/v1/uploads"
    tags = ["uploads"]

    @post(
        "/",
        summary="Upload an image (JPEG, PNG or WebP; EXIF removed)",
        request_max_body_size=UPLOAD_BODY_LIMIT,
    )
    async def upload(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        data: Annotated[dict[str, UploadFile], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> UploadOut:
        settings = state.settings
        await state.limiter.check(
            f"upload:{principal.user_id}", settings.upload_limit, settings.upload_window_s
        )
        file = data.get("file") if isinstance(data, dict) else None
        if not isinstance(file, UploadFile):
            raise AppError(
                422,
                "validation_failed",
                Message("请求内容不符合要求", "The request is not valid"),
                errors=[{"field": "file", "message": "an image file is required"}],
            )
        content = await file.read(settings.upload_max_bytes + 1)
        upload = await service.store_image(
            db_session,
            storage_for(state),
            principal.user_id,
            content,
            max_bytes=settings.upload_max_bytes,
            max_pixels=settings.upload_max_pixels,
        )
        return UploadOut(
            id=upload.id,
            url=upload_url(upload.id),
            content_type=upload.content_type,
            width=upload.width,
            height=upload.height,
            size=upload.size,
        )

    @get("/{upload_id:uuid}", summary="An uploaded image", include_in_schema=True)
    async def download(
        self, state: State, db_session: DbSession, upload_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        # Ids are UUIDv7 with 74 random bits: unguessable, so images load in <image src>.
        upload = await service.get_upload(db_session, upload_id)
        content = await storage_for(state).get(upload.storage_key)
        if content is None:
            raise not_found("文件", "File")
        return Response(
            content,
            media_type=upload.content_type,
            headers={
                "Cache-Control": "public, max-age=31536000, immutable",
                "X-Content-Type-Options": "nosniff",
            },
        )
