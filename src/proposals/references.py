"""Reference numbers: what a resident reads out on the phone and a clerk files by.

The rule, in one place: ``<head>-<year>-<n>``, e.g. ``CY-2026-000123``.

- head: the street's ``reference_prefix`` when it has one (2–6 of A–Z, 0–9, set by an admin:
  CY for 曹杨新村街道), else the street's ``areas.code`` as it is (``310107012-2026-000123``).
  A head belongs to one street: a prefix is refused (409 ``reference_prefix_taken``) when
  another street carries it as its prefix or its code, or heads filed references with it
  (src/areas/service.py), so every reference stays unique.
- year: the calendar year of submission in Shanghai time.
- n: the suggestion's place among its street's suggestions of that year, from 1, without
  gaps, at least six digits. Setting or changing a prefix does not restart the count.

A filed number never changes: the head is read when a suggestion is inserted, so setting,
changing or removing a street's prefix only affects suggestions submitted afterwards; the
references already given keep the head they were given (nothing is renumbered).

PostgreSQL writes it: ``lc_proposal_reference`` formats, and a BEFORE INSERT trigger
(``lc_proposal_assign_reference``, migrations 1400 and 1410: ``coalesce(reference_prefix,
code)``) counts in ``proposal_reference_counters`` inside the inserting transaction, so a
rolled-back submission gives its number back and concurrent submissions of one street queue
on its counter row only.
"""

from __future__ import annotations

import re

# What ``?q=`` treats as a reference (matched case-insensitively, exactly) instead of words.
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}-\d{4}-\d{6,}$")


def as_reference(q: str) -> str | None:
    """``q`` as a reference to look up (upper-cased), or None when it is search words."""
    q = q.strip()
    return q.upper() if REFERENCE_PATTERN.match(q) else None
