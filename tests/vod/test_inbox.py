"""PullInbox: FIFO hand-over from the pollers to the relay's receivers, bounded, cancel-safe."""

from __future__ import annotations

import asyncio

import pytest

from adapters.vod_inbox import InboxClosed, PullInbox


async def receive(inbox: PullInbox[int]) -> int:
    while (item := inbox.take()) is None:
        await inbox.wait()
    return item


async def test_items_come_out_in_order_and_take_never_waits() -> None:
    inbox: PullInbox[int] = PullInbox(16)
    assert inbox.take() is None
    await inbox.put([1, 2, 3])
    assert [inbox.take(), inbox.take(), inbox.take(), inbox.take()] == [1, 2, 3, None]


async def test_each_item_wakes_one_waiting_receiver() -> None:
    inbox: PullInbox[int] = PullInbox(16)
    receivers = [asyncio.create_task(receive(inbox)) for _ in range(3)]
    await asyncio.sleep(0)
    await inbox.put([7, 8])
    done, pending = await asyncio.wait(receivers, timeout=0.5)
    assert sorted(task.result() for task in done) == [7, 8]
    assert len(pending) == 1  # one item each, nothing twice
    inbox.put_nowait([9])
    assert await asyncio.wait_for(pending.pop(), 0.5) == 9


async def test_a_batch_waits_until_it_fits_then_goes_in_whole() -> None:
    inbox: PullInbox[int] = PullInbox(4)
    await inbox.put([1, 2, 3])
    putter = asyncio.create_task(inbox.put([4, 5]))
    await asyncio.sleep(0.01)
    assert not putter.done()  # 3 + 2 > 4
    assert inbox.take() == 1
    await asyncio.wait_for(putter, 0.5)
    assert [inbox.take() for _ in range(5)] == [2, 3, 4, 5, None]


async def test_a_batch_into_an_empty_inbox_is_taken_whatever_its_size() -> None:
    inbox: PullInbox[int] = PullInbox(2)
    await asyncio.wait_for(inbox.put([1, 2, 3]), 0.5)
    assert inbox.take() == 1


async def test_a_receiver_cancelled_after_its_wake_up_passes_it_on() -> None:
    inbox: PullInbox[int] = PullInbox(16)
    first = asyncio.create_task(receive(inbox))
    second = asyncio.create_task(receive(inbox))
    await asyncio.sleep(0)
    inbox.put_nowait([1])  # wakes ``first`` ...
    first.cancel()  # ... which is cancelled before it runs
    assert await asyncio.wait_for(second, 0.5) == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_close_wakes_everyone_and_refuses_more() -> None:
    inbox: PullInbox[int] = PullInbox(1)
    await inbox.put([1])
    waiting = asyncio.create_task(inbox.wait())
    putter = asyncio.create_task(inbox.put([2]))
    await asyncio.sleep(0)
    inbox.close()
    await asyncio.wait_for(waiting, 0.5)
    with pytest.raises(InboxClosed):
        await asyncio.wait_for(putter, 0.5)
    assert inbox.closed
    await asyncio.wait_for(inbox.wait(), 0.5)  # returns at once once closed
