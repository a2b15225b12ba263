"""Who may see a meeting's results before it closes: one rule, for votes and ratings.

The meeting's ``results_visibility`` (``src.events.schemas.ResultsVisibility``) says when a
participant sees the figures:

- ``live``: at any time;
- ``after_vote``: once they have taken part (voted, or rated);
- ``after_close``: only when the meeting has closed.

Staff of the meeting always see them, and everyone sees final results. What "staff", "final"
and "taken part" mean is the caller's to say (a ballot or a rating; the meeting's status, or
the ``final`` flag of a live tally), and what happens before this rule is asked is the
caller's too (ratings first hide a meeting from other communities and one not yet open).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from src.events.schemas import ResultsVisibility


async def may_see_results(
    rule: ResultsVisibility,
    *,
    staff: bool,
    final: bool,
    took_part: Callable[[], Awaitable[bool]],
) -> bool:
    """Whether the caller sees the results now.

    ``took_part`` is awaited only when the answer depends on it (``after_vote``, neither staff
    nor final), so a caller whose check costs a query pays it only then.
    """
    if staff or final or rule == ResultsVisibility.live:
        return True
    if rule == ResultsVisibility.after_vote:
        return await took_part()
    return False
