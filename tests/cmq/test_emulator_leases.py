"""The emulator's queue semantics: leases, receipt handles, long polling, limits."""

from __future__ import annotations

import time

import anyio

from tests.cmq.helpers import emulator, raw_client


async def test_expired_lease_redelivers_with_new_handle_and_higher_dequeue_count() -> None:
    """After visibilityTimeout the message comes back with a new handle and dequeueCount 2."""
    async with emulator(visibility=1) as running, raw_client(running) as cmq:
        [msg_id] = await cmq.send("q", "hello")
        first = await cmq.call("ReceiveMessage", queueName="q", pollingWaitSeconds="0")
        hidden = await cmq.call("ReceiveMessage", queueName="q", pollingWaitSeconds="0")
        second = await cmq.call("ReceiveMessage", queueName="q", pollingWaitSeconds="3")
    assert (first["msgId"], first["dequeueCount"]) == (msg_id, 1)
    assert hidden["code"] == 7000
    assert (second["msgId"], second["dequeueCount"], second["msgBody"]) == (msg_id, 2, "hello")
    assert second["receiptHandle"] != first["receiptHandle"]
    assert second["firstDequeueTime"] == first["firstDequeueTime"]
    assert second["nextVisibleTime"] >= first["nextVisibleTime"] + 1


async def test_delete_with_expired_or_superseded_handle_gets_4430() -> None:
    """A handle dies when its lease ends and when a newer receive supersedes it."""
    async with emulator(visibility=1) as running, raw_client(running) as cmq:
        await cmq.send("q", "m")
        first = await cmq.call("ReceiveMessage", queueName="q")
        await anyio.sleep(1.05)
        expired = await cmq.call(
            "DeleteMessage", queueName="q", receiptHandle=first["receiptHandle"]
        )
        second = await cmq.call("ReceiveMessage", queueName="q")
        superseded = await cmq.call(
            "DeleteMessage", queueName="q", receiptHandle=first["receiptHandle"]
        )
        current = await cmq.call(
            "DeleteMessage", queueName="q", receiptHandle=second["receiptHandle"]
        )
        again = await cmq.call(
            "DeleteMessage", queueName="q", receiptHandle=second["receiptHandle"]
        )
        counts = running.queue("q").counts()
    assert (expired["code"], superseded["code"], current["code"], again["code"]) == (
        4430,
        4430,
        0,
        4430,
    )
    assert counts["stored"] == 0


async def test_malformed_receipt_handle_gets_4000() -> None:
    """A handle that is not a CMQ handle at all is a parameter error, not 4430."""
    async with emulator() as running, raw_client(running) as cmq:
        reply = await cmq.call("DeleteMessage", queueName="q", receiptHandle="not-a-handle")
    assert reply["code"] == 4000
    assert "10470" in reply["message"]


async def test_long_poll_returns_as_soon_as_a_message_is_sent() -> None:
    """A receive waiting up to 10 s answers right after a send, not at the end of the wait."""
    async with emulator() as running, raw_client(running) as cmq:
        replies: list[dict[str, object]] = []

        async def poll() -> None:
            replies.append(
                await cmq.call(
                    "BatchReceiveMessage", queueName="q", numOfMsg="16", pollingWaitSeconds="10"
                )
            )

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(poll)
            await anyio.sleep(0.3)
            await cmq.send("q", "wake up")
        elapsed = time.monotonic() - started
    assert replies[0]["code"] == 0
    assert [m["msgBody"] for m in replies[0]["msgInfoList"]] == ["wake up"]  # type: ignore[attr-defined]
    assert elapsed < 2


async def test_empty_poll_answers_7000_after_the_wait() -> None:
    """With nothing to receive, both receive actions answer code 7000 once the wait ran out."""
    async with emulator() as running, raw_client(running) as cmq:
        started = time.monotonic()
        single = await cmq.call("ReceiveMessage", queueName="q", pollingWaitSeconds="1")
        waited = time.monotonic() - started
        batch = await cmq.call("BatchReceiveMessage", queueName="q", numOfMsg="4")
    assert (single["code"], batch["code"]) == (7000, 7000)
    assert 0.9 < waited < 2


