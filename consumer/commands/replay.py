"""``media-bridge replay``: relay parked messages again (``consumer.replay``), printing each.

Settings as for ``media-bridge run``: events go to ``sink.events_exchange``, messages that still
fail to ``sink.parking_exchange``, normalized with the relay's limits. The sink is opened first
(nothing is taken that could not be published), and not at all for ``--dry-run``.

Unless ``--reason too_many_deliveries`` is given, messages parked by the poison cap are left
alone: such a body may be one that made the bridge crash, and would crash the replay the same way.

Exit status: 0 every matching message was delivered (or would be); 1 at least one is still (or
would stay) parked; 69 the broker is unreachable or went away (what was done stays done, the
rest stays parked); 78 bad settings, refused credentials or no such queue; 64 bad usage.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import anyio

from consumer.commands.parked import (
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STILL_FAILING,
    EXIT_UNAVAILABLE,
    OpenParked,
    command_settings,
    failed,
)
from consumer.errors import BridgeError
from consumer.outbound import TOO_MANY_DELIVERIES_REASON
from consumer.parked_filter import ParkedFilter
from consumer.parked_render import TASK_ID_MATCH_TEXT, counts_text
from consumer.ports import Sink
from consumer.replay import Outcome, Replayed, ReplayOptions, ReplayReport, replay
from consumer.replay_plan import Deliver
from consumer.settings import Settings, SinkSettings

OpenSink = Callable[[SinkSettings], Awaitable[Sink]]


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """What ``media-bridge replay`` was asked (built by the CLI from its arguments)."""

    config: Path | None = None
    queue: str | None = None  # None: sink.parking_queue
    select: ParkedFilter = field(default_factory=ParkedFilter)
    limit: int | None = None
    scan_limit: int = 10_000
    dry_run: bool = False


def main_replay(
    request: ReplayRequest,
    open_queue: OpenParked,
    open_sink: OpenSink,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    settings = command_settings(request.config, "replay", err)
    if settings is None:
        return EXIT_CONFIG
    select = request.select
    if not select.reasons:  # see the module docstring
        select = ParkedFilter(
            excluded_reasons=frozenset({TOO_MANY_DELIVERIES_REASON}),
            sources=select.sources,
            since=select.since,
            until=select.until,
            task_id=select.task_id,
        )
    options = ReplayOptions(
        select=select,
        limit=request.limit,
        scan_limit=request.scan_limit,
        dry_run=request.dry_run,
        limits=settings.relay_options().limits,
    )
    try:
        report = anyio.run(_replay, settings, request, options, open_queue, open_sink, out)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BridgeError as exc:
        return failed("replay", exc, err)
    print(summary(report), file=out)
    if report.stopped_by is not None:
        print(f"media-bridge replay: stopped early: {report.stopped_by}", file=err)
        return EXIT_UNAVAILABLE
    return EXIT_STILL_FAILING if report.still_failing else EXIT_OK


async def _replay(
    settings: Settings,
    request: ReplayRequest,
    options: ReplayOptions,
    open_queue: OpenParked,
    open_sink: OpenSink,
    out: TextIO,
) -> ReplayReport:
    sink: Sink = _NoSink() if request.dry_run else await open_sink(settings.sink)
    try:
        queue = await open_queue(settings.sink, request.queue or settings.sink.parking_queue)
        try:
            return await replay(queue, sink, options, lambda each: _print(each, out))
        finally:
            with anyio.CancelScope(shield=True):
                await queue.aclose()
    finally:
        with anyio.CancelScope(shield=True):
            await sink.aclose()


def _print(each: Replayed, out: TextIO) -> None:
    # Flushed line by line: if the process dies, the last line says how far it got.
    print(line(each), file=out, flush=True)


def line(each: Replayed) -> str:
    """One line per matching message: what happened (or would), and what it was parked as."""
    message = each.held.message
    was = f"was {message.reason or 'unrouted'}, replays {message.replay_count}"
    plan = each.plan
    if isinstance(plan, Deliver):
        events = f"{len(plan.messages)} event{'s' if len(plan.messages) != 1 else ''}"
        what = f"{_VERBS[each.outcome]}: {events} ({was})"
    elif each.outcome is Outcome.DUPLICATE_REMOVED:
        what = f"{_VERBS[each.outcome]}: a copy parked by this run holds it ({was})"
    else:
        what = f"{_VERBS[each.outcome]}: {plan.reason}: {plan.detail[:200]} ({was})"
    task = f"; {TASK_ID_MATCH_TEXT[each.task_id_by]}" if each.task_id_by else ""
    return f"#{each.held.position} {what}{task}"


_VERBS = {
    Outcome.DELIVERED: "delivered",
    Outcome.STILL_PARKED: "still parked",
    Outcome.DUPLICATE_REMOVED: "duplicate removed",
    Outcome.WOULD_DELIVER: "would deliver",
    Outcome.WOULD_STAY_PARKED: "would stay parked",
}


def summary(report: ReplayReport) -> str:
    looked = "all" if report.complete else "--scan to look further"
    outcomes = ", ".join(f"{_VERBS[o]} {n}" for o, n in report.outcomes.items()) or "nothing matched"
    head = (
        f"replay of {report.queue} (run {report.run_id}): {report.waiting_at_start} waiting, "
        f"looked at {report.looked_at} ({looked}); {outcomes}; "
        f"{report.events_published} events published"
    )
    lines = [head]
    if report.still_failing:
        lines.append(f"still failing, by reason today: {counts_text(report.still_failing)}")
    left_alone = report.left_alone
    if left_alone:
        lines.append(
            f"{left_alone} {TOO_MANY_DELIVERIES_REASON} message(s) left alone: name "
            f"--reason {TOO_MANY_DELIVERIES_REASON} to replay them"
        )
    return "\n".join(lines)


class _NoSink:
    """The Sink of a dry run: nothing may be published."""

    connected = True

    async def publish(self, message: object) -> None:
        raise AssertionError("a dry run publishes nothing")

    async def aclose(self) -> None:
        return None
