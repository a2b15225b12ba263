"""The one results-visibility rule (src/events/visibility.py) that votes and ratings ask."""

from __future__ import annotations

import pytest

from src.events.schemas import ResultsVisibility
from src.events.visibility import may_see_results

LIVE, AFTER_VOTE, AFTER_CLOSE = (
    ResultsVisibility.live,
    ResultsVisibility.after_vote,
    ResultsVisibility.after_close,
)


@pytest.mark.parametrize(
    ("rule", "staff", "final", "took_part", "seen"),
    [
        (AFTER_CLOSE, True, False, False, True),  # staff always
        (AFTER_CLOSE, False, True, False, True),  # everyone once final
        (AFTER_CLOSE, False, False, True, False),  # taking part is not enough
        (LIVE, False, False, False, True),
        (AFTER_VOTE, False, False, True, True),
        (AFTER_VOTE, False, False, False, False),
    ],
)
async def test_the_rule(
    rule: ResultsVisibility, staff: bool, final: bool, took_part: bool, seen: bool
) -> None:
    asked: list[bool] = []

    async def participation() -> bool:
        asked.append(True)
        return took_part

    assert await may_see_results(rule, staff=staff, final=final, took_part=participation) is seen
    # Participation (a query for the caller) is asked only when the answer depends on it.
    assert bool(asked) == (rule == AFTER_VOTE and not staff and not final)
