"""The poison cap (``relay.max_deliveries``): a delivery handed out too often is parked unprocessed.

The first tests run the relay on the memory adapters (whose queue counts every lease, as
RabbitMQ quorum queues and CMQ do). The last two are the acceptance runs: the real bridge
process, RabbitMQ as the sink, and a body that kills the process every time it is normalized;
the source is the CMQ emulator (CMQ counts ``dequeueCount`` across consumer restarts), then a
RabbitMQ quorum queue (``x-delivery-count``).
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
from anyio.abc import Process

from adapters.memory import MemorySink, MemorySource
from consumer.outbound import TOO_MANY_DELIVERIES_REASON
from consumer.ports import Destination
from consumer.relay import RelayOptions, run_relay
from consumer.settings import load_settings
from tests.amqp_path import bridge_env
from tests.cmq.helpers import SECRET_ID, SECRET_KEY, emulator, raw_client
from tests.e2e_cmq.support import Tap, broker_tap, expected_event_ids, sink_env, unique_bodies
from tests.integration.broker import AMQP_URL, admin_channel, delete_all, put, queue_state, unique
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
        process, crashes = await _crash_until_parked(marker, env, tap, log)
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


async def _crash_until_parked(
    marker: str, env: dict[str, str], tap: Tap, log: Path
) -> tuple[Process, int]:
    """Start crashing bridges one after the other until one parks the poison body and lives;
    that one (running) and how many died before it."""
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
            return process, crashes  # this one parked it and lives on
        assert process.returncode == CRASHED, _text(log)
        crashes += 1
        assert crashes <= CAP, f"never parked: {_text(log)}"


def _text(log: Path) -> str:
    return log.read_text()


@pytest.mark.rabbitmq
async def test_a_body_that_kills_the_bridge_is_parked_from_a_quorum_source_queue(
    tmp_path: Path,
) -> None:
    """The same on the RabbitMQ stand-in with ``source.queue_type = quorum``: the queue counts
    the deliveries of a consumer whose link died in ``x-delivery-count``, across processes,
    so the 4th bridge parks the body (``max_deliveries = 3``) and relays what follows. (On a
    classic queue only ``redelivered`` is known: the count never passes 2.)"""
    marker = f"poison-{os.getpid()}-{id(tmp_path)}"
    poison, *later = unique_bodies(NEW_FILE_UPLOAD, 4)
    poison = poison.replace(b'"FileId":"', f'"FileId":"{marker}'.encode(), 1)
    source = unique("poison.source")
    log = tmp_path / "bridges.log"
    async with broker_tap() as tap, admin_channel() as admin:
        try:
            await admin.queue_declare(source, durable=True, arguments={"x-queue-type": "quorum"})
            await put(admin, source, [poison])
            env = {
                **_env("http://unused", sink_env(tap.names)),
                "MEDIA_BRIDGE_SOURCE__KIND": "rabbitmq",
                "MEDIA_BRIDGE_SOURCE__URL": AMQP_URL,
                "MEDIA_BRIDGE_SOURCE__QUEUE": source,
                "MEDIA_BRIDGE_SOURCE__QUEUE_TYPE": "quorum",
                **bridge_env(),
            }
            for cmq_only in ("ENDPOINT", "SECRET_ID", "SECRET_KEY", "QUEUES", "POLLING_WAIT_SECONDS"):
                del env[f"MEDIA_BRIDGE_SOURCE__{cmq_only}"]
            process, crashes = await _crash_until_parked(marker, env, tap, log)
            try:
                await put(admin, source, later)
                expected = expected_event_ids(later)
                with anyio.fail_after(20):
                    while tap.event_ids() != expected or _waiting(source):
                        await anyio.sleep(0.05)
                        await tap.collect()
                assert process.returncode is None, "the relay must move on, alive"
            finally:
                process.send_signal(signal.SIGTERM)
                with anyio.fail_after(20):
                    await process.wait()
        finally:
            await delete_all(admin, [source], [])
    assert crashes == CAP
    assert process.returncode == 0, log.read_text()
    [parked] = tap.parked
    headers = {k: v.decode() if isinstance(v, bytes) else v
               for k, v in (parked.header.properties.headers or {}).items()}
    assert parked.body == poison
    assert headers["x-park-reason"] == TOO_MANY_DELIVERIES_REASON
    assert headers["x-delivery-count"] == CAP + 1
    assert headers["x-source"] == f"rabbitmq:{source}"


def _waiting(queue: str) -> int:
    state = queue_state(queue)
    return state.ready + state.unacked


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
