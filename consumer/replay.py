"""``media-bridge replay``: relay parked messages again with today's code, at least once.

For each message of one pass over the queue (``consumer.parked_scan``) that the filter matches,
in queue order, one at a time:

* it becomes events (``consumer.replay_plan``) → publish every event to the events destination
  through the Sink (each returns after the broker's confirm) → *then* remove the parked message;
* it still fails (or its events are unroutable) → publish a copy parked with today's reason and
  ``x-replay-count`` + 1 (``consumer.reparking``), confirmed → *then* remove the old one.

So a crash (SIGKILL included) at any point leaves the old message held, and the broker puts it
back when the connection dies: nothing is lost. The price is duplicates: events published again
with the same ids (subscribers deduplicate on ``source`` + ``id``), or, when the crash fell
between the copy's confirm and the removal, a second parked copy. The next run collapses those:
a message whose :attr:`~consumer.parked.ParkedMessage.identity` a copy of this run already
holds is removed without another copy. Messages that don't match stay held and are released
together at the end, so they keep their place and order. ``dry_run`` removes and publishes
nothing: it says what would happen.

A failing Sink stops the run (:attr:`ReplayReport.stopped_by`): what was done stays done, the
rest stays parked. It runs beside the bridge: it only publishes, as the bridge does, and reads a
queue the bridge only publishes to.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from consumer.errors import SinkUnavailableError, SourceUnavailableError, UnroutableError
from consumer.normalize import DEFAULT_LIMITS, Limits
from consumer.outbound import TOO_MANY_DELIVERIES_REASON, UNROUTABLE_REASON
from consumer.parked import HeldMessage, ParkedQueue
from consumer.parked_filter import ParkedFilter, TaskIdMatch
from consumer.parked_scan import Candidate, ParkedScan, release_held
from consumer.ports import Sink
from consumer.reparking import reparked_message
from consumer.replay_plan import Deliver, Plan, StillFailing

log = logging.getLogger("media_bridge.replay")


class Outcome(StrEnum):
    DELIVERED = "delivered"  # its events were confirmed, then it was removed
    STILL_PARKED = "still_parked"  # a copy with today's reason was confirmed, then it was removed
    DUPLICATE_REMOVED = "duplicate_removed"  # a copy made by this run already holds it
    WOULD_DELIVER = "would_deliver"  # dry run
    WOULD_STAY_PARKED = "would_stay_parked"  # dry run


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    select: ParkedFilter = field(default_factory=ParkedFilter)
    limit: int | None = None  # replay at most this many matching messages
    scan_limit: int = 10_000  # look at most at this many messages from the head
    dry_run: bool = False
    limits: Limits = DEFAULT_LIMITS  # the relay's normalization limits


@dataclass(frozen=True, slots=True)
class Replayed:
    """What happened to one matching message."""

    held: HeldMessage
    outcome: Outcome
    plan: Plan  # as published: an unroutable Deliver becomes StillFailing(unroutable)
    task_id_by: TaskIdMatch | None


@dataclass
class ReplayReport:
    queue: str
    run_id: str
    waiting_at_start: int = 0
    looked_at: int = 0
    complete: bool = True  # every message waiting at the start was looked at
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    events_published: int = 0
    still_failing: Counter[str] = field(default_factory=Counter)  # by today's reason
    stopped_by: str | None = None  # the broker error that ended the run early
    left_alone: int = 0  # looked at, but of a reason the filter excludes (too_many_deliveries)


async def replay(
    queue: ParkedQueue,
    sink: Sink,
    options: ReplayOptions,
    on_each: Callable[[Replayed], None] = lambda _: None,
) -> ReplayReport:
    """Replay what ``options.select`` matches in ``queue`` (see the module docstring)."""
    run = _Run(queue, sink, options, on_each)
    scan = ParkedScan(
        queue, options.select, scan_limit=options.scan_limit, limits=options.limits,
        own_run=run.report.run_id,
    )
    try:
        await scan.start()
        while options.limit is None or sum(run.report.outcomes.values()) < options.limit:
            found = await scan.next_match()
            if found is None:
                break
            await run.one(found)
    except (SinkUnavailableError, SourceUnavailableError) as exc:
        run.report.stopped_by = str(exc)
        log.warning("replay stopped: %s", exc)
    finally:
        await release_held(queue)
    report = run.report
    report.waiting_at_start, report.looked_at, report.complete = (
        scan.waiting_at_start, scan.looked_at, scan.complete,
    )
    report.left_alone = sum(scan.by_reason[r] for r in options.select.excluded_reasons)
    return report


class _Run:
    """One replay run's state: its id, the copies it parked, its report."""

    def __init__(
        self,
        queue: ParkedQueue,
        sink: Sink,
        options: ReplayOptions,
        on_each: Callable[[Replayed], None],
    ) -> None:
        self._queue = queue
        self._sink = sink
        self._options = options
        self._on_each = on_each
        self._reparked: set[tuple[str | None, ...]] = set()  # identities this run parked again
        self.report = ReplayReport(queue.name, uuid.uuid4().hex)

    async def one(self, found: Candidate) -> None:
        held = found.held
        if held.message.reason == TOO_MANY_DELIVERIES_REASON:
            log.info(
                "normalizing a body parked as too_many_deliveries: if this process dies now, "
                "this message is why",
                extra={"position": held.position, "message_id": held.message.message_id},
            )
        today = found.plan()
        if self._options.dry_run:
            dry = Outcome.WOULD_DELIVER if isinstance(today, Deliver) else Outcome.WOULD_STAY_PARKED
            self._record(Replayed(held, dry, today, found.match.task_id_by))
            return
        if isinstance(today, Deliver):
            today = await self._deliver(held, today)
        outcome = Outcome.DELIVERED
        if isinstance(today, StillFailing):
            outcome = await self._park_again(held, today)
        self._record(Replayed(held, outcome, today, found.match.task_id_by))

    async def _deliver(self, held: HeldMessage, today: Deliver) -> Plan:
        """Publish the events, then remove; StillFailing if the broker routed one nowhere."""
        try:
            for message in today.messages:
                await self._sink.publish(message)
        except UnroutableError as exc:
            return StillFailing(UNROUTABLE_REASON, str(exc))
        await self._queue.remove(held)
        self.report.events_published += len(today.messages)
        return today

    async def _park_again(self, held: HeldMessage, today: StillFailing) -> Outcome:
        """Park a copy with today's reason, then remove (or only remove: a duplicate)."""
        identity = held.message.identity
        if identity in self._reparked:
            await self._queue.remove(held)
            return Outcome.DUPLICATE_REMOVED
        copy = reparked_message(
            held.message, today.reason, today.detail,
            queue=self._queue.name, run_id=self.report.run_id,
        )
        try:
            await self._sink.publish(copy)
        except UnroutableError as exc:
            # Nothing bound to the parking exchange: removing the original would lose it.
            raise SinkUnavailableError(f"the parking destination routes nowhere: {exc}") from exc
        self._reparked.add(identity)
        await self._queue.remove(held)
        return Outcome.STILL_PARKED

    def _record(self, replayed: Replayed) -> None:
        self.report.outcomes[replayed.outcome] += 1
        if isinstance(replayed.plan, StillFailing) and replayed.outcome is not Outcome.DUPLICATE_REMOVED:
            self.report.still_failing[replayed.plan.reason] += 1
        self._on_each(replayed)
