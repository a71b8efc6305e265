"""Relay one delivery: normalize → publish → await every confirm → ack (or park, or retry).

The ordering guarantee lives here: ``ack`` is only called after the sink confirmed every
message made from the body (the events, or the parked body). Nothing else acks.

* poison cap: a delivery handed out more than ``max_deliveries`` times (not counting the times
  this process gave it back itself, ``consumer.relay.givebacks``) is parked with the reason
  ``too_many_deliveries`` *before* it is normalized: a body that crashed or wedged the process
  on every earlier attempt must not get another chance to;
* permanent (``PayloadError``, or ``UnroutableError`` from any event): publish the raw body to
  PARKING, and ack after that publish is confirmed; an unexpected exception from normalizing
  (a bug of ours) is parked the same way with the reason ``internal_error``;
* transient (``SinkUnavailableError``, confirm timeout): close the sink gate, wait the back-off,
  nack (RabbitMQ requeues; CMQ/VOD let the lease lapse); never ack;
* too close to the source's deadline (``DeliveryInfo.deadline``: CMQ lease end, VOD confirm
  window): a delivery that could not be acked in time is not started, and the publishes of one
  that could get no longer than the deadline minus ``deadline_margin_s``; either way it is left
  for redelivery (counted as ``retried{cause="deadline"}``), without closing the sink gate:
  the sink did nothing wrong;
* cancelled before the confirm: neither ack nor nack (the source redelivers); after the confirm
  the ack is shielded from cancellation, bounded by ``settle_timeout_s``. One cancel scope per
  delivery does both: it carries the confirm deadline while publishing and, the moment every
  confirm is in (no await in between, so no cancellation can slip through), becomes shielded
  with the settle deadline for the ack. Scopes cost microseconds each on the per-message path;
  one instead of two was a measurable share of the engine;
* a failed ack/nack is logged and counted, never raised: the message comes again with the
  same event ids, which downstream deduplicates.

The delivery ledger (``consumer.metric_instruments.LedgerEntry``, per source kind) is kept here, where
the ordering is: received when a delivery arrives, normalized events, confirmed publishes,
``published_unacked`` from the last confirm until the ack returned (or failed), acked. A
delivery acked with no confirmed publish is counted as ``acked_without_publish`` and logged
as an ERROR: every acked outcome publishes (events, or the parked body), so it can only be a bug.

Unrouted events: with an alternate exchange on the events exchange (``sink.unroutable = keep``)
the broker keeps them and confirms the publish, so they are relayed like any other event; only
without one does the sink raise ``UnroutableError`` and the body get parked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from time import perf_counter

import anyio

from consumer.errors import (
    PayloadError,
    SinkUnavailableError,
    SourceUnavailableError,
    UnroutableError,
)
from consumer.metric_instruments import LedgerEntry
from consumer.metrics import Metrics
from consumer.normalize import normalize
from consumer.outbound import (
    INTERNAL_ERROR_REASON,
    TOO_MANY_DELIVERIES_REASON,
    UNROUTABLE_REASON,
    event_message,
    parking_message,
)
from consumer.ports import Delivery, OutboundMessage, Sink
from consumer.relay.gate import HealthGate
from consumer.relay.givebacks import GiveBacks
from consumer.relay.options import RelayOptions

log = logging.getLogger("media_bridge.relay")


class Outcome(StrEnum):
    RELAYED = "relayed"  # every event confirmed, then acked
    PARKED = "parked"  # raw body confirmed on the parking destination, then acked
    RETRY = "retry"  # not confirmed: left for redelivery


class _ConfirmTimeoutError(SinkUnavailableError):
    """Not every confirm of a delivery arrived within ``confirm_timeout_s``."""


@dataclass(frozen=True, slots=True)
class DeliveryRelay:
    """Everything needed to relay one delivery; one instance is shared by all deliveries."""

    sink: Sink
    options: RelayOptions
    gate: HealthGate  # the sink's: closed by transient publish failures
    metrics: Metrics
    given_back: GiveBacks = field(default_factory=GiveBacks)  # for the poison cap

    async def relay(self, delivery: Delivery) -> Outcome:
        """Relay ``delivery`` and settle it. Raises only on cancellation (or a bug)."""
        started = perf_counter()
        ledger = self.metrics.ledger.of(delivery.info.source)
        ledger.received += 1
        options = self.options
        budget = options.confirm_timeout_s
        cut_by_deadline = False
        if delivery.info.deadline is not None:
            left = delivery.info.deadline.timestamp() - time.time() - options.deadline_margin_s
            if left <= 0:
                await self._leave_for_redelivery(delivery, "not started: too close to its deadline")
                return Outcome.RETRY
            if left < budget:
                budget, cut_by_deadline = left, True
        outcome: Outcome | None = None
        failure: SinkUnavailableError | None = None
        acked = False
        confirmed = 0
        with anyio.CancelScope(deadline=anyio.current_time() + budget) as scope:
            try:
                outcome, confirmed = await self._publish(delivery, ledger)
            except SinkUnavailableError as exc:
                failure = exc
            else:
                ledger.published_unacked += 1
                # Confirmed: shutdown must not lose this ack (peers I-F1), but a hung ack must
                # not hold shutdown forever either.
                scope.shield = True
                scope.deadline = anyio.current_time() + options.settle_timeout_s
                acked_at = perf_counter()
                acked = await self._ack(delivery, outcome)
                self.metrics.stage["ack"].observe(perf_counter() - acked_at)
        if outcome is None:  # not confirmed: failed, or the confirm deadline passed
            if failure is None and cut_by_deadline:
                await self._leave_for_redelivery(delivery, "not confirmed before its deadline")
                return Outcome.RETRY
            if failure is None:
                failure = _ConfirmTimeoutError(
                    f"not confirmed within {options.confirm_timeout_s:g} s"
                )
            self.gate.failed()
            await self._give_back(delivery, failure)
            return Outcome.RETRY
        ledger.published_unacked -= 1  # the ack returned, failed or timed out
        self.gate.succeeded()
        if scope.cancelled_caught:
            self._ack_failed(delivery, outcome, "ack timed out; the message will be redelivered")
        if acked:
            self._count_acked(delivery, outcome, confirmed, ledger, started)
        return outcome

    def _count_acked(
        self, delivery: Delivery, outcome: Outcome, confirmed: int, ledger: LedgerEntry,
        started: float,
    ) -> None:
        ledger.acked += 1
        if not confirmed:
            self._acked_without_publish(delivery, outcome, ledger)
        # Keyed by the StrEnum member itself: it hashes and compares as its value, and reading
        # ``.value`` (an enum property) cost more than the lookup, three times per delivery.
        self.metrics.acked_as[outcome].inc()
        self.metrics.stage["total"].observe(perf_counter() - started)
        if log.isEnabledFor(logging.DEBUG):  # the fields cost more than the ack on the hot path
            log.debug("delivery settled", extra={**_fields(delivery), "outcome": outcome.value})

    async def _publish(self, delivery: Delivery, ledger: LedgerEntry) -> tuple[Outcome, int]:
        """The outcome and how many publishes the broker confirmed for it."""
        poisoned = self._over_the_cap(delivery)
        if poisoned is not None:
            parked = await self._park(delivery, ledger, TOO_MANY_DELIVERIES_REASON, poisoned)
            return Outcome.PARKED, parked
        started = perf_counter()
        rejected: tuple[str, str] | None = None
        try:
            events = normalize(delivery.body, self.options.limits, decoded=delivery.decoded)
            messages = [event_message(event) for event in events]
        except PayloadError as exc:
            rejected = (exc.reason.value, exc.detail)
        except Exception as exc:
            # A bug of ours on one body (normalize is pure, so it is about this body) must cost
            # that body a trip to parking, not stop the relay: raising here would end run_relay,
            # and after a restart the same message would stop it again.
            log.exception("normalizing failed unexpectedly", extra=_fields(delivery))
            rejected = (INTERNAL_ERROR_REASON, f"{type(exc).__name__}: {exc}")
        self.metrics.stage["normalize"].observe(perf_counter() - started)
        if rejected is not None:
            return Outcome.PARKED, await self._park(delivery, ledger, *rejected)
        ledger.normalized += len(messages)
        try:
            confirmed = await self._publish_all(messages, ledger)
        except UnroutableError as exc:
            return Outcome.PARKED, await self._park(delivery, ledger, UNROUTABLE_REASON, str(exc))
        return Outcome.RELAYED, confirmed

    def _over_the_cap(self, delivery: Delivery) -> str | None:
        """The parking detail if ``delivery`` was handed out more often than the cap allows."""
        cap = self.options.max_deliveries
        count = delivery.info.delivery_count
        if not cap or count <= cap:
            return None  # the hot path: one comparison
        ours = self.given_back.of(delivery.body)
        if count - ours <= cap:
            return None
        return (
            f"delivered {count} times ({ours} of them given back by this process), more than "
            f"relay.max_deliveries = {cap}; parked without normalizing it again"
        )

    async def _park(self, delivery: Delivery, ledger: LedgerEntry, reason: str, detail: str) -> int:
        log.warning(
            "parking delivery",
            extra={**_fields(delivery), "reason": reason, "detail": detail},
        )
        try:
            confirmed = await self._publish_all(
                [parking_message(delivery.body, delivery.info, reason, detail)], ledger
            )
        except UnroutableError as exc:
            # Nothing bound to the parking exchange is a broker set-up problem, not the body's.
            raise SinkUnavailableError(f"the parking destination routes nowhere: {exc}") from exc
        self.metrics.parked.labels(reason).inc()
        return confirmed

    async def _publish_all(self, messages: Sequence[OutboundMessage], ledger: LedgerEntry) -> int:
        """Publish concurrently; return when all are confirmed, with how many that was.

        Raises:
            SinkUnavailableError: one was not confirmed (or not within the confirm timeout).
            UnroutableError: one was returned unroutable (and none failed transiently).
        """
        started = perf_counter()
        errors: list[SinkUnavailableError | UnroutableError] = []
        # Bounded by the delivery's confirm deadline (the scope in ``relay``).
        if len(messages) == 1:
            # The common case (one event per body): no task group, no extra task.
            await self._publish_one(messages[0], errors, None, ledger)
        else:
            async with anyio.create_task_group() as group:
                for message in messages:
                    group.start_soon(
                        self._publish_one, message, errors, group.cancel_scope, ledger
                    )
        self.metrics.stage["publish_confirm"].observe(perf_counter() - started)
        if errors:
            transient = [e for e in errors if isinstance(e, SinkUnavailableError)]
            raise (transient or errors)[0]
        return len(messages)

    async def _publish_one(
        self,
        message: OutboundMessage,
        errors: list[SinkUnavailableError | UnroutableError],
        group: anyio.CancelScope | None,
        ledger: LedgerEntry,
    ) -> None:
        self.metrics.published_to[message.destination].inc()  # a StrEnum key: see _count_acked
        try:
            await self.sink.publish(message)
        except SinkUnavailableError as exc:
            errors.append(exc)
            if group is not None:
                group.cancel()  # the delivery will be retried whole: stop waiting for the others
        except UnroutableError as exc:
            errors.append(exc)
        else:
            self.metrics.confirmed_to[message.destination].inc()
            ledger.published += 1

    async def _ack(self, delivery: Delivery, outcome: Outcome) -> bool:
        """Ack inside ``relay``'s shielded scope; False (logged, never raised) if it failed."""
        try:
            await delivery.ack()
        except SourceUnavailableError as exc:
            self._ack_failed(delivery, outcome, "ack failed; the message will be redelivered", exc)
            return False
        self.given_back.forget(delivery.body)
        return True

    def _acked_without_publish(
        self, delivery: Delivery, outcome: Outcome, ledger: LedgerEntry
    ) -> None:
        ledger.acked_without_publish += 1
        log.error(
            "delivery acked without any confirmed publish: a bug in the relay's ordering",
            extra={**_fields(delivery), "outcome": outcome.value},
        )

    def _ack_failed(
        self, delivery: Delivery, outcome: Outcome, what: str, error: Exception | None = None
    ) -> None:
        self.metrics.ack_failures.inc()
        fields = {**_fields(delivery), "outcome": outcome.value}
        if error is not None:
            fields["error"] = str(error)
        log.warning(what, extra=fields)

    async def _leave_for_redelivery(self, delivery: Delivery, why: str) -> None:
        """The source's deadline, not the sink, stopped this one: no back-off, no gate change."""
        self.metrics.retried.labels("deadline").inc()
        self.given_back.add(delivery.body)  # not the body's fault: not for the poison cap
        log.warning(
            f"delivery {why}; left for redelivery",
            extra={**_fields(delivery), "deadline": str(delivery.info.deadline)},
        )
        await self._nack(delivery)

    async def _give_back(self, delivery: Delivery, error: SinkUnavailableError) -> None:
        cause = "confirm_timeout" if isinstance(error, _ConfirmTimeoutError) else "sink_unavailable"
        self.metrics.retried.labels(cause).inc()
        delay = self.gate.retry_delay()
        log.warning(
            "publish not confirmed; retrying later",
            extra={**_fields(delivery), "cause": cause, "error": str(error), "retry_in_s": delay},
        )
        self.given_back.add(delivery.body)  # not the body's fault: not for the poison cap
        await anyio.sleep(delay)  # so a RabbitMQ requeue does not come straight back
        await self._nack(delivery)

    async def _nack(self, delivery: Delivery) -> None:
        with anyio.move_on_after(self.options.settle_timeout_s):
            try:
                await delivery.nack()
            except SourceUnavailableError as exc:
                self.metrics.nack_failures.inc()
                log.info("nack failed", extra={**_fields(delivery), "error": str(exc)})


def _fields(delivery: Delivery) -> dict[str, object]:
    info = delivery.info
    return {
        "source": info.source,
        "delivery_id": info.delivery_id,
        "delivery_count": info.delivery_count,
    }
