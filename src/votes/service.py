"""Votes of coordination meetings: the secret ballot, results and their visibility, the
published receipts and the paper/hand counts of the venue."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.core import audit
from src.core.auth import Principal, TokenClaims, load_principal
from src.core.db import driver_connection
from src.core.errors import AppError, Message, conflict, not_found, unprocessable
from src.core.pagination import decode_cursor, paginate
from src.core.unit_of_work import UnitOfWork
from src.events import repository as events_repository
from src.events.eligibility import ensure_eligible, rules_of
from src.events.schemas import Eligibility, VotingRules
from src.events.service import Access, event_not_open, load_access, load_managed
from src.events.visibility import may_see_results as results_rule
from src.models.event import Event, EventKind, EventStatus
from src.votes import live, repository, secrecy, tally
from src.votes.batcher import BallotBatcher, Cast
from src.votes.schemas import BallotOut, MyBallotOut, PaperCountsIn, ReceiptOut, ResultsOut

MAX_PAPER_COUNT = 1_000_000


def no_vote() -> AppError:
    return AppError(404, "no_vote", Message("该会议没有投票", "This meeting has no vote"))


def already_voted() -> AppError:
    return conflict("already_voted", "您已经投过票了", "You have already voted in this meeting")


# --- checking a choice ---------------------------------------------------------------


def check_choice(
    option_ids: list[uuid.UUID], valid: frozenset[uuid.UUID], max_choices: int
) -> None:
    if len(set(option_ids)) != len(option_ids):
        raise unprocessable("duplicate_options", "选项不能重复", "An option appears twice")
    if any(o not in valid for o in option_ids):
        raise unprocessable(
            "unknown_option", "选项不属于本次会议", "An option is not one of this meeting's"
        )
    if len(option_ids) > max_choices:
        raise unprocessable(
            "too_many_choices",
            f"最多可选 {max_choices} 项",
            f"At most {max_choices} choices are allowed",
        )


@dataclass(frozen=True)
class BallotRules:
    """What a ballot needs to know of an open meeting; cached per process, since options and
    rules no longer change once a meeting has left draft."""

    community_id: uuid.UUID
    need_check_in: bool
    max_choices: int
    option_ids: frozenset[uuid.UUID]

    def accepts(self, option_ids: list[uuid.UUID]) -> bool:
        return (
            len(option_ids) <= self.max_choices
            and len(set(option_ids)) == len(option_ids)
            and all(o in self.option_ids for o in option_ids)
        )


class RulesCache:
    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._rules: dict[uuid.UUID, BallotRules] = {}
        # A meeting's first ballots arrive together (a hall opens the vote): one look at the
        # database for all of them, not one per request.
        self._looking: dict[uuid.UUID, asyncio.Future[BallotRules | None]] = {}

    def known(self, event_id: uuid.UUID) -> BallotRules | None:
        """The cached rules, without a look at the database."""
        return self._rules.get(event_id)

    async def get(self, conn: Any, event_id: uuid.UUID) -> BallotRules | None:
        found = self._rules.get(event_id)
        if found is not None:
            return found
        looking = self._looking.get(event_id)
        if looking is not None:
            await asyncio.wait({looking})
            if not looking.cancelled():
                return looking.result()
            return await self._load(conn, event_id)  # that look failed: one's own
        looking = self._looking[event_id] = asyncio.get_running_loop().create_future()
        try:
            found = await self._load(conn, event_id)
        except BaseException:
            looking.cancel()
            raise
        finally:
            del self._looking[event_id]
        looking.set_result(found)
        return found

    async def _load(self, conn: Any, event_id: uuid.UUID) -> BallotRules | None:
        row = await repository.ballot_rules(conn, event_id)
        if row is None or row["kind"] != EventKind.coordination.value:
            return None
        rules = VotingRules.model_validate(row["voting"] or {})
        found = BallotRules(
            community_id=row["community_id"],
            need_check_in=rules.eligibility == Eligibility.checked_in,
            max_choices=rules.max_choices,
            option_ids=frozenset(row["option_ids"]),
        )
        if row["status"] != EventStatus.draft.value:
            if len(self._rules) >= self.limit:
                self._rules.clear()
            self._rules[event_id] = found
        return found


async def _explain_refusal(
    session: AsyncSession, claims: TokenClaims, event_id: uuid.UUID, option_ids: list[uuid.UUID]
) -> None:
    """The slow path: check the ballot step by step and raise the precise error (401, 404,
    ``event_not_open``, a bad choice, ``not_eligible``). Returns when nothing is wrong."""
    principal = await load_principal(await driver_connection(session), claims)
    access = await load_access(session, principal, event_id)
    event = access.event
    if event.kind != EventKind.coordination:
        raise no_vote()
    if event.status != EventStatus.open:
        raise event_not_open()
    options = await events_repository.options(session, [event.id])
    valid = frozenset(o.id for o in options.get(event.id, []))
    check_choice(option_ids, valid, rules_of(event).max_choices)
    await ensure_eligible(session, event, principal)


async def cast_ballot(
    unit: UnitOfWork,
    cache: RulesCache,
    batcher: BallotBatcher,
    claims: TokenClaims,
    event_id: uuid.UUID,
    option_ids: list[uuid.UUID],
) -> tuple[BallotOut, bool]:
    """Record one ballot with the next batch of this worker (src/votes/batcher.py); returns
    (reply, replayed). A retry with the same ``Idempotency-Key`` gets the first reply (sealed,
    stored with the ballot: ``unit.claim``); any other second ballot is ``already_voted``."""
    rules = cache.known(event_id)
    if rules is None or not rules.accepts(option_ids):
        conn = await unit.raw_connection()
        rules = await cache.get(conn, event_id)
        if rules is None or not rules.accepts(option_ids):
            await _explain_refusal(unit.session, claims, event_id, option_ids)
            rules = await cache.get(conn, event_id)
            assert rules is not None
    receipt, _ = secrecy.new_receipt()
    out = BallotOut(ballot_id=uuid.uuid4(), receipt=receipt)
    key = unit.claim
    reply = None
    if key is not None:
        headers = {"content-type": "application/json"}
        reply = key.reply_args(201, headers, out.model_dump_json().encode())
    outcome, answer = await batcher.cast(
        Cast(
            event_id=event_id,
            community_id=rules.community_id,
            need_check_in=rules.need_check_in,
            user_id=claims.user_id,
            family_id=claims.family_id,
            choice=secrecy.Choice(out.ballot_id, receipt, tuple(sorted(option_ids))),
            claim=key,
            reply=reply,
        )
    )
    if outcome.inserted:
        live.announce(event_id)  # committed with its batch
        return out, False
    if answer is not None:  # the first copy's reply
        if answer.error is not None:
            raise answer.error
        return BallotOut.model_validate_json(answer.body), True
    if outcome.status != EventStatus.open.value or not outcome.eligible:
        await _explain_refusal(unit.session, claims, event_id, option_ids)
        raise event_not_open()  # closed between the two looks
    raise already_voted()


# --- results ---------------------------------------------------------------------------


async def _voting_access(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> Access:
    access = await load_access(session, principal, event_id)
    if access.event.kind != EventKind.coordination:
        raise no_vote()
    return access


async def may_see_results(
    session: AsyncSession, event: Event, principal: Principal, staff: bool
) -> bool:
    """The one rule (src/events/visibility.py), for a voter of this meeting."""

    async def voted() -> bool:
        return await repository.has_voted(session, event.id, principal.user_id)

    return await results_rule(
        rules_of(event).results_visibility,
        staff=staff,
        final=event.status == EventStatus.closed,
        took_part=voted,
    )


def masked(payload: dict[str, Any]) -> dict[str, Any]:
    """The tally without the per-option figures (turnout and attendance stay)."""
    return {
        **payload,
        "hidden": True,
        "total_votes": None,
        "options": [
            {**o, "votes": None, "share": None, "online_votes": None, "paper_votes": None}
            for o in payload["options"]
        ],
    }


def shown(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "hidden": False}


async def results(session: AsyncSession, principal: Principal, event_id: uuid.UUID) -> ResultsOut:
    access = await _voting_access(session, principal, event_id)
    if not await may_see_results(session, access.event, principal, access.staff):
        raise AppError(
            403,
            "results_hidden",
            Message("投票结果暂不公开", "The results are not shown yet"),
        )
    return ResultsOut.model_validate(shown(await tally.results(session, access.event)))


async def stream_access(session: AsyncSession, principal: Principal, event_id: uuid.UUID) -> Access:
    return await _voting_access(session, principal, event_id)


# --- receipts and my ballot --------------------------------------------------------------


async def receipts(
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    cursor: str | None,
    limit: int,
) -> tuple[list[ReceiptOut], str | None]:
    access = await _voting_access(session, principal, event_id)
    if access.event.status != EventStatus.closed:
        raise conflict(
            "event_not_closed",
            "会议结束后才公布回执",
            "Receipts are published once the meeting is closed",
        )
    values = decode_cursor(cursor, 1)
    after = str(values[0]) if values else None
    rows = await repository.receipts(session, event_id, after, limit)
    page, next_cursor = paginate(rows, limit, lambda r: (r[0],))
    return [ReceiptOut(receipt=r, option_ids=o) for r, o in page], next_cursor


async def mine(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, receipt: str | None
) -> MyBallotOut:
    access = await _voting_access(session, principal, event_id)
    if not await repository.has_voted(session, event_id, principal.user_id):
        raise AppError(404, "no_vote", Message("您还没有投票", "You have not voted"))
    ballot = None
    if receipt is not None:
        if access.event.status != EventStatus.closed:
            raise conflict(
                "event_not_closed",
                "会议结束后才能按回执查看选票",
                "Ballots can be looked up by receipt once the meeting is closed",
            )
        chosen = await repository.receipt(session, event_id, receipt.strip().upper())
        if chosen is None:
            raise not_found("回执", "Receipt")
        ballot = ReceiptOut(receipt=receipt.strip().upper(), option_ids=chosen)
    return MyBallotOut(event_id=event_id, voted=True, ballot=ballot)


# --- paper and hands -------------------------------------------------------------------------


def _invalid_count(option: str) -> AppError:
    error = unprocessable(
        "invalid_count",
        "票数须为 0 至 1000000 的整数",
        "A count must be a whole number from 0 to 1000000",
    )
    error.errors = [{"field": f"counts.{option}", "message": "invalid count"}]
    return error


def paper_exceeds_electorate(room: int) -> AppError:
    error = unprocessable(
        "paper_exceeds_electorate",
        f"纸质投票人数超出可投票人数，最多还可录入 {room} 人；"
        "如有未使用小程序的居民，请在会议的 voting.electorate 中填写全部可投票人数",
        f"More paper voters than the electorate allows (at most {room}); set the meeting's "
        "voting.electorate to every resident who may vote, on the app or not",
    )
    error.errors = [{"field": "voters", "message": f"at most {room}"}]
    return error


async def _check_electorate(session: AsyncSession, event: Event, paper_voters: int) -> None:
    """Online voters and paper voters together stay within the electorate (the meeting row is
    locked FOR UPDATE: no ballot is in flight meanwhile)."""
    now = await tally.compute(session, event)
    room = max(0, int(now["electorate"]) - int(now["voters"]))
    if paper_voters > room:
        raise paper_exceeds_electorate(room)


async def enter_paper_counts(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, data: PaperCountsIn
) -> ResultsOut:
    access = await load_managed(session, principal, event_id, lock="update")
    event = access.event
    if event.kind != EventKind.coordination:
        raise no_vote()
    if event.status != EventStatus.open:
        raise event_not_open()
    options = await events_repository.options(session, [event.id])
    valid = {o.id for o in options.get(event.id, [])}
    counts: dict[uuid.UUID, int] = {}
    for key, value in data.counts.items():
        try:
            option_id = uuid.UUID(key)
        except ValueError:
            option_id = None
        if option_id is None or option_id not in valid:
            raise unprocessable(
                "unknown_option", "选项不属于本次会议", "An option is not one of this meeting's"
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid_count(key)
        if not 0 <= value <= MAX_PAPER_COUNT:
            raise _invalid_count(key)
        counts[option_id] = value
    rules = rules_of(event)
    voters = data.voters
    if voters is None:
        if rules.method != "single":
            raise unprocessable(
                "invalid_count",
                "多选投票请填写纸质投票人数（voters）",
                "Give the number of paper voters (voters) for a multiple-choice vote",
            )
        voters = sum(counts.values())
    await _check_electorate(session, event, voters)
    await repository.set_paper_counts(session, event.id, counts, data.note, principal.user_id)
    event.paper_voters = voters
    await session.flush()
    await audit.record(
        session,
        principal,
        "event.paper_counts",
        "event",
        event.id,
        area_id=event.community_id,
        details={
            "counts": {str(k): v for k, v in counts.items()},
            "voters": voters,
            "note": data.note,
        },
    )
    live.after_commit(session, event.id)
    return ResultsOut.model_validate(shown(await tally.results(session, event)))
