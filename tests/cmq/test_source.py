"""CmqSource against the emulator: receiving, acking, failures and deadlines."""

from __future__ import annotations

import time
from contextlib import aclosing
from datetime import UTC

import anyio
import pytest

from adapters.cmq import CmqDelivery, CmqSource
from consumer.errors import ConfigurationError, SourceUnavailableError
from emulators.cmq import FaultKind, FaultRule, FaultSettings
from tests.cmq.helpers import SECRET_ID, SECRET_KEY, emulator, raw_client, source_options


async def receive(source: CmqSource, within: float = 5.0) -> CmqDelivery:
    with anyio.fail_after(within):
        return await source.receive()


async def test_connect_with_wrong_secret_key_is_a_configuration_error() -> None:
    """4100 at start-up: one clear line naming the auth failure and the SecretId, not the key."""
    async with emulator() as running:
        options = source_options(running, secret_key="definitely-wrong")
        with pytest.raises(ConfigurationError) as caught:
            await CmqSource.connect(options)
    message = str(caught.value)
    assert "CMQ rejected the credentials (code 4100" in message
    assert SECRET_ID[:8] in message
    assert "definitely-wrong" not in message
    assert "\n" not in message


async def test_connect_to_missing_queue_names_the_queue() -> None:
    """4440 at start-up is a ConfigurationError naming the queue."""
    async with emulator("q") as running:
        with pytest.raises(ConfigurationError, match="'absent' does not exist"):
            await CmqSource.connect(source_options(running, "q", "absent"))


async def test_delivery_carries_msg_id_dequeue_count_and_deadline() -> None:
    """DeliveryInfo: cmq:<queue>, msgId, dequeueCount and nextVisibleTime as the deadline."""
    async with emulator() as running, raw_client(running) as cmq:
        [msg_id] = await cmq.send("q", '{"a": 1}')
        async with aclosing(await CmqSource.connect(source_options(running))) as source:
            delivery = await receive(source)
            await delivery.ack()
            stats = source.stats
    info = delivery.info
    assert (info.source, info.delivery_id, info.delivery_count) == ("cmq:q", msg_id, 1)
    assert delivery.body == b'{"a": 1}'
    assert info.deadline is not None
    assert info.deadline > info.received_at  # nextVisibleTime: whole seconds, >= 1 s away here
    assert info.deadline.tzinfo is UTC
    assert (stats.received, stats.deleted) == (1, 1)


async def test_concurrent_acks_share_one_batch_delete() -> None:
    """Acks arriving together become one BatchDeleteMessage; every message is gone."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.send("q", *[f"m{n}" for n in range(10)])
        async with aclosing(await CmqSource.connect(source_options(running))) as source:
            deliveries = [await receive(source) for _ in range(10)]
            async with anyio.create_task_group() as tg:
                for delivery in deliveries:
                    tg.start_soon(delivery.ack)
        batch_deletes = running.app.requests["BatchDeleteMessage"]
        counts = running.queue("q").counts()
    assert batch_deletes == 1
    assert counts["stored"] == 0


async def test_partial_batch_delete_settles_each_ack_by_its_own_handle() -> None:
    """6010: the ack whose handle failed (4430) returns and is counted; the other is deleted."""
    async with emulator() as running, raw_client(running) as cmq:
        gone_id, kept_id = await cmq.send("q", "gone", "kept")
        async with aclosing(await CmqSource.connect(source_options(running))) as source:
            first, second = await receive(source), await receive(source)
            running.queue("q").drop(gone_id)  # deleted behind the consumer's back
            async with anyio.create_task_group() as tg:
                tg.start_soon(first.ack)
                tg.start_soon(second.ack)
            stats = source.stats
        counts = running.queue("q").counts()
    assert {first.info.delivery_id, second.info.delivery_id} == {gone_id, kept_id}
    assert (stats.invalid_handles, stats.deleted) == (1, 1)
    assert running.app.requests["BatchDeleteMessage"] == 1
    assert counts["stored"] == 0


async def test_late_ack_is_not_sent_with_a_dead_handle() -> None:
    """An ack after nextVisibleTime is skipped and counted; the message comes back."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.send("q", "slow")
        async with aclosing(await CmqSource.connect(source_options(running))) as source:
            delivery = await receive(source)
            assert delivery.info.deadline is not None
            await anyio.sleep(delivery.info.deadline.timestamp() - time.time() + 0.05)
            await delivery.ack()
            again = await receive(source, within=4)
            await again.ack()
            stats = source.stats
    assert stats.late_deletes == 1
    assert running.app.requests["BatchDeleteMessage"] == 1  # only the second ack was sent
    assert again.info.delivery_id == delivery.info.delivery_id
    assert again.info.delivery_count == 2