async def test_batch_receive_returns_what_is_there_without_waiting_to_fill() -> None:
    """numOfMsg=16 with 3 messages returns the 3 at once, oldest first."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.send("q", "a", "b", "c")
        started = time.monotonic()
        reply = await cmq.call(
            "BatchReceiveMessage", queueName="q", numOfMsg="16", pollingWaitSeconds="5"
        )
        elapsed = time.monotonic() - started
    assert [m["msgBody"] for m in reply["msgInfoList"]] == ["a", "b", "c"]
    assert elapsed < 1


async def test_batch_delete_partial_failure_reports_6010_with_error_list() -> None:
    """One live and one dead handle: 6010, errorList names the dead one, the live one is gone."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.send("q", "a")
        [live] = (await cmq.call("BatchReceiveMessage", queueName="q", numOfMsg="2"))["msgInfoList"]
        reply = await cmq.call(
            "BatchDeleteMessage",
            queueName="q",
            **{"receiptHandle.1": live["receiptHandle"], "receiptHandle.2": "123456789"},
        )
        counts = running.queue("q").counts()
    assert reply["code"] == 6010
    assert reply["message"] == "delete message partially failed"
    assert reply["errorList"] == [
        {"code": 4430, "message": "invalid receiptHandle", "receiptHandle": "123456789"}
    ]
    assert counts["stored"] == 0


async def test_batch_delete_with_only_dead_handles_reports_6020() -> None:
    """When every handle fails the whole call answers 6020."""
    async with emulator() as running, raw_client(running) as cmq:
        reply = await cmq.call(
            "BatchDeleteMessage", queueName="q", **{"receiptHandle.0": "1", "receiptHandle.1": "2"}
        )
    assert reply["code"] == 6020
    assert [e["receiptHandle"] for e in reply["errorList"]] == ["1", "2"]


async def test_batch_indices_must_be_consecutive() -> None:
    """receiptHandle.1 and receiptHandle.3 without .2 is a parameter error."""
    async with emulator() as running, raw_client(running) as cmq:
        reply = await cmq.call(
            "BatchDeleteMessage", queueName="q", **{"receiptHandle.1": "1", "receiptHandle.3": "3"}
        )
    assert reply["code"] == 4000


async def test_message_over_max_size_gets_4400() -> None:
    """A body longer than the queue's maxMsgSize is refused with 4400; one at the limit is not."""
    async with emulator(max_msg_size=1024) as running, raw_client(running) as cmq:
        at_limit = await cmq.call("SendMessage", queueName="q", msgBody="x" * 1024)
        over = await cmq.call("SendMessage", queueName="q", msgBody="x" * 1025)
        batch_over = await cmq.call(
            "BatchSendMessage", queueName="q", **{"msgBody.1": "ok", "msgBody.2": "é" * 513}
        )
    assert (at_limit["code"], over["code"], batch_over["code"]) == (0, 4400, 4400)


async def test_unknown_queue_gets_4440() -> None:
    """Any action on a queue that was not configured answers 4440."""
    async with emulator() as running, raw_client(running) as cmq:
        reply = await cmq.call("ReceiveMessage", queueName="nope")
    assert reply["code"] == 4440


async def test_delayed_message_becomes_visible_after_delay_seconds() -> None:
    """delaySeconds hides a new message until the delay is over."""
    async with emulator() as running, raw_client(running) as cmq:
        await cmq.call("SendMessage", queueName="q", msgBody="later", delaySeconds="1")
        early = await cmq.call("ReceiveMessage", queueName="q", pollingWaitSeconds="0")
        late = await cmq.call("ReceiveMessage", queueName="q", pollingWaitSeconds="3")
    assert early["code"] == 7000
    assert (late["code"], late["msgBody"], late["dequeueCount"]) == (0, "later", 1)


async def test_requests_over_the_queue_qps_limit_get_4420() -> None:
    """With qps_limit=2, five requests in a burst meet the throttle at least once."""
    async with emulator(qps_limit=2) as running, raw_client(running) as cmq:
        codes = [(await cmq.call("ReceiveMessage", queueName="q"))["code"] for _ in range(5)]
    assert 4420 in codes
    assert set(codes) <= {4420, 7000}
