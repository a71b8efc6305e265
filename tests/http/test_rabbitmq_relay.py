"""Tencent's callbacks POSTed to the HTTP source, relayed to the real RabbitMQ, end to end.

Each test has its own exchanges and queues on the shared broker (``broker_tap``, unique names,
deleted afterwards) and never changes broker-wide state. Holding a confirm back and cutting the
link happen in a TCP proxy between the bridge's sink and the broker (``tests.http.tcp_proxy``).
The blocked connection (a memory alarm: broker-wide) is in ``test_blocked_broker``.
"""

from __future__ import annotations

from collections import Counter

import anyio
import httpx
import pytest

from tests.e2e_cmq.support import broker_tap
from tests.http.broker_support import arrived, rabbit_sink
from tests.http.support import (
    BEARER,
    JSON,
    event_ids,
    options,
    post_until_ok,
    push_samples,
    receiving,
    statuses,
    vod_signed,
)
from tests.http.tcp_proxy import broker_proxy
from tests.relay_support import NEW_FILE_UPLOAD, wait_until

pytestmark = pytest.mark.rabbitmq


async def test_every_signed_sample_is_answered_200_and_its_events_arrive_once() -> None:
    """Every VOD v3 push, VOD v2 and MPS sample: 200, and its events on the exchange with the
    ids ``normalize()`` gives the unsigned sample (the signature fields are not part of them)."""
    posts = push_samples()
    expected = Counter(i for _, name, body in posts for i in event_ids(body))
    unsigned = Counter(i for name, body in _unsigned(posts) for i in event_ids(body))
    assert expected == unsigned
    assert expected.total() == len(posts)  # every sample is one event: none is parked
    async with (
        broker_tap() as tap,
        rabbit_sink(tap.names) as sink,
        receiving(sink) as source,
        httpx.AsyncClient(timeout=10) as http,
    ):
        answers = []
        for path, _, body in posts:
            headers = BEARER if path == "/vod-v2" else JSON
            answers.append(
                (await http.post(f"{source.url}{path}", content=body, headers=headers)).status_code
            )
        await arrived(tap, len(posts))
        await anyio.sleep(0.2)  # anything published twice would show up now
        await tap.collect()
    assert answers == [200] * len(posts)
    assert tap.event_ids() == expected
    assert tap.parked == []


def _unsigned(posts: list[tuple[str, str, bytes]]) -> list[tuple[str, bytes]]:
    from tests.samples import sample

    return [(name, sample(name)) for _, name, _ in posts]


async def test_no_200_is_sent_before_the_broker_confirmed() -> None:
    """The event is routed into the tap queue while the broker's confirm is held in the proxy:
    the request is still unanswered; once the confirm passes, it is answered 200."""
    body = vod_signed(NEW_FILE_UPLOAD)
    answers: list[int] = []
    async with (
        broker_proxy() as proxy,
        broker_tap() as tap,
        rabbit_sink(tap.names, proxy.url()) as sink,
        receiving(sink) as source,
        httpx.AsyncClient(timeout=10) as http,
        anyio.create_task_group() as group,
    ):

        async def post() -> None:
            answers.append((await http.post(f"{source.url}/vod", content=body)).status_code)

        proxy.hold_replies()
        group.start_soon(post)
        await arrived(tap, 1)  # the broker has it (and has sent its confirm, held)
        await anyio.sleep(0.2)  # a window in which a premature 200 would arrive
        assert answers == []
        proxy.release()
        await wait_until(lambda: answers != [], timeout_s=5)
    assert answers == [200]
    assert list(tap.event_ids()) == event_ids(NEW_FILE_UPLOAD)


async def test_events_exchange_deleted_answers_503_then_the_retry_succeeds_once() -> None:
    """Publishing to the missing exchange fails (the broker closes the channel): 503 with
    Retry-After, nothing acked. Once the exchange is back and bound, the sender's retry is
    answered 200 and the event arrives exactly once."""
    body = vod_signed(NEW_FILE_UPLOAD)
    async with (
        broker_tap() as tap,
        rabbit_sink(tap.names) as sink,
        receiving(sink) as source,
        httpx.AsyncClient(timeout=10) as http,
    ):
        await tap.channel.exchange_delete(tap.names.events)
        refused = await http.post(f"{source.url}/vod", content=body, headers=JSON)
        await tap.channel.exchange_declare(tap.names.events, exchange_type="topic", durable=True)
        await tap.channel.queue_bind(tap.names.tap, tap.names.events, routing_key="#")
        with anyio.fail_after(15):
            retries = await post_until_ok(http, f"{source.url}/vod", body, JSON)
        await arrived(tap, 1)
        await anyio.sleep(0.2)
        await tap.collect()
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) > 0
    assert retries[-1] == 200
    assert tap.event_ids() == Counter(event_ids(NEW_FILE_UPLOAD))
    assert tap.parked == []


async def test_broker_unreachable_answers_503_and_senders_lose_nothing_after_recovery() -> None:
    """The link to the broker is cut under a stream of callbacks: every request is answered
    (503 while it is down), each sender retries until 200, and every event arrives; an event
    arrives twice only for a request that was answered 503 after its publish reached the
    broker (a timed-out confirm), never for one that was answered 200."""
    bodies = [vod_signed(b) for b in _distinct_uploads(40)]
    outcomes: list[list[int | str]] = []
    async with (
        broker_proxy() as proxy,
        broker_tap() as tap,
        rabbit_sink(tap.names, proxy.url()) as sink,
        receiving(sink, options(request_timeout=2)) as source,
        httpx.AsyncClient(timeout=10) as http,
    ):

        async def send(body: bytes) -> None:
            outcomes.append(await post_until_ok(http, f"{source.url}/vod", body, JSON))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as senders:
                for body in bodies[:20]:
                    senders.start_soon(send, body)
                await wait_until(lambda: len(outcomes) >= 5, timeout_s=10)
                proxy.cut()
                for body in bodies[20:]:
                    senders.start_soon(send, body)
                await wait_until(lambda: source.metrics.requests["/vod", 503] > 0, timeout_s=10)
                proxy.restore()
        await arrived(tap, len(bodies), timeout_s=20)
        await anyio.sleep(0.3)
        await tap.collect()
    assert len(outcomes) == len(bodies)
    assert all(outcome[-1] == 200 for outcome in outcomes)
    expected = {i for body in bodies for i in event_ids(body)}
    got = tap.event_ids()
    assert set(got) == expected  # nothing lost
    # A second copy only ever comes from a request that was answered 503 at least once.
    retried = sum(1 for outcome in outcomes if 503 in statuses(outcome))
    assert got.total() - len(expected) <= retried
    assert tap.parked == []


def _distinct_uploads(count: int) -> list[bytes]:
    from tests.e2e_cmq.support import unique_bodies

    return unique_bodies(NEW_FILE_UPLOAD, count)
