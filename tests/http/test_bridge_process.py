"""``media-bridge run`` with the HTTP source: hostile input never kills it, SIGTERM drains it.

Both run the real process against the real RabbitMQ (the test's own exchanges and queues).
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import anyio
import httpx
import pytest
from aiormq.abc import DeliveredMessage

from bench._http_client import ConnectionLost, HttpConnection
from consumer.errors import PayloadError
from consumer.normalize import normalize
from tests.e2e_cmq.support import Tap, broker_tap, unique_bodies
from tests.http.bridge_process import running_bridge
from tests.http.fuzz_requests import MAX_BODY_BYTES, Request, fuzzed_requests
from tests.http.support import JSON, event_ids, vod_signed
from tests.relay_support import NEW_FILE_UPLOAD

pytestmark = pytest.mark.rabbitmq

FUZZ_SEED = 20261201
FUZZ_COUNT = 10_000
REFUSALS = {400, 401, 403, 404, 405, 408, 413, 415}


async def test_ten_thousand_fuzzed_requests_get_4xx_or_are_parked_then_200(tmp_path: Path) -> None:
    """Every answer is a 4xx, a 200 for a body that was relayed or parked, or a 503 with
    Retry-After (backpressure); the process is alive and ready afterwards, and what it took
    responsibility for (200) is exactly what arrived."""
    requests = fuzzed_requests(FUZZ_SEED, FUZZ_COUNT)
    answers: list[tuple[Request, int, str | None]] = []
    async with broker_tap() as tap:
        env = {"MEDIA_BRIDGE_SOURCE__MAX_BODY_BYTES": str(MAX_BODY_BYTES)}
        async with running_bridge(tap.names, tmp_path / "bridge.log", **env) as bridge:
            pending = iter(requests)

            async def worker() -> None:
                connection = HttpConnection("127.0.0.1", bridge.port)
                try:
                    for request in pending:
                        answer = await connection.request(
                            request.method, request.path, request.body, request.headers
                        )
                        answers.append((request, answer.status, answer.headers.get("retry-after")))
                finally:
                    await connection.aclose()

            with anyio.fail_after(240):
                async with anyio.create_task_group() as group:
                    for _ in range(32):
                        group.start_soon(worker)
            async with httpx.AsyncClient() as http:
                healthy = await http.get(f"{bridge.status_url}/readyz")
            assert bridge.process.returncode is None, "the bridge died"
            expected = _expected(answers)
            with anyio.fail_after(60):
                while await _counts(tap) != expected:  # noqa: ASYNC110 - broker state, no event
                    await anyio.sleep(0.05)
            bridge.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                exit_code = await bridge.process.wait()
        await anyio.sleep(0.2)
        arrived = await _counts(tap)
    statuses = Counter(status for _, status, _ in answers)
    assert len(answers) == FUZZ_COUNT
    assert set(statuses) <= REFUSALS | {200, 503}, statuses
    assert all(retry for _, status, retry in answers if status == 503)
    assert statuses[200] > FUZZ_COUNT / 2
    assert min(statuses[401], statuses[404], statuses[405], statuses[413], statuses[415]) > 0
    assert healthy.status_code == 200
    assert exit_code == 0
    assert arrived == expected


async def _counts(tap: Tap) -> tuple[int, int]:
    """Events and parked bodies now in the tap's queues (counted, not fetched: thousands)."""
    events = await tap.channel.queue_declare(tap.names.tap, passive=True)
    parked = await tap.channel.queue_declare(tap.names.parking, passive=True)
    return events.message_count or 0, parked.message_count or 0


def _expected(answers: list[tuple[Request, int, str | None]]) -> tuple[int, int]:
    """Events and parked bodies the 200 answers stand for (normalize decides which)."""
    events = parked = 0
    for request, status, _ in answers:
        if status != 200:
            continue
        try:
            events += len(normalize(request.body))
        except PayloadError:
            parked += 1
    return events, parked


async def test_sigterm_under_load_finishes_what_is_in_flight_and_exits_0(tmp_path: Path) -> None:
    """Sixteen senders keep POSTing; SIGTERM: requests in flight are answered (200 once
    confirmed, or 503 if not started), the bridge exits 0, and every request answered 200 has
    its event on the exchange."""
    bodies = iter([vod_signed(body) for body in unique_bodies(NEW_FILE_UPLOAD, 20_000)])
    done: list[tuple[bytes, int | str, float, float]] = []  # body, answer, started, ended
    signalled_at: list[float] = []
    under_load = anyio.Event()
    published: set[str] = set()

    async def on_event(message: DeliveredMessage) -> None:
        published.add(str(message.header.properties.message_id))

    async with broker_tap() as tap:
        await tap.channel.basic_consume(tap.names.tap, on_event, no_ack=True)
        async with running_bridge(tap.names, tmp_path / "bridge.log") as bridge:

            async def sender() -> None:
                connection = HttpConnection("127.0.0.1", bridge.port)
                for body in bodies:
                    started = time.monotonic()
                    try:
                        answer: int | str = (
                            await connection.request("POST", "/vod", body, JSON)
                        ).status
                    except ConnectionLost:
                        answer = "connection lost"
                    done.append((body, answer, started, time.monotonic()))
                    if len(done) >= 1000:
                        under_load.set()
                    if isinstance(answer, str) and bridge.process.returncode is not None:
                        return  # nothing listens any more

            async with anyio.create_task_group() as load:
                for _ in range(16):
                    load.start_soon(sender)
                with anyio.fail_after(30):
                    await under_load.wait()
                signalled_at.append(time.monotonic())
                bridge.process.send_signal(signal.SIGTERM)
                with anyio.fail_after(30):
                    exit_code = await bridge.process.wait()
                load.cancel_scope.cancel()
        expected = {i for body, answer, _, _ in done if answer == 200 for i in event_ids(body)}
        with anyio.fail_after(10):
            while not expected <= published:  # noqa: ASYNC110 - the consumer fills it
                await anyio.sleep(0.05)
    signal_time = signalled_at[0]
    straddling = [answer for _, answer, started, ended in done if started < signal_time < ended]
    assert exit_code == 0
    assert {answer for _, answer, _, _ in done if isinstance(answer, int)} <= {200, 503}
    assert 200 in straddling  # a request in flight at the signal was finished, confirmed
    assert len(expected) >= 1000  # nothing lost: every 200 stands for an event that arrived
    assert "Traceback" not in bridge.log.read_text()
