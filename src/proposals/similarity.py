"""The text that "similar suggestions" compares (``proposals.similar_text``).

A title is normalised (NFKC: full-width forms to half-width; lower case; punctuation, spaces
and building numbers removed), the words of ``data/similar_words.txt`` are read as their
canonical word (加梯 → 电梯, 太少 → 增设) or dropped (建议, 希望 …), and what is left of each
run of text is written as its character bigrams (most Chinese words are two characters).
The result is space-separated words; pg_trgm's ``similarity`` over it counts shared words,
characters and bigrams, and its GiST index finds the nearest titles (migration 1601).

The same function writes the stored column (on submission) and reads the typed title, so the
two always agree; after editing the word list, ``lifecircle proposals-reindex-similar``
rewrites the stored column.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

WORDS_FILE = Path(__file__).parent / "data" / "similar_words.txt"

_NOISE = re.compile(r"[\s\W_]+|\d+\s*(?:号楼|号|栋|幢|楼)", re.UNICODE)


@dataclass(frozen=True)
class _Lexicon:
    pattern: re.Pattern[str]
    canonical: dict[str, str]  # variant → canonical word ("" for filler)


@functools.cache
def _lexicon() -> _Lexicon:
    canonical: dict[str, str] = {}
    for raw in WORDS_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, _, rest = line.partition(":")
        word = "" if head.strip() == "-" else _normal(head.strip())
        for variant in [head.strip(), *rest.split()]:
            if variant != "-":
                canonical.setdefault(_normal(variant), word)
    variants = sorted(canonical, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(v) for v in variants if v))
    return _Lexicon(pattern, canonical)


def _normal(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


def _bigrams(run: str) -> list[str]:
    if len(run) <= 2:
        return [run] if run else []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def similar_text(title: str) -> str:
    """The comparable form of ``title`` (space-separated words; "" when nothing is left)."""
    lexicon = _lexicon()
    text = _normal(title)
    words: list[str] = []
    position = 0
    for match in lexicon.pattern.finditer(text):
        words += _bigrams(text[position : match.start()])
        word = lexicon.canonical[match.group()]
        if word:
            words.append(word)
        position = match.end()
    words += _bigrams(text[position:])
    return " ".join(dict.fromkeys(words))
