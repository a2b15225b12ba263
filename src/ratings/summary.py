"""From tally rows (source, criterion, score, n) to the summary clients read.

One function serves the meeting, the project, the community and the street: they differ only
in which tally rows are summed (see the repository). Whether a score counts as satisfied is
not decided here: each row carries the verdict of the SQL function ``rating_satisfied``
(migration 1000), the one definition the close trigger and the area ranking use too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from src.ratings.schemas import SCORES, PartOut

OVERALL = "overall"  # the satisfaction rate is the share of satisfied ``overall`` ratings
APP = "app"
PAPER = "paper"
SOURCES = (APP, PAPER)


@dataclass(frozen=True)
class TallyRow:
    source: str
    criterion: str
    score: int
    n: int
    satisfied: bool  # rating_satisfied(score), read with the row


Counts = dict[str, dict[int, int]]  # criterion → score → n


def _empty(criteria: Sequence[str]) -> Counts:
    return {c: dict.fromkeys(SCORES, 0) for c in criteria}


def part(counts: Counts, criteria: Sequence[str], satisfied: int) -> PartOut:
    """``satisfied``: how many of the ``overall`` ratings in ``counts`` are satisfied."""
    means: dict[str, float | None] = {}
    distribution: dict[str, dict[str, int]] = {}
    for criterion in criteria:
        by_score = counts.get(criterion, {})
        total = sum(by_score.values())
        weighted = sum(score * n for score, n in by_score.items())
        means[criterion] = weighted / total if total else None
        distribution[criterion] = {str(s): by_score.get(s, 0) for s in SCORES}
    overall = counts.get(OVERALL, {})
    count = sum(overall.values())
    return PartOut(
        count=count,
        means=means,
        distribution=distribution,
        satisfaction_rate=satisfied / count if count else None,
    )


def summarise(
    rows: Iterable[TallyRow], criteria: Sequence[str]
) -> tuple[PartOut, PartOut, PartOut, list[str]]:
    """(total, app, paper, criteria): ``criteria`` first in its order, then any other
    criterion found in the rows (meetings of a project may ask different ones)."""
    listed = list(criteria)
    by_source: dict[str, Counts] = {s: _empty(listed) for s in SOURCES}
    total: Counts = _empty(listed)
    satisfied = dict.fromkeys((*SOURCES, None), 0)  # by source; None: both
    for row in rows:
        if row.criterion not in total:
            listed.append(row.criterion)
            total[row.criterion] = dict.fromkeys(SCORES, 0)
            for counts in by_source.values():
                counts[row.criterion] = dict.fromkeys(SCORES, 0)
        by_source[row.source][row.criterion][row.score] += row.n
        total[row.criterion][row.score] += row.n
        if row.criterion == OVERALL and row.satisfied:
            satisfied[row.source] += row.n
            satisfied[None] += row.n
    return (
        part(total, listed, satisfied[None]),
        part(by_source[APP], listed, satisfied[APP]),
        part(by_source[PAPER], listed, satisfied[PAPER]),
        listed,
    )
