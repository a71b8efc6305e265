"""The delivery ledger: received → normalized → published → acked per source kind, the
published-but-unacked window, and the acked-without-publish counter that must stay 0."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio
import pytest
from prometheus_client import generate_latest

from adapters.memory import MemorySink, MemorySource
from consumer.errors import SourceUnavailableError
from consumer.metric_instruments import LedgerEntry
from consumer.metrics import Metrics
from consumer.normalize import normalize
from consumer.outbound import routing_key
from consumer.ports import DeliveryInfo
from consumer.relay import RelayOptions, run_relay
from consumer.relay.delivery import DeliveryRelay, Outcome
from consumer.relay.gate import Backoff, HealthGate
from tests.relay_support import (
    MPS_WORKFLOW,
    NOT_JSON,
    PROCEDURE_FINISHED,
    PULL_EVENTS_BATCH,
    wait_until,
)

FAST = RelayOptions(
    max_in_flight=4,
    confirm_timeout_s=0.5,
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    grace_period_s=0.5,
    settle_timeout_s=0.5,
)


def _relay(sink: MemorySink, metrics: Metrics) -> DeliveryRelay:
    return DeliveryRelay(sink=sink, options=FAST, gate=HealthGate(Backoff(0.01, 0.05, 0)),
                         metrics=metrics)


@dataclass
class _Delivery:
    """A delivery whose ack can be held (``release``) or made to fail."""

    body: bytes
    source: str = "cmq:mps-events"
    fail_ack: bool = False
    released: anyio.Event = field(default_factory=anyio.Event)
    acked: bool = False
    decoded: object = None

    @property
    def info(self) -> DeliveryInfo:
        return DeliveryInfo(self.source, "d-1", 1, datetime.now(UTC))

    async def ack(self) -> None:
        await self.released.wait()
        if self.fail_ack:
            raise SourceUnavailableError("the ack was lost")
        self.acked = True

    async def nack(self) -> None:
        return None


async def test_a_run_accounts_for_every_delivery_event_and_publish() -> None:
    """Relayed, parked and unroutable bodies, and a sink that fails twice: the ledger balances."""
    batch_events = len(normalize(PULL_EVENTS_BATCH))
    unroutable = routing_key(normalize(MPS_WORKFLOW)[0].event)  # a key the VOD batch lacks
    source = MemorySource([PULL_EVENTS_BATCH, NOT_JSON, MPS_WORKFLOW], finite=True)
    sink = MemorySink(fail_next=2, unroutable_keys=[unroutable])
    metrics = Metrics()
    with anyio.fail_after(5):
        await run_relay(source, sink, FAST, metrics=metrics)
    ledger = metrics.ledger.of("memory:anything")
    assert len(source.acked) == 3
    assert ledger.acked == 3
    assert ledger.received == 3 + len(source.nacked)  # the two failed publishes came again
    assert ledger.normalized >= batch_events + 1  # NOT_JSON makes none
    # Every confirmed publish is in the sink: batch events, two parked bodies, none lost.
    assert ledger.published == len(sink.published) == batch_events + 2
    assert ledger.published_unacked == 0
    assert ledger.acked_without_publish == 0


async def test_the_series_are_per_source_kind_and_exported() -> None:
    metrics = Metrics()
    for queue in ("a", "b"):
        delivery = _Delivery(PROCEDURE_FINISHED, source=f"cmq:{queue}")
        delivery.released.set()
        await _relay(MemorySink(), metrics).relay(delivery)
    text = generate_latest(metrics.registry).decode()
    assert 'media_bridge_ledger_acked_total{source="cmq"} 2.0' in text
    assert 'media_bridge_ledger_received_total{source="cmq"} 2.0' in text
    assert 'media_bridge_ledger_published_unacked{source="cmq"} 0.0' in text
    assert 'media_bridge_ledger_acked_without_publish_total{source="cmq"} 0.0' in text
    assert 'source="cmq:a"' not in text


@pytest.mark.parametrize("fail_ack", [False, True])
async def test_published_unacked_spans_the_confirm_to_the_ack(fail_ack: bool) -> None:
    """The gauge is 1 while the ack is on its way, and 0 once it returned or failed."""
    metrics = Metrics()
    delivery = _Delivery(PROCEDURE_FINISHED, fail_ack=fail_ack)
    ledger: LedgerEntry = metrics.ledger.of(delivery.source)
    outcome: list[Outcome] = []

    async def relay_it() -> None:
        outcome.append(await _relay(MemorySink(), metrics).relay(delivery))

    async with anyio.create_task_group() as group:
        group.start_soon(relay_it)
        await wait_until(lambda: ledger.published == 1)
        assert ledger.published_unacked == 1
        assert ledger.acked == 0
        delivery.released.set()
    assert outcome == [Outcome.RELAYED]
    assert ledger.published_unacked == 0
    assert ledger.acked == (0 if fail_ack else 1)
    assert delivery.acked is not fail_ack


async def test_an_ack_without_a_confirmed_publish_is_counted_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The invariant detector works: a (simulated) bug that acks with nothing published shows."""

    async def publish_nothing(self: DeliveryRelay, delivery: object, ledger: object) -> tuple[
        Outcome, int
    ]:
        return Outcome.RELAYED, 0

    monkeypatch.setattr(DeliveryRelay, "_publish", publish_nothing)
    metrics = Metrics()
    delivery = _Delivery(PROCEDURE_FINISHED)
    delivery.released.set()
    with caplog.at_level(logging.ERROR, logger="media_bridge.relay"):
        await _relay(MemorySink(), metrics).relay(delivery)
    assert metrics.ledger.of(delivery.source).acked_without_publish == 1
    assert any("without any confirmed publish" in r.getMessage() for r in caplog.records)
