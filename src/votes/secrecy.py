"""Secrecy of the ballot (docs/ballot-secrecy.md): receipts, the crowd a ballot hides in, and
the seal of ballots that wait for it. (The sealed first reply of an idempotent ballot is kept
by the one Idempotency-Key mechanism, ``src/core/idempotency.py``.)

Ballots are written in batches (src/votes/batcher.py): one transaction per batch, the voter
rows and the ballot rows by separate statements, the ballots in shuffled order. Everything a
database reader can see of a ballot's writing (its transaction id, its place in the table and
its indexes) is shared by the whole batch, so a voter is linked at most to the batch. A meeting's
ballots are therefore written in clear only ``CROWD`` or more at a time: fewer wait sealed in
``sealed_ballots`` until enough others join them (or the meeting closes), and the live tally
lags by at most ``CROWD - 1`` ballots.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass

RECEIPT_BYTES = 10  # 80 bits: unguessable, short enough to read out
CROWD = 5  # the fewest ballots of one meeting ever written in clear together
_NONCE = 16
_TAG = 16
_BLOCK = 512  # sealed ballots are padded to a multiple of this (JSON ignores the spaces)


def new_receipt() -> tuple[str, bytes]:
    raw = secrets.token_bytes(RECEIPT_BYTES)
    return format_receipt(raw), raw


def format_receipt(raw: bytes) -> str:
    text = base64.b32encode(raw).decode()  # 16 characters for 10 bytes, no padding
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


@dataclass(frozen=True)
class Choice:
    """One ballot as written: its random id, its receipt and the options (sorted)."""

    ballot_id: uuid.UUID
    receipt: str
    option_ids: tuple[uuid.UUID, ...]


def shuffled(choices: list[Choice]) -> list[Choice]:
    """The ballots in an order that owes nothing to their arrival (a CSPRNG shuffle)."""
    out = list(choices)
    for i in range(len(out) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        out[i], out[j] = out[j], out[i]
    return out


class Sealer:
    """Seals a waiting ballot with a key of the server secret and the meeting: SHA-256 in
    counter mode under a random nonce, then an HMAC tag. The key is never stored; a database
    reader sees random bytes of the same length for every ballot (padded)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def _key(self, event_id: uuid.UUID) -> bytes:
        return hmac.new(self._secret, b"sealed-ballot\0" + event_id.bytes, hashlib.sha256).digest()

    @staticmethod
    def _pad(key: bytes, nonce: bytes, length: int) -> bytes:
        blocks = (
            hashlib.sha256(key + nonce + i.to_bytes(4, "big")).digest()
            for i in range(length // 32 + 1)
        )
        return b"".join(blocks)[:length]

    def seal(self, event_id: uuid.UUID, choice: Choice) -> bytes:
        plain = json.dumps(
            [str(choice.ballot_id), choice.receipt, [str(o) for o in choice.option_ids]]
        ).encode()
        plain = plain.ljust(-(-len(plain) // _BLOCK) * _BLOCK)  # the length tells nothing
        key = self._key(event_id)
        nonce = secrets.token_bytes(_NONCE)
        body = bytes(a ^ b for a, b in zip(plain, self._pad(key, nonce, len(plain)), strict=True))
        tag = hmac.new(key, nonce + body, hashlib.sha256).digest()[:_TAG]
        return nonce + tag + body

    def open(self, event_id: uuid.UUID, sealed: bytes) -> Choice:
        key = self._key(event_id)
        nonce, tag, body = sealed[:_NONCE], sealed[_NONCE : _NONCE + _TAG], sealed[_NONCE + _TAG :]
        expected = hmac.new(key, nonce + body, hashlib.sha256).digest()[:_TAG]
        if not hmac.compare_digest(tag, expected):
            raise ValueError("a sealed ballot does not open with this server's secret")
        plain = bytes(a ^ b for a, b in zip(body, self._pad(key, nonce, len(body)), strict=True))
        ballot_id, receipt, options = json.loads(plain)
        return Choice(uuid.UUID(ballot_id), receipt, tuple(uuid.UUID(o) for o in options))


# The sealer of this process (the server secret), set by the votes lifespan; the close of a
# meeting (src/votes/tally.py, freeze) opens the waiting ballots with it.
_sealers: list[Sealer] = []


def install(sealer: Sealer) -> None:
    _sealers.append(sealer)


def uninstall(sealer: Sealer) -> None:
    if sealer in _sealers:
        _sealers.remove(sealer)


def sealer() -> Sealer:
    if not _sealers:
        raise RuntimeError("no sealer installed (the votes lifespan did not run)")
    return _sealers[-1]
