"""The digest of a closed meeting's published receipts: anyone who downloads the receipts list
(``GET /api/v1/events/{id}/receipts``, every page) can recompute it and check that the list
was not changed after the close.

Canonical serialisation (what is hashed, exactly):

- one line per ballot, in the order of the receipts list: ascending ``receipt`` (receipts
  are ``A``–``Z``, ``2``–``7`` and ``-`` at fixed places, so any collation gives byte order);
- a line is the receipt as published (``ABCD-EFGH-IJKL-MNOP``), one space, then the ballot's
  ``option_ids`` in ascending order as lowercase hyphenated UUIDs joined by ``,``, then
  ``\\n`` (LF), the last line included;
- the lines are encoded in UTF-8 (they are ASCII) and hashed with SHA-256; ``digest`` is the
  hash as 64 lowercase hexadecimal digits. A meeting without online ballots hashes nothing:
  ``e3b0c442…b855``.

In Python::

    lines = "".join(f"{r['receipt']} {','.join(sorted(r['option_ids']))}\\n" for r in items)
    hashlib.sha256(lines.encode()).hexdigest()  # items sorted by receipt
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from src.votes import repository

BATCH = 5000


def canonical_line(receipt: str, option_ids: Iterable[uuid.UUID | str]) -> bytes:
    return f"{receipt} {','.join(sorted(str(o).lower() for o in option_ids))}\n".encode()


async def receipts_digest(session: AsyncSession, event_id: uuid.UUID) -> str:
    """SHA-256 of the receipts list in its canonical serialisation (read in batches)."""
    digest = hashlib.sha256()
    after: str | None = None
    while True:
        # The very query of the receipts list, so the order hashed is the order published.
        rows = await repository.receipts(session, event_id, after, BATCH)
        for receipt, option_ids in rows[:BATCH]:
            digest.update(canonical_line(receipt, option_ids))
        if len(rows) <= BATCH:
            return digest.hexdigest()
        after = rows[BATCH - 1][0]
