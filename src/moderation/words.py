"""The sensitive-word list and its matcher (Aho–Corasick, pyahocorasick).

Text and words are folded the same way before matching: NFKC (full-width forms to
half-width), lower case, the character folds of the list (traditional → simplified), and every
character that is not a letter or a digit removed — so spaces, punctuation, symbols and
zero-width characters put inside a word do not hide it. The list is a data file
(``LIFECIRCLE_MODERATION_WORDS_FILE``, default ``data/sensitive_words.txt``), re-read when
its modification time changes (checked at most every ``LIFECIRCLE_MODERATION_RELOAD_S``), so an
edit takes effect without a restart, in every worker.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

logger = logging.getLogger("lifecircle.moderation")

DEFAULT_FILE = Path(__file__).parent / "data" / "sensitive_words.txt"


class Action(enum.StrEnum):
    refuse = "refuse"
    hold = "hold"


@dataclass(frozen=True)
class Verdict:
    """What the list says of a text: the words found and the strictest action."""

    words: tuple[str, ...] = ()
    action: Action | None = None

    @property
    def clean(self) -> bool:
        return self.action is None


@dataclass
class WordList:
    actions: dict[str, Action | None]  # folded word → its own action (None: the default)
    folds: dict[str, str]
    automaton: ahocorasick.Automaton | None = field(repr=False, default=None)

    @classmethod
    def parse(cls, text: str) -> WordList:
        folds: dict[str, str] = {}
        raw: list[tuple[str, Action | None]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("="):
                parts = line[1:].split()
                if len(parts) == 2 and len(parts[0]) == 1 and len(parts[1]) == 1:
                    folds[parts[0]] = parts[1]
                else:
                    logger.warning("sensitive words: bad fold on line %d", number)
                continue
            word, *rest = line.split()
            action = None
            if rest:
                try:
                    action = Action(rest[0])
                except ValueError:
                    logger.warning("sensitive words: bad action on line %d", number)
            raw.append((word, action))
        words = cls({}, folds)
        for word, action in raw:
            folded = words.fold(word)
            if folded:
                words.actions[folded] = action
        if words.actions:
            automaton = ahocorasick.Automaton()
            for folded in words.actions:
                automaton.add_word(folded, folded)
            automaton.make_automaton()
            words.automaton = automaton
        return words

    def fold(self, text: str) -> str:
        folded = unicodedata.normalize("NFKC", text).lower()
        return "".join(self.folds.get(c, c) for c in folded if c.isalnum())

    def scan(self, text: str, default: Action) -> Verdict:
        if self.automaton is None or not text:
            return Verdict()
        found = dict.fromkeys(word for _, word in self.automaton.iter(self.fold(text)))
        if not found:
            return Verdict()
        actions = {self.actions[w] or default for w in found}
        action = Action.refuse if Action.refuse in actions else Action.hold
        return Verdict(tuple(found), action)


class Words:
    """The list of one file, re-read when the file changes."""

    def __init__(self, path: Path, reload_s: float) -> None:
        self.path = path
        self.reload_s = reload_s
        self._lock = threading.Lock()
        self._checked = 0.0
        self._mtime: int | None = None
        self._list = WordList({}, {})

    def current(self) -> WordList:
        now = time.monotonic()
        if now - self._checked < self.reload_s and self._mtime is not None:
            return self._list
        with self._lock:
            self._checked = now
            try:
                mtime = os.stat(self.path).st_mtime_ns
            except OSError:
                logger.error("sensitive words: cannot read %s", self.path)
                return self._list
            if mtime != self._mtime:
                self._list = WordList.parse(self.path.read_text(encoding="utf-8"))
                self._mtime = mtime
                logger.info(
                    "sensitive words: %d loaded from %s", len(self._list.actions), self.path
                )
        return self._list


_registry: dict[tuple[str, float], Words] = {}


def words_for(path: str, reload_s: float) -> Words:
    """One reloading list per file and interval in this process."""
    key = (path, reload_s)
    if key not in _registry:
        _registry[key] = Words(Path(path) if path else DEFAULT_FILE, reload_s)
    return _registry[key]


@dataclass(frozen=True)
class Screen:
    """The list as configured: the reloading words and the action of a word without one."""

    words: Words
    default: Action

    def check(self, fields: dict[str, str]) -> tuple[Verdict, list[str]]:
        """The strictest verdict over ``fields`` and the names of the fields that matched."""
        current = self.words.current()
        found: dict[str, None] = {}
        matched: list[str] = []
        action: Action | None = None
        for name, value in fields.items():
            verdict = current.scan(value, self.default)
            if verdict.clean:
                continue
            matched.append(name)
            found.update(dict.fromkeys(verdict.words))
            if action != Action.refuse:
                action = verdict.action
        return Verdict(tuple(found), action), matched


def screen_for(words_file: str, reload_s: float, mode: str) -> Screen:
    return Screen(words_for(words_file, reload_s), Action(mode))
