"""From tally rows (source, criterion, score, n) to the summary clients read.

One function serves the meeting, the project, the community and the street: they differ only
in which tally rows are summed (see the repository).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from src.ratings.schemas import SCORES, PartOut

OVERALL = "overall"
SATISFIED_FROM = 4  # satisfaction rate: share of ``overall`` at 4 or 5
APP = "app"
PAPER = "paper"
SOURCES = (APP, PAPER)


@dataclass(frozen=True)
class TallyRow:
    source: str
    criterion: str
    score: int
    n: int


Counts = dict[str, dict[int, int]]  # criterion → score → n


def _empty(criteria: Sequence[str]) -> Counts:
    return {c: dict.fromkeys(SCORES, 0) for c in criteria}


def part(counts: Counts, criteria: Sequence[str]) -> PartOut:
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
    satisfied = sum(n for score, n in overall.items() if score >= SATISFIED_FROM)
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
    for row in rows:
        if row.criterion not in total:
            listed.append(row.criterion)
            total[row.criterion] = dict.fromkeys(SCORES, 0)
            for counts in by_source.values():
                counts[row.criterion] = dict.fromkeys(SCORES, 0)
        by_source[row.source][row.criterion][row.score] += row.n
        total[row.criterion][row.score] += row.n
    return (
        part(total, listed),
        part(by_source[APP], listed),
        part(by_source[PAPER], listed),
        listed,
    )
