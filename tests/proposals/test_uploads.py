from __future__ import annotations

import io
import struct
import zlib

import httpx
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.proposals.helpers import make_world, submit

GPS_IFD = 0x8825


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 30.5)
    gps[3] = "E"
    gps[4] = (121.0, 24.0, 10.2)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # the fixture is real
    return data


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb's signature)."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, name: str = "photo.jpg"
) -> httpx.Response:
    return await client.post(
        "/api/v1/uploads", files={"file": (name, data, "image/jpeg")}, headers=headers
    )


async def test_jpeg_is_stored_without_exif_and_attached(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    response = await upload(client, w.h["resident"], jpeg_with_gps())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "image/jpeg" and (body["width"], body["height"]) == (64, 48)
    stored = await client.get(body["url"])
    assert stored.status_code == 200
    assert stored.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(stored.content))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert b"Exif" not in stored.content
    created = await submit(client, w.h["resident"], photo_ids=[body["id"]])
    assert created["photos"] == [{"id": body["id"], "url": body["url"]}]
    # One upload, one suggestion; nobody else's uploads.
    again = await client.post(
        "/api/v1/proposals",
        json={"title": "再用一次", "body": "x", "category": "other", "photo_ids": [body["id"]]},
        headers=w.h["resident"],
    )
    assert again.status_code == 422
    other = (await upload(client, w.h["neighbour"], jpeg_with_gps())).json()
    stolen = await client.post(
        "/api/v1/proposals",
        json={"title": "借用图片", "body": "x", "category": "other", "photo_ids": [other["id"]]},
        headers=w.h["resident"],
    )
    assert stolen.status_code == 422


async def test_png_and_webp_are_accepted(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    for fmt, mime in (("PNG", "image/png"), ("WEBP", "image/webp")):
        out = io.BytesIO()
        Image.new("RGB", (10, 10), (0, 128, 255)).save(out, fmt)
        # The name lies; the content decides.
        response = await upload(client, w.h["resident"], out.getvalue(), name="x.jpg")
        assert response.status_code == 201, response.text
        assert response.json()["content_type"] == mime


async def test_bad_uploads_are_refused(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    text = await upload(client, w.h["resident"], b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert text.status_code == 415 and text.json()["code"] == "unsupported_image"
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    assert (await upload(client, w.h["resident"], gif.getvalue())).status_code == 415
    truncated = jpeg_with_gps()[:200]
    assert (await upload(client, w.h["resident"], truncated)).status_code == 415
    bomb = await upload(client, w.h["resident"], png_claiming(100_000, 100_000), name="a.png")
    assert bomb.status_code == 422 and bomb.json()["code"] == "image_too_large"
    large = await upload(client, w.h["resident"], png_claiming(8_000, 8_000), name="b.png")
    assert large.status_code == 422 and large.json()["code"] == "image_too_large"
    huge = b"\xff\xd8\xff\xe0" + b"\0" * (10 * 1024 * 1024)
    too_big = await upload(client, w.h["resident"], huge)
    assert too_big.status_code == 413 and too_big.json()["code"] == "payload_too_large"
    missing = await client.post(
        "/api/v1/uploads", files={"other": ("a.jpg", b"x", "image/jpeg")}, headers=w.h["resident"]
    )
    assert missing.status_code == 422
    assert (await upload(client, {}, jpeg_with_gps())).status_code == 401
    unknown = await client.get("/api/v1/uploads/0190d7a4-1b2c-7d3e-8f40-123456789abc")
    assert unknown.status_code == 404
