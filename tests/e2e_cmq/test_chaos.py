"""Chaos: a fifth of receives and deletes fail, leases last 2 s, and still nothing is lost."""

from __future__ import annotations

import anyio
import pytest
from prometheus_client import CollectorRegistry

import consumer.relay.engine
from adapters.cmq import CmqSource
from consumer.metrics import Metrics
from emulators.cmq import FaultKind, FaultRule, FaultSettings
from tests.cmq.helpers import emulator, source_options
from tests.e2e_cmq.support import (
    broker_tap,
    expected_event_ids,
    relaying,
    send_with_sdk,
    unique_bodies,
)
from tests.relay_support import NEW_FILE_UPLOAD

pytestmark = pytest.mark.rabbitmq

MESSAGES = 600
ACTIONS = ("BatchReceiveMessage", "BatchDeleteMessage")
KINDS = (FaultKind.HTTP_5XX, FaultKind.TIMEOUT, FaultKind.THROTTLED, FaultKind.DROP_RESPONSE)
# One draw per rule: 1 - 0.945^4 ≈ 20% of the calls of each action fail, a quarter of them of
# each kind. A dropped response is the nasty one: the receive or delete WAS performed.
FAULTS = FaultSettings(
    rules=tuple(FaultRule(kind, 0.055, action) for action in ACTIONS for kind in KINDS),
    seed=20240611,
    timeout_hold_s=0.4,
)


async def test_failing_receives_and_deletes_lose_nothing_and_duplicate_only_undeleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every event arrives; extra copies are of known ids and no more than the failed deletes."""
    await _chaos_run(MESSAGES, deadline_s=60, monkeypatch=monkeypatch)


@pytest.mark.soak
@pytest.mark.timeout(1500)
async def test_long_chaos_run_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same chaos for 20,000 messages (minutes; `scripts/test -m soak`)."""
    await _chaos_run(20_000, deadline_s=1200, monkeypatch=monkeypatch)


class _KeptMetrics(Metrics):
    """The relay's metrics, kept for the ledger assertion (run_relay makes its own)."""

    made: list[Metrics] = []  # noqa: RUF012 - reset per run by _chaos_run

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.made.append(self)


async def _chaos_run(messages: int, deadline_s: float, monkeypatch: pytest.MonkeyPatch) -> None:
    _KeptMetrics.made = []
    monkeypatch.setattr(consumer.relay.engine, "Metrics", _KeptMetrics)
    bodies = unique_bodies(NEW_FILE_UPLOAD, messages)
    expected = set(expected_event_ids(bodies))
    assert len(expected) == messages

    async with emulator("chaos", visibility=2.0) as running, broker_tap() as tap:
        await send_with_sdk(running.url, "chaos", [body.decode() for body in bodies])
        running.set_faults(FAULTS)
        # A short delete window keeps many BatchDelete calls in a 600-message run, so every
        # fault kind reliably lands on deletes too (the product default batches more).
        options = source_options(
            running,
            "chaos",
            batch_size=4,
            receive_retry_attempts=8,
            delete_coalesce_window=0.002,
        )
        source = await CmqSource.connect(options)
        with anyio.fail_after(deadline_s):
            async with relaying(source, tap.names, max_in_flight=32):
                while (
                    set(tap.event_ids()) != expected
                    or running.queue("chaos").counts()["stored"] > 0
                ):
                    await anyio.sleep(0.05)
                    await tap.collect()
        await anyio.sleep(0.2)
        await tap.collect()
        injected = running.app.faults.injected
        counts = running.queue("chaos").counts()
    stats = source.stats

    received = tap.event_ids()
    duplicates = received.total() - len(received)
    undeleted = stats.late_deletes + stats.invalid_handles + stats.delete_failures
    assert set(received) == expected  # nothing lost, nothing foreign
    assert counts["stored"] == 0
    assert not tap.parked
    assert duplicates <= undeleted, (duplicates, stats)
    # The delivery ledger: every ack followed a confirmed publish, nothing left in the window.
    [metrics] = _KeptMetrics.made
    ledger = metrics.ledger.of("cmq")
    assert ledger.acked_without_publish == 0
    assert ledger.published_unacked == 0
    assert ledger.acked >= messages
    assert ledger.published >= messages
    # The run really was chaotic: every kind of fault hit both actions.
    for action in ACTIONS:
        for kind in KINDS:
            assert injected[(action, kind)] > 0, (action, kind, injected)
