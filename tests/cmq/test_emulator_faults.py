"""Injected faults: reproducible from a seed, and each kind does what it says."""

from __future__ import annotations

import time

import httpx
import pytest

from emulators.cmq import FaultKind, FaultRule, FaultSettings
from tests.cmq.helpers import emulator, raw_client


async def _outcomes(seed: int) -> list[object]:
    faults = FaultSettings(
        rules=(
            FaultRule(FaultKind.THROTTLED, 0.3, "SendMessage"),
            FaultRule(FaultKind.HTTP_5XX, 0.2),
        ),
        seed=seed,
    )
    outcomes: list[object] = []
    async with emulator(faults=faults) as running, raw_client(running) as cmq:
        for n in range(40):
            form = cmq.signed("SendMessage", {"queueName": "q", "msgBody": str(n)})
            response = await cmq.http.post(running.index_url, data=form)
            outcomes.append(
                response.json()["code"] if response.status_code == 200 else response.status_code
            )
    return outcomes


async def test_same_seed_replays_the_same_faults() -> None:
    """Two runs with one seed fail the same requests the same way; another seed differs."""
    first, again, other = await _outcomes(7), await _outcomes(7), await _outcomes(8)
    assert first == again
    assert first != other
    assert {0, 4420, 503} <= set(first)


async def test_dropped_response_still_performs_the_action() -> None:
    """drop-response: the client gets a broken reply, yet the message was deleted."""
    faults = FaultSettings(rules=(FaultRule(FaultKind.DROP_RESPONSE, 1.0, "DeleteMessage"),))
    async with emulator(faults=faults) as running, raw_client(running) as cmq:
        await cmq.send("q", "m")
        msg = await cmq.call("ReceiveMessage", queueName="q")
        form = cmq.signed(
            "DeleteMessage", {"queueName": "q", "receiptHandle": msg["receiptHandle"]}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            await cmq.http.post(running.index_url, data=form)
        counts = running.queue("q").counts()
    assert counts["stored"] == 0


async def test_timeout_fault_holds_then_drops_without_acting() -> None:
    """timeout: the request hangs for timeout_hold_s, the connection drops, nothing is sent."""
    faults = FaultSettings(rules=(FaultRule(FaultKind.TIMEOUT, 1.0),), timeout_hold_s=0.5)
    async with emulator(faults=faults) as running, raw_client(running) as cmq:
        form = cmq.signed("SendMessage", {"queueName": "q", "msgBody": "m"})
        started = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):
            await cmq.http.post(running.index_url, data=form)
        held = time.monotonic() - started
        counts = running.queue("q").counts()
    assert held >= 0.5
    assert counts["stored"] == 0


async def test_fault_counts_and_latency_are_applied() -> None:
    """latency_s delays every reply; injected faults are counted per action and kind."""
    faults = FaultSettings(
        rules=(FaultRule(FaultKind.INTERNAL, 1.0, "ReceiveMessage"),), latency_s=0.2
    )
    async with emulator(faults=faults) as running, raw_client(running) as cmq:
        started = time.monotonic()
        reply = await cmq.call("ReceiveMessage", queueName="q")
        elapsed = time.monotonic() - started
        injected = dict(running.app.faults.injected)
    assert reply["code"] == 6000
    assert elapsed >= 0.2
    assert injected == {("ReceiveMessage", FaultKind.INTERNAL): 1}
