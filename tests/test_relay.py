"""The relay's ordering and error handling, against the memory adapters and real sample bodies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
import pytest

import consumer.relay.delivery
from adapters.memory import Journal, MemorySink, MemorySource
from consumer.events import NormalizedEvent
from consumer.metrics import Metrics
from consumer.normalize import normalize
from consumer.outbound import routing_key
from consumer.ports import Destination
from consumer.relay import RelayOptions, run_relay
from tests.relay_support import (
    MPS_WORKFLOW,
    NEW_FILE_UPLOAD,
    NOT_JSON,
    PROCEDURE_FINISHED,
    PULL_EVENTS_BATCH,
    event_ids,
    wait_until,
)

FAST = RelayOptions(
    max_in_flight=8,
    confirm_timeout_s=0.5,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    grace_period_s=0.5,
    settle_timeout_s=0.5,
)


async def relay(
    source: MemorySource,
    sink: MemorySink,
    options: RelayOptions = FAST,
    metrics: Metrics | None = None,
) -> None:
    with anyio.fail_after(5):
        await run_relay(source, sink, options, metrics=metrics)


async def while_relaying(
    source: MemorySource, sink: MemorySink, step: Callable[[], Awaitable[None]]
) -> None:
    """Run the relay to the end of the (finite) source while ``step`` pokes at it."""
    async with anyio.create_task_group() as group:
        group.start_soon(relay, source, sink)
        await step()


def position(journal: Journal, entry: tuple[str, str]) -> int:
    return journal.index(entry)


async def test_ack_happens_only_after_every_event_is_confirmed() -> None:
    """Each source message is acked after the confirm of every event made from it."""
    journal: Journal = []
    bodies = [NEW_FILE_UPLOAD, PROCEDURE_FINISHED, MPS_WORKFLOW]
    source = MemorySource(bodies, finite=True, journal=journal)
    sink = MemorySink(journal=journal)
    await relay(source, sink)
    assert sorted(source.acked) == ["m1", "m2", "m3"]
    for message_id, body in zip(["m1", "m2", "m3"], bodies, strict=True):
        ack_at = position(journal, ("ack", message_id))
        assert all(position(journal, ("confirm", e)) < ack_at for e in event_ids(body))
    assert [m.message_id for m in sink.published] == [e for b in bodies for e in event_ids(b)]


async def test_batch_body_acked_after_all_its_events_confirmed() -> None:
    """A body holding four events is acked once, and only after all four are confirmed."""
    source = MemorySource([PULL_EVENTS_BATCH], finite=True)
    sink = MemorySink(block=True)

    async def step() -> None:
        await wait_until(lambda: sink.waiting == 4)
        assert source.acked == []
        sink.release()

    await while_relaying(source, sink, step)
    assert source.acked == ["m1"]
    assert sorted(m.message_id for m in sink.published) == sorted(event_ids(PULL_EVENTS_BATCH))


async def test_event_message_carries_the_cloudevent_and_its_routing_key() -> None:
    """The published message is the CloudEvent, keyed vendor.type.status, with ce- headers."""
    source = MemorySource([PROCEDURE_FINISHED], finite=True)
    sink = MemorySink()
    await relay(source, sink)
    [event] = normalize(PROCEDURE_FINISHED)
    [message] = sink.published
    assert message.routing_key == "vod.ProcedureStateChanged.FINISH" == routing_key(event.event)
    assert message.content_type == "application/cloudevents+json"
    assert message.headers["ce-id"] == message.message_id == event.event.id


async def test_parked_message_is_acked_only_after_dead_letter_publish_confirmed() -> None:
    """A body that is not a notification is parked; the ack waits for the parking confirm."""
    source = MemorySource([NOT_JSON], finite=True)
    sink = MemorySink(block=True)

    async def step() -> None:
        await wait_until(lambda: sink.waiting == 1)
        assert source.acked == []
        sink.release()

    await while_relaying(source, sink, step)
    assert source.acked == ["m1"]
    [parked] = sink.published_to(Destination.PARKING)
    assert parked.body == NOT_JSON
    assert parked.headers["x-park-reason"] == "not_json"
    assert parked.headers["x-source"] == "memory:memory"
    assert parked.headers["x-delivery-count"] == 1
    assert sink.published_to(Destination.EVENTS) == []


async def test_unroutable_event_parks_the_source_body() -> None:
    """An event the broker can't route parks the whole source body, byte for byte, then acks."""
    [event] = normalize(NEW_FILE_UPLOAD)
    source = MemorySource([NEW_FILE_UPLOAD], finite=True)
    sink = MemorySink(unroutable_keys=[routing_key(event.event)])
    await relay(source, sink)
    [parked] = sink.published_to(Destination.PARKING)
    assert parked.body == NEW_FILE_UPLOAD
    assert parked.headers["x-park-reason"] == "unroutable"
    assert parked.routing_key == "unroutable"
    assert source.acked == ["m1"]


