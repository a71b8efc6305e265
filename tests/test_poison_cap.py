"""The poison cap (``relay.max_deliveries``): a delivery handed out too often is parked unprocessed.

The first tests run the relay on the memory adapters (whose queue counts every lease, as
RabbitMQ quorum queues and CMQ do). The last one is the acceptance run: the real bridge process,
CMQ emulator as the source (CMQ counts ``dequeueCount`` across consumer restarts), RabbitMQ as
the sink, and a body that kills the process every time it is normalized.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from adapters.memory import MemorySink, MemorySource
from consumer.outbound import TOO_MANY_DELIVERIES_REASON
from consumer.ports import Destination
from consumer.relay import RelayOptions, run_relay
from consumer.settings import load_settings
from tests.cmq.helpers import SECRET_ID, SECRET_KEY, emulator, raw_client
from tests.e2e_cmq.support import broker_tap, expected_event_ids, sink_env, unique_bodies
from tests.relay_support import NEW_FILE_UPLOAD, PROCEDURE_FINISHED, event_ids
from tests.samples import REPO_ROOT

FAST = RelayOptions(
    max_in_flight=4,
    confirm_timeout_s=0.5,
    backoff_initial_s=0.01,
    backoff_max_s=0.02,
    grace_period_s=0.5,
    settle_timeout_s=0.5,
)


async def _delivered_before(source: MemorySource, times: int) -> None:
    """Lease and give back the next message ``times`` times (earlier consumers that failed)."""
    for _ in range(times):
        delivery = await source.receive()
        await delivery.nack()


async def _relay(source: MemorySource, sink: MemorySink, max_deliveries: int) -> None:
    options = dataclasses.replace(FAST, max_deliveries=max_deliveries)
    with anyio.fail_after(5):
        await run_relay(source, sink, options)


async def test_a_delivery_over_the_cap_is_parked_without_being_normalized() -> None:
    """Delivered a 4th time with a cap of 3: parked raw (although it would normalize), acked."""
    source = MemorySource([PROCEDURE_FINISHED, NEW_FILE_UPLOAD], finite=True)
    sink = MemorySink()
    await _delivered_before(source, 3)
    await _relay(source, sink, max_deliveries=3)
    parked = sink.published_to(Destination.PARKING)
    assert [m.body for m in parked] == [PROCEDURE_FINISHED]
    assert parked[0].headers["x-park-reason"] == TOO_MANY_DELIVERIES_REASON
    assert parked[0].headers["x-delivery-count"] == 4
    assert "delivered 4 times" in str(parked[0].headers["x-park-detail"])
    # the next message is relayed as usual
    assert [m.message_id for m in sink.published_to(Destination.EVENTS)] == event_ids(NEW_FILE_UPLOAD)
    assert sorted(source.acked) == ["m1", "m2"]


async def test_at_the_cap_and_without_a_cap_the_delivery_is_relayed() -> None:
    for cap, earlier in ((3, 2), (0, 50)):  # the 3rd delivery with cap 3; any with cap 0
        source = MemorySource([PROCEDURE_FINISHED], finite=True)
        sink = MemorySink()
        await _delivered_before(source, earlier)
        await _relay(source, sink, max_deliveries=cap)
        assert sink.published_to(Destination.PARKING) == []
        assert [m.message_id for m in sink.published] == event_ids(PROCEDURE_FINISHED)


async def test_deliveries_the_relay_gave_back_itself_do_not_count() -> None:
    """Five publishes in a row not confirmed (a broker outage): the relay gave the delivery back
    five times, so its 6th delivery is still under a cap of 2 and is relayed, not parked."""
    source = MemorySource([PROCEDURE_FINISHED], finite=True)
    sink = MemorySink(fail_next=5)
    await _relay(source, sink, max_deliveries=2)
    assert source.nacked == ["m1"] * 5
    assert sink.published_to(Destination.PARKING) == []
    assert [m.message_id for m in sink.published] == event_ids(PROCEDURE_FINISHED)


def test_the_cap_is_a_relay_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().relay_options().max_deliveries == 10
    monkeypatch.setenv("MEDIA_BRIDGE_RELAY__MAX_DELIVERIES", "0")
    assert load_settings().relay_options().max_deliveries == 0
    monkeypatch.setenv("MEDIA_BRIDGE_RELAY__MAX_DELIVERIES", "-1")
    with pytest.raises(Exception, match=r"relay\.max_deliveries"):
        load_settings()


# The test hook: the bridge, with normalize() replaced by one that kills the process (like a
# segfault or an OOM kill would) for bodies holding the marker given as the first argument.
# It lives here, not in the bridge: production code has no test hooks.
CRASHING_BRIDGE = """
import os, sys
import consumer.relay.delivery as relay_delivery
marker = sys.argv[1].encode()
real_normalize = relay_delivery.normalize
def normalize_or_die(body, *args, **kwargs):
    if marker in bytes(body):
        os._exit(3)
    return real_normalize(body, *args, **kwargs)