async def test_throttled_polls_are_retried() -> None:
    """4420 on receive is retried with backoff; every message still arrives."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.send("q", "a", "b", "c")
        throttle = FaultSettings(
            rules=(FaultRule(FaultKind.THROTTLED, 0.6, "BatchReceiveMessage"),), seed=3
        )
        running.set_faults(throttle)
        options = source_options(running, batch_size=1, receive_retry_attempts=20)
        async with aclosing(await CmqSource.connect(options)) as source:
            bodies = sorted([(await receive(source)).body for _ in range(3)])
            stats = source.stats
    assert bodies == [b"a", b"b", b"c"]
    assert stats.throttled > 0
    assert stats.receive_retries >= stats.throttled


async def test_receive_raises_source_unavailable_after_the_retry_budget() -> None:
    """When every poll fails (HTTP 503), receive() raises SourceUnavailableError."""
    async with emulator() as running:
        options = source_options(running, receive_retry_attempts=3)
        async with aclosing(await CmqSource.connect(options)) as source:
            running.set_faults(FaultSettings(rules=(FaultRule(FaultKind.HTTP_5XX, 1.0),)))
            with pytest.raises(SourceUnavailableError, match="unavailable after 3 tries"):
                await receive(source)


async def test_failed_deletes_are_retried_until_they_succeed() -> None:
    """6000 on BatchDeleteMessage is retried; the ack returns once CMQ deleted the message."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.send("q", "m")
        async with aclosing(await CmqSource.connect(source_options(running))) as source:
            delivery = await receive(source)
            running.set_faults(
                FaultSettings(rules=(FaultRule(FaultKind.INTERNAL, 1.0, "BatchDeleteMessage"),))
            )
            async with anyio.create_task_group() as tg:
                tg.start_soon(delivery.ack)
                await anyio.sleep(0.3)
                running.set_faults(FaultSettings())
            stats = source.stats
        counts = running.queue("q").counts()
    assert stats.delete_retries >= 2
    assert (stats.deleted, counts["stored"]) == (1, 0)


async def test_lost_delete_reply_is_retried_and_the_4430_that_follows_is_harmless() -> None:
    """The delete was done but its reply lost: the retry's 4430 ends the ack without error."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.send("q", "m")
        async with aclosing(await CmqSource.connect(source_options(running))) as source:
            delivery = await receive(source)
            running.set_faults(
                FaultSettings(
                    rules=(FaultRule(FaultKind.DROP_RESPONSE, 1.0, "BatchDeleteMessage"),)
                )
            )
            async with anyio.create_task_group() as tg:
                tg.start_soon(delivery.ack)
                await anyio.sleep(0.2)
                running.set_faults(FaultSettings())
            stats = source.stats
        counts = running.queue("q").counts()
    assert counts["stored"] == 0
    assert stats.invalid_handles == 1


async def test_two_queues_are_consumed_by_one_source() -> None:
    """Messages of both queues arrive through one receive(), each tagged with its queue."""
    async with emulator("a", "b") as running, raw_client(running) as cmq:
        await cmq.send("a", "a1", "a2")
        await cmq.send("b", "b1")
        async with aclosing(await CmqSource.connect(source_options(running, "a", "b"))) as source:
            got = [await receive(source) for _ in range(3)]
            await cmq.send("b", "b2")  # arrives through b's long poll
            got.append(await receive(source))
            for delivery in got:
                await delivery.ack()
        counts = [running.queue(name).counts()["stored"] for name in ("a", "b")]
    assert sorted((d.info.source, d.body) for d in got) == [
        ("cmq:a", b"a1"),
        ("cmq:a", b"a2"),
        ("cmq:b", b"b1"),
        ("cmq:b", b"b2"),
    ]
    assert counts == [0, 0]


async def test_options_repr_masks_the_secret_key() -> None:
    """repr() of the options never shows the SecretKey or the token."""
    async with emulator() as running:
        options = source_options(running, token="session-token-xyz")
    assert SECRET_KEY not in repr(options)
    assert "session-token-xyz" not in repr(options)
    assert "secret_key=***" in repr(options)


async def test_ack_after_close_raises_source_unavailable() -> None:
    """Once the source is closed an ack can't reach CMQ: it says so instead of hanging."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.send("q", "m")
        source = await CmqSource.connect(source_options(running))
        delivery = await receive(source)
        await source.aclose()
        with pytest.raises(SourceUnavailableError, match="closed"):
            await delivery.ack()


async def test_unreachable_endpoint_at_start_is_source_unavailable() -> None:
    """Nothing listening: connect retries, then raises SourceUnavailableError (not config)."""
    async with emulator() as running:
        options = source_options(running, receive_retry_attempts=2)
    with pytest.raises(SourceUnavailableError, match="unavailable after 2 tries"):
        await CmqSource.connect(options)
