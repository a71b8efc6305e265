"""The HTTP source over real HTTP, relaying to the memory sink: what each request is answered.

The sink is ``adapters.memory.MemorySink`` (the shipped in-process sink), whose switches hold
confirms back or take it down; the RabbitMQ end to end runs are in ``test_rabbitmq_relay``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from ipaddress import ip_network

import anyio
import httpx
import pytest

from adapters.http_options import Endpoint, Scheme
from adapters.memory import MemorySink
from consumer.ports import Destination
from tests.http.support import (
    BEARER,
    JSON,
    MPS_KEY,
    TOKEN,
    VOD_KEY,
    event_ids,
    mps_signed,
    options,
    post_until_ok,
    receiving,
    vod_sign,
    vod_signed,
)
from tests.relay_support import MPS_WORKFLOW, NEW_FILE_UPLOAD, PULL_EVENTS_BATCH, wait_until

VOD_BODY = vod_signed(NEW_FILE_UPLOAD)


@asynccontextmanager
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def read_all(stream: anyio.abc.ByteStream) -> bytes:
    data = b""
    with anyio.fail_after(5):
        try:
            while chunk := await stream.receive():
                data += chunk
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    return data


async def test_a_signed_callback_is_answered_200_only_after_its_confirm() -> None:
    """The confirm is held back: no answer until it is released, then 200 and the event."""
    sink = MemorySink(block=True)
    answers: list[httpx.Response] = []
    async with receiving(sink) as source, client() as http, anyio.create_task_group() as group:

        async def post() -> None:
            answers.append(await http.post(f"{source.url}/vod", content=VOD_BODY, headers=JSON))

        group.start_soon(post)
        await wait_until(lambda: sink.waiting == 1)  # published, the confirm is held
        await anyio.sleep(0.2)  # a window in which a premature answer would arrive
        assert answers == []
        sink.release()
    assert [a.status_code for a in answers] == [200]
    assert [m.message_id for m in sink.published] == event_ids(NEW_FILE_UPLOAD)


async def test_every_event_of_a_batch_is_confirmed_before_the_answer() -> None:
    """A body with several events (a PullEvents reply POSTed as is) is 200 after all of them."""
    sink = MemorySink()
    async with receiving(sink) as source, client() as http:
        answer = await http.post(f"{source.url}/cmq", content=PULL_EVENTS_BATCH, headers=BEARER)
    assert answer.status_code == 200
    assert sorted(m.message_id for m in sink.published) == sorted(event_ids(PULL_EVENTS_BATCH))
    assert len(sink.published) == 4


async def test_an_mps_notification_signed_with_the_notify_key_is_relayed() -> None:
    sink = MemorySink()
    body = mps_signed(MPS_WORKFLOW)
    async with receiving(sink) as source, client() as http:
        answer = await http.post(f"{source.url}/mps", content=body, headers=JSON)
    assert answer.status_code == 200
    assert [m.message_id for m in sink.published] == event_ids(MPS_WORKFLOW)


async def test_sink_down_answers_503_with_retry_after_and_the_retry_succeeds() -> None:
    sink = MemorySink(down=True)
    async with receiving(sink, options(retry_after=7)) as source, client() as http:
        refused = await http.post(f"{source.url}/vod", content=VOD_BODY, headers=JSON)
        sink.set_up()
        with anyio.fail_after(5):  # the relay's sink gate lets a probe through after its back-off
            retried = await post_until_ok(http, f"{source.url}/vod", VOD_BODY, JSON)
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "7")
    assert retried[-1] == 200
    assert [m.message_id for m in sink.published] == event_ids(NEW_FILE_UPLOAD)


async def test_a_request_not_confirmed_within_its_budget_is_answered_503_and_not_published() -> (
    None
):
    """The relay gets the request's deadline: it stops waiting for the confirm in time for
    the answer to be 503 before the sender gives up."""
    sink = MemorySink(block=True)
    async with receiving(sink, options(request_timeout=1.0)) as source, client() as http:
        started = time.monotonic()
        answer = await http.post(f"{source.url}/vod", content=VOD_BODY, headers=JSON)
        took = time.monotonic() - started
        sink.release()
    assert answer.status_code == 503
    assert "retry-after" in answer.headers
    assert took < 1.0 + 0.3
    assert sink.published == []


@pytest.mark.parametrize(
    ("path", "body", "headers", "reason"),
    [
        ("/vod", vod_signed(NEW_FILE_UPLOAD, key="NotTheKey"), JSON, "signature_mismatch"),
        ("/vod", vod_signed(NEW_FILE_UPLOAD, expires_in=-3600), JSON, "signature_expired"),
        ("/vod", NEW_FILE_UPLOAD, JSON, "signature_missing"),
        ("/mps", mps_signed(MPS_WORKFLOW, key=VOD_KEY), JSON, "signature_mismatch"),
        ("/mps", mps_signed(MPS_WORKFLOW, expires_in=-3600), JSON, "signature_expired"),
        (
            "/mps",
            vod_signed(MPS_WORKFLOW, key=MPS_KEY),
            JSON,
            "signature_malformed",
        ),  # T, no Timestamp
        ("/cmq", NEW_FILE_UPLOAD, JSON, "token_missing"),
        ("/cmq", NEW_FILE_UPLOAD, {"authorization": "Bearer guessed"}, "token_mismatch"),
    ],
)
async def test_forged_stale_or_unsigned_requests_are_401_counted_and_never_relayed(
    path: str, body: bytes, headers: dict[str, str], reason: str
) -> None:
    sink = MemorySink()
    async with receiving(sink) as source, client() as http:
        answer = await http.post(f"{source.url}{path}", content=body, headers=headers)
        again = await http.post(f"{source.url}{path}", content=body, headers=headers)
    assert (answer.status_code, again.status_code) == (401, 401)
    assert "www-authenticate" in answer.headers
    assert sink.published == []  # neither relayed nor parked: it is not ours to keep
    assert source.metrics.auth_failures == {(path, reason): 2}


async def test_a_sender_outside_the_allowed_networks_is_403() -> None:
    sink = MemorySink()
    endpoints = (Endpoint(path="/v2", allow_from=(ip_network("10.9.0.0/16"),)),)
    async with receiving(sink, options(endpoints=endpoints)) as source, client() as http:
        answer = await http.post(f"{source.url}/v2", content=NEW_FILE_UPLOAD, headers=JSON)
    assert answer.status_code == 403
    assert sink.published == []
    assert source.metrics.auth_failures == {("/v2", "address_refused"): 1}


async def test_an_authentic_body_that_cannot_be_normalized_is_parked_then_200() -> None:
    """Signed in the query string (the body is not JSON): we took responsibility for it."""
    sink = MemorySink()
    t = int(time.time()) + 600
    signed_query = f"Sign={vod_sign(VOD_KEY, t)}&T={t}"
    async with receiving(sink) as source, client() as http:
        vod = await http.post(f"{source.url}/vod?{signed_query}", content=b"<xml>nope</xml>")
        cmq = await http.post(
            f"{source.url}/cmq?token={TOKEN}",
            content=b"[" * 300 + b"]" * 300,
            headers={"content-type": "text/plain", "x-cmq-message-id": "msg-123"},
        )
        unsigned = await http.post(f"{source.url}/vod", content=b"<xml>nope</xml>")
    assert (vod.status_code, cmq.status_code, unsigned.status_code) == (200, 200, 401)
    parked = sink.published_to(Destination.PARKING)
    assert [m.body for m in parked] == [b"<xml>nope</xml>", b"[" * 300 + b"]" * 300]
    assert [m.headers["x-source"] for m in parked] == ["http:/vod", "http:/cmq"]
    assert parked[1].headers["x-delivery-id"] == "msg-123"


async def test_requests_that_are_not_callbacks_get_4xx_without_reaching_the_relay() -> None:
    sink = MemorySink()
    small = options(max_body_bytes=1000)
    async with receiving(sink, small) as source, client() as http:
        base = source.url
        not_found = await http.post(f"{base}/nowhere", content=VOD_BODY)
        wrong_method = await http.get(f"{base}/vod")
        wrong_type = await http.post(
            f"{base}/cmq", content=b"{}", headers={**BEARER, "content-type": "application/xml"}
        )
        declared_large = await http.post(f"{base}/cmq", content=b"x" * 1001, headers=BEARER)
        async with await anyio.connect_tcp("127.0.0.1", source.port) as stream:
            # No Content-Length: the limit applies while the chunks arrive.
            chunk = b"190\r\n" + b"x" * 400 + b"\r\n"
            await stream.send(
                b"POST /cmq HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n"
                + f"authorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n".encode()
                + chunk * 3
                + b"0\r\n\r\n"
            )
            streamed_large = await read_all(stream)
    assert not_found.status_code == 404
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")
    assert wrong_type.status_code == 415
    assert declared_large.status_code == 413
    assert streamed_large.startswith(b"HTTP/1.1 413 ")
    assert sink.attempts == 0
    assert source.metrics.requests[("unmatched", 404)] == 1


async def test_over_the_cap_of_requests_in_progress_the_answer_is_503_at_once() -> None:
    sink = MemorySink(block=True)
    answers: list[int] = []
    async with (
        receiving(sink, options(max_in_progress=2, retry_after=3)) as source,
        client() as http,
        anyio.create_task_group() as group,
    ):

        async def post() -> None:
            answers.append((await http.post(f"{source.url}/vod", content=VOD_BODY)).status_code)

        group.start_soon(post)
        group.start_soon(post)
        await wait_until(lambda: source.metrics.in_progress == 2)
        refused = await http.post(f"{source.url}/vod", content=VOD_BODY)
        sink.release()
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "3")
    assert answers == [200, 200]


async def test_a_body_that_comes_too_slowly_is_408() -> None:
    sink = MemorySink()
    async with (
        receiving(sink, options(body_timeout=0.3)) as source,
        await anyio.connect_tcp("127.0.0.1", source.port) as stream,
    ):
        await stream.send(
            f"POST /cmq HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n"
            "content-length: 100\r\n\r\n0123456789".encode()
        )
        answer = await read_all(stream)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert sink.attempts == 0


async def test_a_head_that_comes_too_slowly_or_never_closes_the_connection() -> None:
    """Slowloris: a partial head, and a connection that sends nothing, are both cut."""
    sink = MemorySink()
    async with receiving(sink, options(header_timeout=0.3)) as source:
        async with await anyio.connect_tcp("127.0.0.1", source.port) as partial:
            await partial.send(b"POST /cmq HTTP/1.1\r\nhost: x\r\n")
            partial_answer = await read_all(partial)
        async with await anyio.connect_tcp("127.0.0.1", source.port) as silent:
            silent_answer = await read_all(silent)
        async with client() as http:  # a prompt request on a kept-alive connection is unaffected
            first = await http.post(f"{source.url}/cmq", content=NEW_FILE_UPLOAD, headers=BEARER)
            await anyio.sleep(0.4)
            second = await http.post(f"{source.url}/cmq", content=NEW_FILE_UPLOAD, headers=BEARER)
    assert partial_answer.startswith(b"HTTP/1.1 408 ")
    assert silent_answer.startswith(b"HTTP/1.1 408 ")
    assert source.metrics.header_timeouts == 2
    assert (first.status_code, second.status_code) == (200, 200)


async def test_closing_answers_waiting_requests_503_and_stops_listening() -> None:
    """A request the relay took but never settled (its confirm held) is answered 503 on close,
    and the source no longer reports itself connected (/readyz) or accepts connections."""
    sink = MemorySink(block=True)
    answers: list[httpx.Response] = []
    async with receiving(sink) as source, client() as http, anyio.create_task_group() as group:

        async def post() -> None:
            answers.append(await http.post(f"{source.url}/vod", content=VOD_BODY))

        group.start_soon(post)
        await wait_until(lambda: sink.waiting == 1)
        assert source.connected  # the port's readiness property, which /readyz reads
        await source.aclose()
        assert not source.connected
        with pytest.raises(httpx.ConnectError):
            await http.post(f"{source.url}/vod", content=VOD_BODY)
        sink.release()
    assert [(a.status_code, a.headers["connection"]) for a in answers] == [(503, "close")]


async def test_answers_are_counted_by_path_and_status_and_timed() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from adapters.http_metrics import HttpMetricsCollector

    sink = MemorySink()
    async with receiving(sink) as source, client() as http:
        registry = CollectorRegistry()
        registry.register(HttpMetricsCollector(source.metrics))
        await http.post(f"{source.url}/vod", content=VOD_BODY)
        await http.post(f"{source.url}/vod", content=NEW_FILE_UPLOAD)
        await http.post(f"{source.url}/x", content=b"")
        text = generate_latest(registry).decode()
    assert 'media_bridge_http_requests_total{path="/vod",status="200"} 1.0' in text
    assert 'media_bridge_http_requests_total{path="/vod",status="401"} 1.0' in text
    assert 'media_bridge_http_requests_total{path="unmatched",status="404"} 1.0' in text
    assert (
        'media_bridge_http_auth_failures_total{path="/vod",reason="signature_missing"} 1.0' in text
    )
    assert 'media_bridge_http_request_seconds_count{path="/vod"} 2.0' in text
    assert "media_bridge_http_in_progress 0.0" in text
    assert "media_bridge_http_listening 1.0" in text


async def test_a_signature_scheme_is_only_checked_where_configured() -> None:
    """A VOD path without keys (no SignKey set in VOD) relies on its token instead."""
    sink = MemorySink()
    endpoints = (Endpoint(path="/vod", scheme=Scheme.NONE, tokens=(TOKEN,)),)
    async with receiving(sink, options(endpoints=endpoints)) as source, client() as http:
        answer = await http.post(f"{source.url}/vod", content=NEW_FILE_UPLOAD, headers=BEARER)
    assert answer.status_code == 200


async def test_a_refused_request_with_a_body_is_answered_intact_and_promptly() -> None:
    """Its body is read and thrown away before the answer (closing over unread bytes would
    reset the connection and could destroy the answer), and a two-part answer is not held
    back by Nagle's algorithm waiting for the client's delayed ACK (~40 ms each)."""
    sink = MemorySink()
    body = b"y" * 60_000  # more than one segment, still within twice the body limit
    async with receiving(sink, options(max_body_bytes=50_000)) as source, client() as http:
        started = time.monotonic()
        answers = [
            await http.post(
                f"{source.url}/cmq", content=body, headers={"authorization": "Bearer no"}
            )
            for _ in range(20)
        ]
        took = time.monotonic() - started
    assert [a.status_code for a in answers] == [401] * 20
    assert [a.headers.get("connection") for a in answers] == [None] * 20  # kept alive
    assert took < 0.5  # 20 x 40 ms when delayed
    assert sink.attempts == 0


async def test_a_refused_request_with_a_body_beyond_the_discard_bound_closes_the_connection() -> (
    None
):
    sink = MemorySink()
    async with receiving(sink, options(max_body_bytes=1000)) as source, client() as http:
        answer = await http.post(f"{source.url}/nowhere", content=b"z" * 2001)
    assert (answer.status_code, answer.headers["connection"]) == (404, "close")


async def test_a_sender_waiting_for_100_continue_is_refused_without_being_asked_for_the_body() -> (
    None
):
    sink = MemorySink()
    async with (
        receiving(sink) as source,
        await anyio.connect_tcp("127.0.0.1", source.port) as stream,
    ):
        await stream.send(
            b"POST /cmq HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\n"
            b"content-length: 5000\r\n\r\n"  # the body would follow a 100 Continue
        )
        answer = await read_all(stream)
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b"100 Continue" not in answer
    assert b"connection: close" in answer