async def test_sink_failure_leaves_delivery_unacked_and_it_is_retried() -> None:
    """An unconfirmed publish nacks the delivery; the redelivery is relayed and acked."""
    journal: Journal = []
    metrics = Metrics()
    source = MemorySource([NEW_FILE_UPLOAD], finite=True, journal=journal)
    sink = MemorySink(fail_next=1, journal=journal)
    await relay(source, sink, metrics=metrics)
    assert [entry for entry in journal if entry[0] in {"ack", "nack"}] == [
        ("nack", "m1"),
        ("ack", "m1"),
    ]
    assert [m.message_id for m in sink.published] == event_ids(NEW_FILE_UPLOAD)
    retried = metrics.registry.get_sample_value(
        "media_bridge_deliveries_retried_total", {"cause": "sink_unavailable"}
    )
    assert retried == 1


async def test_confirm_timeout_is_transient_not_acked() -> None:
    """A publish not confirmed within confirm_timeout_s is not acked and is retried later."""
    options = RelayOptions(confirm_timeout_s=0.05, backoff_initial_s=0.01, backoff_max_s=0.02)
    source = MemorySource([NEW_FILE_UPLOAD], finite=True)
    sink = MemorySink(block=True)
    async with anyio.create_task_group() as group:
        group.start_soon(relay, source, sink, options)
        await wait_until(lambda: source.nacked == ["m1"])
        assert source.acked == []
        assert sink.published == []
        sink.release()
    assert source.acked == ["m1"]
    assert [m.message_id for m in sink.published] == event_ids(NEW_FILE_UPLOAD)


async def test_ack_failure_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    """A lost ack is logged and counted; the relay goes on and the redelivery is acked."""
    metrics = Metrics()
    source = MemorySource([NEW_FILE_UPLOAD], finite=True, fail_acks=1)
    sink = MemorySink()
    with caplog.at_level(logging.WARNING, logger="media_bridge.relay"):
        await relay(source, sink, metrics=metrics)
    assert source.acked == ["m1"]
    assert [m.message_id for m in sink.published] == event_ids(NEW_FILE_UPLOAD) * 2
    assert any(r.getMessage().startswith("ack failed") for r in caplog.records)
    assert metrics.registry.get_sample_value("media_bridge_ack_failures_total") == 1


async def test_source_unavailable_is_retried_after_backoff() -> None:
    """Receive failures are backed off and retried; the messages still get relayed."""
    metrics = Metrics()
    source = MemorySource([NEW_FILE_UPLOAD], finite=True, fail_receives=3)
    sink = MemorySink()
    await relay(source, sink, metrics=metrics)
    assert source.acked == ["m1"]
    assert metrics.registry.get_sample_value("media_bridge_receive_failures_total") == 3


async def test_metrics_count_what_happened() -> None:
    """Counters and stage histograms reflect a relayed and a parked delivery."""
    metrics = Metrics()
    await relay(MemorySource([NEW_FILE_UPLOAD, NOT_JSON], finite=True), MemorySink(), FAST, metrics)
    value = metrics.registry.get_sample_value
    assert value("media_bridge_deliveries_received_total") == 2
    assert value("media_bridge_deliveries_acked_total", {"outcome": "relayed"}) == 1
    assert value("media_bridge_deliveries_acked_total", {"outcome": "parked"}) == 1
    assert value("media_bridge_deliveries_parked_total", {"reason": "not_json"}) == 1
    assert value("media_bridge_messages_confirmed_total", {"destination": "parking"}) == 1
    assert value("media_bridge_stage_seconds_count", {"stage": "total"}) == 2
    assert value("media_bridge_in_flight") == 0


async def test_unexpected_normalizer_failure_parks_that_body_and_the_relay_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug on one body (not a PayloadError) parks it as internal_error; the others relay."""

    def normalize_with_a_bug(
        body: bytes | str, *args: object, **kwargs: object
    ) -> list[NormalizedEvent]:
        if body == MPS_WORKFLOW:
            raise ValueError("cannot convert float NaN to integer")
        return normalize(body)

    monkeypatch.setattr(consumer.relay.delivery, "normalize", normalize_with_a_bug)
    source = MemorySource([PROCEDURE_FINISHED, MPS_WORKFLOW, NEW_FILE_UPLOAD], finite=True)
    sink = MemorySink()
    with caplog.at_level(logging.ERROR, logger="media_bridge.relay"):
        await relay(source, sink)

    assert sorted(source.acked) == ["m1", "m2", "m3"]
    [parked] = sink.published_to(Destination.PARKING)
    assert parked.body == MPS_WORKFLOW
    assert parked.routing_key == "internal_error"
    assert parked.headers["x-park-detail"] == "ValueError: cannot convert float NaN to integer"
    assert len(sink.published_to(Destination.EVENTS)) == 2
    assert any(record.exc_info for record in caplog.records), "the traceback is logged"
