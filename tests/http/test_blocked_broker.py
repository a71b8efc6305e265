"""The broker blocks the bridge's publishing connection (connection.blocked, a memory alarm):
503 + Retry-After while blocked, and the senders' retries succeed once it is unblocked.

An alarm blocks every publisher of a node, so this runs on the session's private node
(``private_rabbitmq``), never on the shared one.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass

import anyio
import httpx
import pytest

from tests.e2e_cmq.support import unique_bodies
from tests.http.broker_support import arrived, memory_alarm, node_tap, rabbit_sink
from tests.http.support import FAST_RELAY, JSON, event_ids, options, receiving, vod_signed
from tests.private_broker import PrivateBroker
from tests.relay_support import NEW_FILE_UPLOAD, wait_until

pytestmark = pytest.mark.rabbitmq
REQUEST_TIMEOUT_S = 2.0
# The relay gives up on a confirm this long after the request arrived (its deadline less the
# margin) and answers 503; a refusal once the sink knows of the block comes within its back-off.
GIVEN_UP_AFTER_S = REQUEST_TIMEOUT_S - FAST_RELAY.deadline_margin_s
SENDERS = 10


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    seconds: float

    @property
    def timed_out(self) -> bool:
        """503 because the confirm did not come in time: its publish may have reached the
        broker (and be routed once unblocked), so the retry may publish the event again."""
        return self.status == 503 and self.seconds >= GIVEN_UP_AFTER_S * 0.8


# rabbitmqctl starts an Erlang VM per call (the alarm takes five): seconds each on a busy
# machine, beyond the suite's default 120 s.
@pytest.mark.timeout(300)
async def test_blocked_connection_answers_503_then_the_retries_succeed_once_each(
    private_rabbitmq: PrivateBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="media_bridge.relay")
    broker = private_rabbitmq
    bodies = [vod_signed(body) for body in unique_bodies(NEW_FILE_UPLOAD, SENDERS + 1)]
    answers: list[list[Answer]] = [[] for _ in bodies]
    async with (
        node_tap(broker.url) as tap,
        rabbit_sink(tap.names, broker.url) as sink,
        receiving(sink, options(request_timeout=REQUEST_TIMEOUT_S)) as source,
        httpx.AsyncClient(timeout=10) as http,
    ):
        url = f"{source.url}/vod"

        async def send(n: int) -> None:
            """POST until 200, as Tencent retries a callback."""
            while not answers[n] or answers[n][-1].status != 200:
                started = time.monotonic()
                response = await http.post(url, content=bodies[n], headers=JSON)
                answers[n].append(
                    Answer(
                        response.status_code,
                        response.headers.get("retry-after"),
                        time.monotonic() - started,
                    )
                )
                await anyio.sleep(0.1)

        await send(0)  # the sink's connection has published: the broker blocks it in an alarm
        with anyio.fail_after(180):  # rabbitmqctl takes seconds per call on a busy machine
            async with anyio.create_task_group() as senders, memory_alarm(broker):
                for n in range(1, len(bodies)):
                    senders.start_soon(send, n)
                # Blocked: every sender is refused (twice, so some answers come after the
                # sink learnt of the block), and the sink says why.
                await wait_until(
                    lambda: all(len(a) >= 2 for a in answers[1:]) and _blocked_seen(caplog),
                    timeout_s=45,
                )
                refused_while_blocked = [a for sent in answers[1:] for a in sent]
            # Unblocked: the task group ends when every sender got its 200.
        expected = Counter(i for body in bodies for i in event_ids(body))
        await arrived(tap, expected.total(), timeout_s=20)
        await anyio.sleep(0.3)  # anything published once more would show up now
        await tap.collect()
    assert all(answer.status == 503 for answer in refused_while_blocked)
    # The sink learnt of the block (connection.blocked): later requests are refused at once.
    assert any(not answer.timed_out for answer in refused_while_blocked)
    assert all(int(answer.retry_after or 0) > 0 for answer in refused_while_blocked)
    assert all(sent[-1].status == 200 for sent in answers)
    got = tap.event_ids()
    assert set(got) == set(expected)  # nothing lost
    timed_out = sum(answer.timed_out for sent in answers for answer in sent)
    assert got.total() - expected.total() <= timed_out  # a copy only for a timed-out request
    assert tap.parked == []


def _blocked_seen(caplog: pytest.LogCaptureFixture) -> bool:
    """The relay was told the sink is blocked (the reason RabbitSink gives for
    connection.blocked), not merely that a confirm was late."""
    return any("blocked" in str(getattr(r, "error", "")) for r in caplog.records)
