"""Image checks: the format by content (JPEG, PNG, WebP only), a pixel cap against
decompression bombs, and a re-encode that drops EXIF (phones write the home's GPS there)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from src.core.errors import AppError, Message

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int


def unsupported() -> AppError:
    return AppError(
        415,
        "unsupported_image",
        Message("仅支持 JPEG、PNG、WebP 图片", "Only JPEG, PNG and WebP images are accepted"),
    )


def too_many_pixels() -> AppError:
    return AppError(
        422,
        "image_too_large",
        Message("图片像素过多", "The image has too many pixels"),
    )


def sniff(data: bytes) -> str | None:
    """The format named by the file's magic bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def clean_image(data: bytes, max_pixels: int) -> CleanImage:
    """Decode, check and re-encode ``data``; raise 415/422 ``AppError``s for bad images."""
    fmt = sniff(data)
    if fmt is None:
        raise unsupported()
    try:
        with warnings.catch_warnings():
            # Pillow warns, then refuses, above its own cap; both mean a bomb here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
            if width * height > max_pixels or width <= 0 or height <= 0:
                raise too_many_pixels()
            image.load()
            image = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            if fmt == "JPEG":
                if image.mode not in ("RGB", "L"):
                    image = image.convert("RGB")
                image.save(out, "JPEG", quality=88, optimize=True)
            elif fmt == "PNG":
                image.save(out, "PNG", optimize=False)
            else:
                image.save(out, "WEBP", quality=85)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_many_pixels() from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise unsupported() from exc
    return CleanImage(out.getvalue(), FORMATS[fmt], image.width, image.height)
