"""The reliable-callback protocol: batches, long polls, leases, handles, confirms."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx

from emulators.vod.config import MAX_EVENTS_PER_CALL
from tests.vod_emulator.helpers import (
    HOLD_S,
    MAIN_APP,
    RawVod,
    emulator,
    event,
    file_id,
    raw_client,
    wait_until,
)


async def test_pull_returns_at_most_16_in_order_then_the_rest() -> None:
    """40 events come back as 16 + 16 + 8, first in first out, each with its own handle."""
    async with emulator() as running, raw_client(running) as vod:
        running.inject(None, [event(n) for n in range(40)])
        batches = [await vod.pull() for _ in range(3)]
    assert [len(b) for b in batches] == [MAX_EVENTS_PER_CALL, MAX_EVENTS_PER_CALL, 8]
    pulled = [e for batch in batches for e in batch]
    assert [file_id(e) for e in pulled] == [str(n) for n in range(40)]
    assert len({e["EventHandle"] for e in pulled}) == 40


async def test_events_come_back_exactly_as_injected_plus_a_handle() -> None:
    """Key order, nesting, unicode and integers beyond 64 bits survive; EventHandle is first."""
    original: dict[str, Any] = {
        "EventType": "ProcedureStateChanged",
        "zeta": 1,
        "alpha": [1, 2.5, {"z": None, "a": True}],
        "big": 2**70,
        "名字": "值",
    }
    async with emulator() as running, raw_client(running) as vod:
        running.inject(None, original)
        (pulled,) = await vod.pull()
    assert list(pulled) == ["EventHandle", *original]
    assert {k: v for k, v in pulled.items() if k != "EventHandle"} == original
    assert isinstance(pulled["big"], int)


async def test_malformed_events_are_delivered_unchecked() -> None:
    """``{}``, an unknown EventType and a stale EventHandle: stored as given (handle replaced)."""
    async with emulator() as running, raw_client(running) as vod:
        running.inject(None, [{}, {"EventType": "NoSuchType"}, {"EventHandle": "old", "x": 1}])
        pulled = await vod.pull()
    assert [list(e) for e in pulled] == [
        ["EventHandle"],
        ["EventHandle", "EventType"],
        ["EventHandle", "x"],
    ]
    assert pulled[1]["EventType"] == "NoSuchType"
    assert "old" not in {e["EventHandle"] for e in pulled}


async def test_empty_poll_is_held_then_answers_an_empty_event_set() -> None:
    """No events: the request is held about ``empty_hold_s``, then EventSet is []."""
    async with emulator() as running, raw_client(running) as vod:
        started = time.monotonic()
        reply = await vod.call("PullEvents", {})
        held = time.monotonic() - started
    assert reply.response["EventSet"] == []
    assert list(reply.response) == ["EventSet", "RequestId"]
    assert HOLD_S <= held < HOLD_S + 1.5


async def test_empty_event_set_can_be_null() -> None:
    """Tencent documents EventSet as possibly null; the emulator can answer that way."""
    async with emulator(hold=0, empty_event_set_null=True) as running, raw_client(running) as vod:
        reply = await vod.call("PullEvents", {})
    assert "EventSet" in reply.response
    assert reply.response["EventSet"] is None


async def test_held_poll_returns_as_soon_as_an_event_is_injected() -> None:
    """A poll held for 10 s returns the injected event at once."""
    async with emulator(hold=10) as running, raw_client(running) as vod:
        result: list[dict[str, Any]] = []

        async def poll() -> None:
            result.extend(await vod.pull())

        async with anyio.create_task_group() as tg:
            tg.start_soon(poll)
            await wait_until(lambda: running.app.requests["PullEvents"] == 1)
            started = time.monotonic()
            running.inject(None, event(1))
        waited = time.monotonic() - started
    assert [file_id(e) for e in result] == ["1"]
    assert waited < 2


async def test_shutdown_releases_held_polls() -> None:
    """Stopping the emulator answers a 30 s held poll promptly with no events."""
    result: list[list[dict[str, Any]]] = []
    # The client and the task group outlive the emulator, so the poll sees how shutdown ends it.
    async with (
        httpx.AsyncClient(timeout=20) as http,
        anyio.create_task_group() as tg,
        emulator(hold=30) as running,
    ):
        vod = RawVod(running.endpoint, http)

        async def poll() -> None:
            result.append(await vod.pull())

        tg.start_soon(poll)
        await wait_until(lambda: running.app.requests["PullEvents"] == 1)
        stopping = time.monotonic()
    assert result == [[]]
    assert time.monotonic() - stopping < 3


async def test_unconfirmed_event_comes_back_with_a_new_handle_and_the_old_one_dies() -> None:
    """After the confirm window the event is pullable again; only the new handle confirms."""
    async with emulator(window=0.5, hold=5) as running, raw_client(running) as vod:
        running.inject(None, event(1))
        (first,) = await vod.pull()
        # Held until the lease runs out (~0.5 s): the held poll wakes for the redelivery.
        (again,) = await vod.pull()
        stale = await vod.confirm([first["EventHandle"]])
        fresh = await vod.confirm([again["EventHandle"]])
        counts = running.counts()
    assert file_id(again) == file_id(first)
    assert again["EventHandle"] != first["EventHandle"]
    assert stale.error_code == "InvalidParameterValue"
    assert fresh.error_code is None
    assert (counts.confirmed, counts.redelivered, counts.pulled) == (1, 1, 2)
    assert (counts.pullable, counts.leased) == (0, 0)


async def test_handle_is_dead_once_the_window_passed_even_before_a_new_pull() -> None:
    """Confirming after the window fails although nobody pulled the event again."""
    async with emulator(window=0.3) as running, raw_client(running) as vod:
        running.inject(None, event(1))
        (pulled,) = await vod.pull()
        await wait_until(lambda: running.counts().pullable == 1)
        late = await vod.confirm([pulled["EventHandle"]])
    assert late.error_code == "InvalidParameterValue"


async def test_confirm_is_atomic_and_idempotent() -> None:
    """One bad handle confirms nothing; confirming a confirmed handle again succeeds."""
    async with emulator(window=10) as running, raw_client(running) as vod:
        running.inject(None, [event(1), event(2)])
        handles = [e["EventHandle"] for e in await vod.pull()]
        mixed = await vod.confirm([handles[0], "no-such-handle", "another"])
        after_mixed = running.counts()
        both = await vod.confirm(handles)
        again = await vod.confirm(handles)
        one_again = await vod.confirm([handles[1], handles[1]])
        counts = running.counts()
    assert mixed.error_code == "InvalidParameterValue"
    assert "2 of 3" in mixed.response["Error"]["Message"]
    assert (after_mixed.leased, after_mixed.confirmed) == (2, 0)
    assert [both.error_code, again.error_code, one_again.error_code] == [None, None, None]
    assert (counts.confirmed, counts.leased, counts.pullable) == (2, 0, 0)


async def test_confirmed_events_are_gone_for_good() -> None:
    """Confirmed events never come back, however long one waits past the window."""
    async with emulator(window=0.2, hold=0.6) as running, raw_client(running) as vod:
        running.inject(None, [event(1), event(2)])
        first = await vod.pull()
        await vod.confirm([first[0]["EventHandle"]])  # only the first one
        redelivered = await vod.pull()  # held until the second one's lease ends
        assert (await vod.confirm([redelivered[0]["EventHandle"]])).error_code is None
        later = await vod.pull()  # a full hold: nothing is left
    assert [file_id(e) for e in redelivered] == ["2"]
    assert later == []


async def test_sub_apps_are_isolated() -> None:
    """Events and handles belong to one SubAppId; no SubAppId means the main app."""
    async with emulator(hold=0) as running, raw_client(running) as vod:
        running.inject(None, event(0))
        running.inject(7, event(7))
        running.inject(8, event(8))
        from_7 = await vod.pull(7)
        from_main = await vod.pull()
        from_main_by_id = await vod.pull(MAIN_APP)
        wrong_app = await vod.confirm([from_7[0]["EventHandle"]], sub_app_id=8)
        right_app = await vod.confirm([from_7[0]["EventHandle"]], sub_app_id=7)
        counts_8 = running.counts(8)
    assert [file_id(e) for e in from_7] == ["7"]
    assert [file_id(e) for e in from_main] == ["0"]
    assert from_main_by_id == []
    assert wrong_app.error_code == "InvalidParameterValue"
    assert right_app.error_code is None
    assert (counts_8.pullable, counts_8.leased) == (1, 0)


async def test_concurrent_pullers_never_share_an_event() -> None:
    """Four pollers on one SubAppId, held when events arrive in bursts: each event goes to one."""
    async with emulator(window=30, hold=0.5) as running, raw_client(running) as vod:
        got: list[list[str]] = [[] for _ in range(4)]

        async def poller(n: int) -> None:
            while sum(map(len, got)) < 100:
                got[n].extend(file_id(e) for e in await vod.pull(5))

        async with anyio.create_task_group() as tg:
            for n in range(4):
                tg.start_soon(poller, n)
            await wait_until(lambda: running.app.requests["PullEvents"] >= 4)
            for start in range(0, 100, 10):
                running.inject(5, [event(n) for n in range(start, start + 10)])
                await wait_until(lambda: running.counts(5).pullable == 0)  # leased by a poll
        counts = running.counts(5)
    everything = [fid for ids in got for fid in ids]
    assert sorted(everything, key=int) == [str(n) for n in range(100)]  # none twice, none lost
    assert (counts.leased, counts.pulled, counts.redelivered) == (100, 100, 0)
