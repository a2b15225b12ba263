"""Reference numbers: what a resident reads out on the phone and a clerk files by.

The rule, in one place: ``<street code>-<year>-<n>``, e.g. ``310107012-2026-000123``.

- street code: the street's ``areas.code`` as it is. Areas carry the national division code
  (310107012 is 曹杨新村街道 of 普陀区); it is unique, so every reference is too, and a
  clerk who hears it knows the street. (A letter abbreviation such as ``CY`` is not derivable
  from those codes, and two streets could share one.)
- year: the calendar year of submission in Shanghai time.
- n: the suggestion's place among its street's suggestions of that year, from 1, without
  gaps, at least six digits.

PostgreSQL writes it: ``lc_proposal_reference`` formats, and a BEFORE INSERT trigger counts in
``proposal_reference_counters`` inside the inserting transaction (migration 1400), so a
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
