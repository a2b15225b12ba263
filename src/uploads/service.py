from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.errors import AppError, Message, not_found
from src.core.ids import new_id
from src.models.project import ProjectProgressPhoto
from src.models.proposal import ProposalPhoto
from src.models.rating import RatingPhoto
from src.models.upload import Upload
from src.uploads.images import clean_image
from src.uploads.storage import Storage


def too_large(max_bytes: int) -> AppError:
    mb = max_bytes // (1024 * 1024)
    return AppError(
        413,
        "payload_too_large",
        Message(f"文件不能超过 {mb} MB", f"The file must not exceed {mb} MB"),
    )


async def store_image(
    session: AsyncSession,
    storage: Storage,
    owner_id: uuid.UUID,
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
) -> Upload:
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    clean = await asyncio.to_thread(clean_image, data, max_pixels)
    upload_id = new_id()
    key = upload_id.hex
    await storage.put(key, clean.data, clean.content_type)
    upload = Upload(
        id=upload_id,
        owner_id=owner_id,
        content_type=clean.content_type,
        size=len(clean.data),
        width=clean.width,
        height=clean.height,
        storage_key=key,
    )
    session.add(upload)
    await session.flush()
    return upload


async def get_upload(session: AsyncSession, upload_id: uuid.UUID) -> Upload:
    upload = await session.get(Upload, upload_id)
    if upload is None:
        raise not_found("文件", "File")
    return upload


async def claimable(
    session: AsyncSession,
    owner_id: uuid.UUID,
    upload_ids: Sequence[uuid.UUID],
    *,
    rating_id: uuid.UUID | None = None,
) -> bool:
    """True when every id is an upload of ``owner_id`` not yet attached to anything: a
    suggestion, a project progress update or a rating (except ``rating_id``'s own photos,
    which a changed rating may keep).

    The uploads' rows are locked first, so two requests claiming the same upload for
    different things run one after the other and the second sees the first's photo."""
    if not upload_ids:
        return True
    ids = sorted(set(upload_ids))
    await session.execute(
        select(Upload.id).where(Upload.id.in_(ids)).order_by(Upload.id).with_for_update()
    )
    on_rating = RatingPhoto.upload_id == Upload.id
    if rating_id is not None:
        on_rating = on_rating & (RatingPhoto.rating_id != rating_id)
    rows = await session.scalars(
        select(Upload.id)
        .outerjoin(ProposalPhoto, ProposalPhoto.upload_id == Upload.id)
        .outerjoin(ProjectProgressPhoto, ProjectProgressPhoto.upload_id == Upload.id)
        .outerjoin(RatingPhoto, on_rating)
        .where(
            Upload.id.in_(ids),
            Upload.owner_id == owner_id,
            ProposalPhoto.upload_id.is_(None),
            ProjectProgressPhoto.upload_id.is_(None),
            RatingPhoto.upload_id.is_(None),
        )
    )
    return len(set(rows.all())) == len(ids)
