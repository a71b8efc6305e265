"""``media-bridge parked`` as a process against the real broker: it shows, and changes nothing."""

from __future__ import annotations

import base64
import sys

import anyio
import orjson
import pytest

from tests.integration.bridge import bad_bodies, good_bodies
from tests.parked.support import parking_lot, peek, run_command
from tests.samples import REPO_ROOT

pytestmark = pytest.mark.rabbitmq


async def test_parked_twice_shows_the_same_messages_in_the_same_order_and_keeps_them() -> None:
    """Two runs print the same listing; the queue keeps every message, in its order."""
    bodies = [b for pair in zip(good_bodies(30), bad_bodies(30), strict=True) for b in pair]
    async with parking_lot() as (lot, _):
        await lot.park(bodies)
        before = [m.body for m in await peek(lot.parking)]
        first = await run_command(lot, "parked", "--json", "--limit", "1000")
        second = await run_command(lot, "parked", "--json", "--limit", "1000")
        after = [m.body for m in await peek(lot.parking)]
    assert first[0] == second[0] == 0, first[2] + second[2]
    shown = [_body(m) for m in orjson.loads(first[1])["messages"]]
    assert first[1] == second[1]
    assert before == after == shown == bodies
    listing = orjson.loads(first[1])
    assert (listing["waiting"], listing["looked_at"], listing["complete"]) == (60, 60, True)
    assert [m["position"] for m in listing["messages"]] == list(range(1, 61))


def _body(shown: dict[str, str | None]) -> bytes:
    """The body of one ``--json`` message: text, or base64 when it is not UTF-8."""
    text, encoded = shown["body"], shown.get("body_base64")
    return text.encode() if text is not None else base64.b64decode(encoded or "")


async def test_counts_per_reason_cover_everything_looked_at_and_filters_select() -> None:
    """--reason/--source/--limit select what is shown; the counts cover the whole pass."""
    async with parking_lot() as (lot, _):
        await lot.park(bad_bodies(3), reason="not_json", source="cmq:mps-events")
        await lot.park(bad_bodies(5)[3:], reason="unknown_format", source="rabbitmq:media.in")
        await lot.park(good_bodies(4), reason="internal_error", source="vod:1500000001")
        code, out, err = await run_command(
            lot, "parked", "--json", "--reason", "unknown_format", "--reason", "internal_error",
            "--source", "vod", "--limit", "3",
        )
        text_code, text, _ = await run_command(lot, "parked", "--source", "cmq:mps-events")
    assert code == 0, err
    listing = orjson.loads(out)
    assert listing["by_reason"] == {"internal_error": 4, "not_json": 3, "unknown_format": 2}
    assert listing["matched"] == 4
    assert [m["reason"] for m in listing["messages"]] == ["internal_error"] * 3
    assert [m["position"] for m in listing["messages"]] == [6, 7, 8]
    assert all(m["source"] == "vod:1500000001" for m in listing["messages"])
    first = listing["messages"][0]
    assert first["headers"]["x-park-detail"] == "test parking 0"
    assert first["headers"]["x-delivery-id"] == "d0"
    assert text_code == 0
    assert text.count("reason=not_json") == 3
    assert "reason=unknown_format" not in text
    assert "3 match, 3 shown" in text
    assert "by reason: internal_error 4, not_json 3" in text


async def test_task_id_matches_normalized_events_or_body_text_and_says_which() -> None:
    """--task-id finds a body by its events' task id, or as text when it does not normalize."""
    good = good_bodies(3)
    task_id = orjson.loads(good[1])["ProcedureStateChangeEvent"]["TaskId"]
    broken = b'{"EventType": "NoSuchEvent", "TaskId": "' + task_id.encode() + b'"}'
    async with parking_lot() as (lot, _):
        await lot.park([*good, broken, *bad_bodies(2)])
        code, out, err = await run_command(lot, "parked", "--json", "--task-id", task_id)
    assert code == 0, err
    found = [(m["position"], m["task_id_match"]) for m in orjson.loads(out)["messages"]]
    assert found == [(2, "event"), (4, "substring")]


async def test_since_and_until_select_by_the_time_first_parked() -> None:
    async with parking_lot() as (lot, _):
        await lot.park(bad_bodies(2))
        recent = await run_command(lot, "parked", "--json", "--since", "10m")
        future = await run_command(lot, "parked", "--json", "--since", "2999-01-01")
        old = await run_command(lot, "parked", "--json", "--until", "1h")
        bad = await run_command(lot, "parked", "--since", "yesterday-ish")
    assert orjson.loads(recent[1])["matched"] == 2
    assert orjson.loads(future[1])["matched"] == 0
    assert orjson.loads(old[1])["matched"] == 0
    assert bad[0] == 64
    assert "neither a duration" in bad[2]


async def test_text_output_shows_headers_and_the_body() -> None:
    body = b'{"not": "a notification", "secret": "kept verbatim"}'
    async with parking_lot() as (lot, _):
        await lot.park([body], reason="not_a_notification")
        code, out, err = await run_command(lot, "parked")
    assert code == 0, err
    assert "#1  reason=not_a_notification" in out
    assert "header x-park-reason: not_a_notification" in out
    assert "header x-source: cmq:q" in out
    assert f"body ({len(body)} bytes): {body.decode()}" in out


async def test_scan_bounds_the_pass_and_says_so() -> None:
    async with parking_lot() as (lot, _):
        await lot.park(bad_bodies(12))
        code, out, _ = await run_command(lot, "parked", "--json", "--scan", "5")
        kept = await peek(lot.parking)
    listing = orjson.loads(out)
    assert code == 0
    assert (listing["waiting"], listing["looked_at"], listing["complete"]) == (12, 5, False)
    assert len(kept) == 12


async def test_a_missing_queue_is_a_configuration_error() -> None:
    async with parking_lot() as (lot, _):
        code, _, err = await run_command(lot, "parked", "--queue", lot.parking + ".missing")
    assert code == 78
    assert "does not exist" in err


async def test_the_example_subscriber_shows_parked_bodies_without_removing_them() -> None:
    bodies = bad_bodies(3)
    async with parking_lot() as (lot, _):
        await lot.park(bodies, reason="not_json")
        command = [sys.executable, "examples/subscriber.py", "--parked", "--parking-queue",
                   lot.parking, "--idle", "1"]
        with anyio.fail_after(30):
            done = await anyio.run_process(command, env=lot.env(), cwd=REPO_ROOT)
        kept = await peek(lot.parking)
    lines = done.stdout.decode().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("PARKED")] == ["reason=not_json"] * 3
    assert [m.body for m in kept] == bodies
