"""Relay one delivery: normalize → publish → await every confirm → ack (or park, or retry).

The ordering guarantee lives here: ``ack`` is only called after the sink confirmed every
message made from the body (the events, or the parked body). Nothing else acks.

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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from time import perf_counter

import anyio

from consumer.errors import (
    PayloadError,
    SinkUnavailableError,
    SourceUnavailableError,
    UnroutableError,
)
from consumer.metrics import Metrics
from consumer.normalize import normalize
from consumer.outbound import (
    INTERNAL_ERROR_REASON,
    UNROUTABLE_REASON,
    event_message,
    parking_message,
)
from consumer.ports import Delivery, OutboundMessage, Sink
from consumer.relay_gate import HealthGate
from consumer.relay_options import RelayOptions

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

    async def relay(self, delivery: Delivery) -> Outcome:
        """Relay ``delivery`` and settle it. Raises only on cancellation (or a bug)."""
        started = perf_counter()
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
        with anyio.CancelScope(deadline=anyio.current_time() + budget) as scope:
            try:
                outcome = await self._publish(delivery)
            except SinkUnavailableError as exc:
                failure = exc
            else:
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
        self.gate.succeeded()
        if scope.cancelled_caught:
            self._ack_failed(delivery, outcome, "ack timed out; the message will be redelivered")
        if not acked:
            return outcome
        self.metrics.acked_as[outcome.value].inc()
        self.metrics.stage["total"].observe(perf_counter() - started)
        if log.isEnabledFor(logging.DEBUG):  # the fields cost more than the ack on the hot path
            log.debug("delivery settled", extra={**_fields(delivery), "outcome": outcome.value})
        return outcome

    async def _publish(self, delivery: Delivery) -> Outcome:
        started = perf_counter()
        rejected: tuple[str, str] | None = None
        try:
            messages = [event_message(event) for event in normalize(delivery.body, self.options.limits)]
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
            await self._park(delivery, *rejected)
            return Outcome.PARKED
        try:
            await self._publish_all(messages)
        except UnroutableError as exc:
            await self._park(delivery, UNROUTABLE_REASON, str(exc))
            return Outcome.PARKED
        return Outcome.RELAYED

    async def _park(self, delivery: Delivery, reason: str, detail: str) -> None:
        log.warning(
            "parking delivery",
            extra={**_fields(delivery), "reason": reason, "detail": detail},
        )
        try:
            await self._publish_all([parking_message(delivery.body, delivery.info, reason, detail)])
        except UnroutableError as exc:
            # Nothing bound to the parking exchange is a broker set-up problem, not the body's.
            raise SinkUnavailableError(f"the parking destination routes nowhere: {exc}") from exc
        self.metrics.parked.labels(reason).inc()

    async def _publish_all(self, messages: Sequence[OutboundMessage]) -> None:
        """Publish concurrently; return when all are confirmed.

        Raises:
            SinkUnavailableError: one was not confirmed (or not within the confirm timeout).
            UnroutableError: one was returned unroutable (and none failed transiently).
        """
        started = perf_counter()
        errors: list[SinkUnavailableError | UnroutableError] = []
        # Bounded by the delivery's confirm deadline (the scope in ``relay``).
        if len(messages) == 1:
            # The common case (one event per body): no task group, no extra task.
            await self._publish_one(messages[0], errors, None)
        else:
            async with anyio.create_task_group() as group:
                for message in messages:
                    group.start_soon(self._publish_one, message, errors, group.cancel_scope)
        self.metrics.stage["publish_confirm"].observe(perf_counter() - started)
        transient = [e for e in errors if isinstance(e, SinkUnavailableError)]
        if transient or errors:
            raise (transient or errors)[0]

    async def _publish_one(
        self,
        message: OutboundMessage,
        errors: list[SinkUnavailableError | UnroutableError],
        group: anyio.CancelScope | None,
    ) -> None:
        self.metrics.published_to[message.destination.value].inc()
        try:
            await self.sink.publish(message)
        except SinkUnavailableError as exc:
            errors.append(exc)
            if group is not None:
                group.cancel()  # the delivery will be retried whole: stop waiting for the others
        except UnroutableError as exc:
            errors.append(exc)
        else:
            self.metrics.confirmed_to[message.destination.value].inc()

    async def _ack(self, delivery: Delivery, outcome: Outcome) -> bool:
        """Ack inside ``relay``'s shielded scope; False (logged, never raised) if it failed."""
        try:
            await delivery.ack()
        except SourceUnavailableError as exc:
            self._ack_failed(delivery, outcome, "ack failed; the message will be redelivered", exc)
            return False
        return True

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
