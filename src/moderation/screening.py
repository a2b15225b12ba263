"""Screening text against the sensitive-word list: what suggestions, replies and comments
ask before they are written."""

from __future__ import annotations

from src.config import Settings
from src.core.errors import AppError, Message
from src.moderation.words import Action, Screen, screen_for


def screen(settings: Settings) -> Screen:
    return screen_for(
        settings.moderation_words_file, settings.moderation_reload_s, settings.moderation_mode
    )


def sensitive_content(fields: list[str]) -> AppError:
    return AppError(
        422,
        "sensitive_content",
        Message("内容包含不当用语，请修改后再提交", "The text contains words that are not allowed"),
        errors=[{"field": f, "message": "contains words that are not allowed"} for f in fields],
    )


def require_clean(screen: Screen, fields: dict[str, str]) -> None:
    """Text that has no review state of its own (replies, comments): any word refuses it."""
    verdict, matched = screen.check(fields)
    if not verdict.clean:
        raise sensitive_content(matched)


def held(screen: Screen, fields: dict[str, str]) -> tuple[str, ...] | None:
    """For a suggestion: refuse (422), hold (the words found) or pass (None)."""
    verdict, matched = screen.check(fields)
    if verdict.action == Action.refuse:
        raise sensitive_content(matched)
    if verdict.action == Action.hold:
        return verdict.words
    return None
