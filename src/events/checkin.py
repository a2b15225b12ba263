"""Short-lived check-in codes: an HMAC of (meeting, time window), nothing stored.

The venue's screen shows the code of the current window as a QR image; a code is accepted
during its window and a short grace after it (a resident scanning at the turn of the window),
and refused as *expired* when it belongs to an older window of the same meeting.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

CODE_LENGTH = 8
# How far back a code is still recognised as "expired" rather than "invalid".
RECOGNISED_WINDOWS = 720


class CodeCheck(StrEnum):
    valid = "valid"
    expired = "expired"
    invalid = "invalid"


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: dt.datetime


def window_of(at: float, window_s: int) -> int:
    return int(at // window_s)


def code_for(secret: str, event_id: uuid.UUID, window: int) -> str:
    mac = hmac.new(
        secret.encode(), f"check-in:{event_id}:{window}".encode(), hashlib.sha256
    ).digest()
    # Base32 without padding: upper-case letters and digits 2–7, easy to read aloud or type.
    return base64.b32encode(mac).decode()[:CODE_LENGTH]


def issue(secret: str, event_id: uuid.UUID, window_s: int, now: float | None = None) -> IssuedCode:
    now = time.time() if now is None else now
    window = window_of(now, window_s)
    expires = dt.datetime.fromtimestamp((window + 1) * window_s, dt.UTC)
    return IssuedCode(code_for(secret, event_id, window), expires)


def check(
    secret: str,
    event_id: uuid.UUID,
    code: str,
    window_s: int,
    grace_s: int,
    now: float | None = None,
) -> CodeCheck:
    now = time.time() if now is None else now
    given = code.strip().upper()
    current = window_of(now, window_s)
    if hmac.compare_digest(given, code_for(secret, event_id, current)):
        return CodeCheck.valid
    previous = window_of(now - grace_s, window_s)
    if previous != current and hmac.compare_digest(given, code_for(secret, event_id, previous)):
        return CodeCheck.valid
    if len(given) == CODE_LENGTH:
        for window in range(current - 1, current - RECOGNISED_WINDOWS, -1):
            if hmac.compare_digest(given, code_for(secret, event_id, window)):
                return CodeCheck.expired
    return CodeCheck.invalid
