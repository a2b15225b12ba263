"""Stream tickets: a short-lived signed permission to open one meeting's results stream
(``GET …/results/stream?ticket=``) for clients that cannot send headers on a stream (a
browser's ``EventSource``; the mini-program's chunked ``wx.request`` may use one too).

A ticket is stateless: ``<expiry>.<subject>.<signature>``, an HMAC-SHA256 (key derived from
the server secret) over the meeting id, the expiry and the subject. The subject is either a
signed-in caller (user and sign-in family: the stream checks the sign-in and the caller's
access again when it opens) or a display link (the projector: the stream checks the link
again when it opens and every ``event_display_recheck_s`` while it runs). A ticket only opens
a stream; once open, the stream lives on without it. Query strings are never logged
(src/core/logging.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass

from src.core.errors import AppError, unauthorized

_CONTEXT = b"lifecircle stream ticket v1"


@dataclass(frozen=True)
class Ticket:
    event_id: uuid.UUID
    user_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    link_id: uuid.UUID | None = None  # a display link's ticket

    def subject(self) -> str:
        if self.link_id is not None:
            return f"d{self.link_id.hex}"
        assert self.user_id is not None and self.family_id is not None
        return f"u{self.user_id.hex}{self.family_id.hex}"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def _sign(secret: str, event_id: uuid.UUID, expires: int, subject: str) -> str:
    message = f"{event_id.hex}.{expires}.{subject}".encode()
    mac = hmac.new(_key(secret), message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(mac).decode()


def issue(secret: str, ticket: Ticket, ttl_s: int, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + ttl_s)
    subject = ticket.subject()
    return f"{expires}.{subject}.{_sign(secret, ticket.event_id, expires, subject)}"


def invalid_ticket() -> AppError:
    return unauthorized(
        "stream_ticket_invalid", "实时结果凭证无效", "The stream ticket is not valid"
    )


def expired_ticket() -> AppError:
    return unauthorized(
        "stream_ticket_expired",
        "实时结果凭证已过期，请重新获取",
        "The stream ticket has expired; ask for a new one",
    )


def verify(secret: str, event_id: uuid.UUID, raw: str, now: float | None = None) -> Ticket:
    """The ticket's subject for this meeting, or 401 (a ticket of another meeting, a forged
    or altered one: ``stream_ticket_invalid``; an old one: ``stream_ticket_expired``)."""
    parts = raw.strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) not in (33, 65):
        raise invalid_ticket()
    expires_text, subject, signature = parts
    expires = int(expires_text)
    expected = _sign(secret, event_id, expires, subject)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise invalid_ticket()
    if expires < (time.time() if now is None else now):
        raise expired_ticket()
    try:
        if subject[0] == "d" and len(subject) == 33:
            return Ticket(event_id, link_id=uuid.UUID(hex=subject[1:]))
        if subject[0] == "u" and len(subject) == 65:
            return Ticket(
                event_id,
                user_id=uuid.UUID(hex=subject[1:33]),
                family_id=uuid.UUID(hex=subject[33:]),
            )
    except ValueError:
        pass
    raise invalid_ticket()