relay_delivery.normalize = normalize_or_die
from consumer.cli import main
raise SystemExit(main(["run"]))
"""
CAP = 3
CRASHED = 3  # the hook's exit status


@pytest.mark.rabbitmq
async def test_a_body_that_kills_the_bridge_is_parked_after_max_deliveries(tmp_path: Path) -> None:
    """Each bridge normalizing the poison body dies; CMQ's dequeueCount survives that, so after
    CAP deaths the next bridge parks it unprocessed, and goes on relaying what follows."""
    marker = f"poison-{os.getpid()}-{id(tmp_path)}"
    poison, *later = unique_bodies(NEW_FILE_UPLOAD, 4)
    poison = poison.replace(b'"FileId":"', f'"FileId":"{marker}'.encode(), 1)
    assert marker.encode() in poison
    log = tmp_path / "bridges.log"
    async with emulator("poison") as running, broker_tap() as tap, raw_client(running) as cmq:
        await cmq.send("poison", poison.decode())
        env = _env(running.url, sink_env(tap.names))
        command = [sys.executable, "-c", CRASHING_BRIDGE, marker]
        crashes = 0
        while True:
            with log.open("ab") as out:
                process = await anyio.open_process(
                    command, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
                )
            with anyio.fail_after(30):
                while process.returncode is None and not tap.parked:
                    await anyio.sleep(0.05)
                    await tap.collect()
            if process.returncode is None:
                break  # this one parked it and lives on
            assert process.returncode == CRASHED, log.read_text()
            crashes += 1
            assert crashes <= CAP, f"never parked: {log.read_text()}"
        try:
            await cmq.send("poison", *(body.decode() for body in later))
            expected = expected_event_ids(later)
            queue = running.queue("poison")
            with anyio.fail_after(20):
                # Every later body relayed, and nothing left in CMQ: the poison is gone from it.
                while tap.event_ids() != expected or queue.counts()["stored"]:
                    await anyio.sleep(0.05)
                    await tap.collect()
            assert process.returncode is None, "the relay must move on, alive"
        finally:
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                await process.wait()
    assert crashes == CAP
    assert process.returncode == 0, log.read_text()
    [parked] = tap.parked
    headers = {k: v.decode() if isinstance(v, bytes) else v
               for k, v in (parked.header.properties.headers or {}).items()}
    assert parked.body == poison
    assert headers["x-park-reason"] == TOO_MANY_DELIVERIES_REASON
    assert headers["x-delivery-count"] == CAP + 1
    assert headers["x-source"] == "cmq:poison"


def _env(endpoint: str, sink: dict[str, str]) -> dict[str, str]:
    base = {n: v for n, v in os.environ.items() if not n.startswith("MEDIA_BRIDGE_")}
    return {
        **base,
        **sink,
        "MEDIA_BRIDGE_SOURCE__KIND": "cmq",
        "MEDIA_BRIDGE_SOURCE__ENDPOINT": endpoint,
        "MEDIA_BRIDGE_SOURCE__SECRET_ID": SECRET_ID,
        "MEDIA_BRIDGE_SOURCE__SECRET_KEY": SECRET_KEY,
        "MEDIA_BRIDGE_SOURCE__QUEUES": "poison",
        "MEDIA_BRIDGE_SOURCE__POLLING_WAIT_SECONDS": "1",
        "MEDIA_BRIDGE_RELAY__MAX_DELIVERIES": str(CAP),
        "MEDIA_BRIDGE_HTTP__ENABLED": "false",
        "MEDIA_BRIDGE_LOG__LEVEL": "WARNING",
    }
