"""The ASGI application behind the HTTP source: one POST in, one delivery out, one answer back.

What a request goes through, cheapest check first, so that a refused request costs no body
buffering and a forged one is never relayed:

1. path (404), method (405, ``Allow: POST``), source closing (503);
2. ``allow_from`` (403) and shared-secret token (401), from the head alone;
3. content type (415; a request without one is accepted, as Tencent's is not documented),
   ``Content-Length`` over the limit (413);
4. requests in progress at the cap: 503 + ``Retry-After`` at once (memory stays bounded);
5. the body, within the size limit (413) and ``body_timeout`` (408);
6. the path's signature, when it has a scheme (401): ``adapters.http_signatures``;
7. the body becomes an :class:`~adapters.http_delivery.HttpDelivery` in the inbox; the answer
   waits for the relay: ``ack`` → 200, ``nack`` or the request's deadline → 503 + Retry-After.

An authentic body that can't be normalized (not JSON, unknown format...) is relayed like any
other: the relay parks it, and the ack after that confirm answers 200. Unauthentic requests
never reach the inbox: not published, not parked, counted and logged (rate-limited, no key).

A request refused before its body was read still has its body read, and thrown away (up to
twice ``max_body_bytes``, within ``body_timeout``), before it is answered: closing a connection
with unread bytes in it makes the kernel reset it, and the reset can destroy the answer before
the sender reads it. Past that bound (or on a body timeout) the answer closes the connection;
a sender waiting for ``100 Continue`` is answered at once, without being asked for its body.
The answers themselves are in ``adapters.http_replies``.

The request path waits with asyncio's own primitives (``asyncio.timeout_at``, a future per
delivery) and reads the event loop once: uvicorn runs the receiver on asyncio anyway, and
anyio's cancel scope and events, with their backend look-ups, made 11 ``getpid`` system calls
per request (CPython 3.11 checks the pid in every ``get_running_loop``) where 3 remain. Fed
through uvicorn's protocol in-process, receiver and uvicorn cost ~190 µs CPU per request
before, ~120 after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from time import perf_counter
from typing import Any

import anyio
import orjson

from adapters.http_auth import AuthFailure, check_address, check_token
from adapters.http_auth_log import RefusalLog
from adapters.http_delivery import HttpDelivery, Inbox, next_delivery_id
from adapters.http_metrics import UNMATCHED, HttpMetrics
from adapters.http_options import Endpoint, HttpSourceOptions, Scheme
from adapters.http_replies import (
    BODY_TIMEOUT,
    FORBIDDEN,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    OK,
    TOO_LARGE,
    UNSUPPORTED_TYPE,
    Message,
    Reply,
    Send,
    not_authenticated,
    send_reply,
    unavailable,
)
from adapters.http_request_head import RequestHead
from adapters.http_signatures import check_signature, find_signature
from adapters.vod_delivery import PullCounts
from consumer.ports import DeliveryInfo

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

CLIENT_GONE = 499  # the metrics' status for a client that left before its answer (nginx's code)


@dataclass(frozen=True, slots=True)
class _Route:
    """A configured path with its secrets encoded once."""

    endpoint: Endpoint
    keys: tuple[bytes, ...]
    tokens: tuple[bytes, ...]
    source: str  # DeliveryInfo.source, e.g. "http:/vod"

    @classmethod
    def of(cls, endpoint: Endpoint) -> _Route:
        return cls(
            endpoint,
            tuple(key.encode() for key in endpoint.keys),
            tuple(token.encode() for token in endpoint.tokens),
            f"http:{endpoint.path}",
        )


class Receiver:
    """The ASGI app (``await receiver(scope, receive, send)``); see the module docstring.

    ``closing`` is set by the source when it closes: every request from then on is answered
    503 with ``connection: close``. ``waiting`` holds the deliveries whose request is waiting
    for its answer, so closing can answer all of them.
    """

    def __init__(
        self,
        options: HttpSourceOptions,
        inbox: Inbox,
        metrics: HttpMetrics,
        counts: PullCounts,
        refusals: RefusalLog | None = None,
    ) -> None:
        self._options = options
        self._routes = {endpoint.path: _Route.of(endpoint) for endpoint in options.endpoints}
        self._inbox = inbox
        self._metrics = metrics
        self._counts = counts
        self._refusals = refusals or RefusalLog()
        self._content_types = frozenset(kind.encode() for kind in options.content_types)
        self._discard_limit = 2 * options.max_body_bytes  # bytes read from a refused request
        retry = options.retry_after
        self._busy = unavailable(b"too many requests in progress, retry later\n", retry)
        self._not_confirmed = unavailable(b"not confirmed, retry later\n", retry)
        self._stopping = unavailable(b"shutting down, retry later\n", retry, closing=True)
        self.closing = False
        self.waiting: set[HttpDelivery] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # uvicorn's, read at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; nothing else is served
        started = perf_counter()
        route = self._routes.get(scope["path"])
        reply = await self._reply(route, scope, receive)
        if reply is not None:
            await send_reply(send, reply)
        path = route.endpoint.path if route is not None else UNMATCHED
        status = reply.status if reply is not None else CLIENT_GONE
        self._metrics.answered(path, status, perf_counter() - started)

    async def _reply(self, route: _Route | None, scope: Scope, receive: Receive) -> Reply | None:
        """The answer to the request; None when the client left before it could be given."""
        head = RequestHead.parse(scope["headers"])
        client = scope["client"][0] if scope.get("client") else None
        if route is None:
            return await self._answer_unread(receive, NOT_FOUND, head)
        refused = self._refused_by_head(route, scope, head, client)
        if refused is not None:
            return await self._answer_unread(receive, refused, head)
        self._metrics.in_progress += 1
        try:
            return await self._admitted(route, scope, receive, head, client)
        finally:
            self._metrics.in_progress -= 1

    def _refused_by_head(
        self, route: _Route, scope: Scope, head: RequestHead, client: str | None
    ) -> Reply | None:
        """Steps 1-4 of the module docstring: the answer when the head alone refuses it."""
        if scope["method"] != "POST":
            return METHOD_NOT_ALLOWED
        if self.closing:
            return self._stopping
        endpoint = route.endpoint
        refused = check_address(client, endpoint.allow_from) or check_token(
            head.authorization, scope["query_string"], route.tokens
        )
        if refused is not None:
            return self._refuse(route, refused, client)
        if head.content_type is not None and head.content_type not in self._content_types:
            return UNSUPPORTED_TYPE
        if head.content_length is not None and head.content_length > self._options.max_body_bytes:
            return TOO_LARGE
        if self._metrics.in_progress >= self._options.max_in_progress:
            return self._busy
        return None

    async def _answer_unread(
        self, receive: Receive, reply: Reply, head: RequestHead
    ) -> Reply | None:
        """``reply`` to a request whose body was not read (see the module docstring)."""
        if head.expects_continue:
            return reply.closing()  # the body was never sent: don't ask for it to discard it
        return await self._after_discarding(receive, reply, head.content_length)

    async def _after_discarding(
        self, receive: Receive, reply: Reply, declared: int | None, read: int = 0
    ) -> Reply | None:
        """``reply``, once the rest of the body was read and thrown away (see the module
        docstring); closing the connection when that would take too much; None if the client
        left."""
        if declared is not None and declared > self._discard_limit:
            return reply.closing()
        with anyio.move_on_after(self._options.body_timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return None  # http.disconnect
                read += len(message.get("body", b""))
                if read > self._discard_limit:
                    return reply.closing()
                if not message.get("more_body", False):
                    return reply
        return reply.closing()

    async def _admitted(
        self, route: _Route, scope: Scope, receive: Receive, head: RequestHead, client: str | None
    ) -> Reply | None:
        options = self._options
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        now, clock = time.time(), loop.time()
        delivery: HttpDelivery | None = None
        # One timeout for both waits: the body's deadline while the body arrives, then the
        # request's during the relay.
        try:
            async with asyncio.timeout_at(
                clock + min(options.body_timeout, options.request_timeout)
            ) as timer:
                body = await self._read_body(receive)
                if not isinstance(body, bytes):
                    return body
                if route.endpoint.scheme is not Scheme.NONE:
                    refused = self._check_signature(route, body, scope["query_string"], now)
                    if refused is not None:
                        return self._refuse(route, refused, client)
                info = DeliveryInfo(
                    source=route.source,
                    delivery_id=head.delivery_id or next_delivery_id(),
                    delivery_count=self._counts.seen(body),
                    received_at=datetime.fromtimestamp(now, UTC),
                    deadline=datetime.fromtimestamp(now + options.request_timeout, UTC),
                )
                delivery = HttpDelivery(body, info, self._counts, self._metrics, loop)
                timer.reschedule(clock + options.request_timeout)
                self.waiting.add(delivery)
                try:
                    self._inbox.put(delivery)
                    await delivery.settled()
                finally:
                    self.waiting.discard(delivery)
        except TimeoutError:
            if delivery is None:
                return BODY_TIMEOUT  # the deadline passed while the body was coming
        assert delivery is not None  # returned above unless a delivery was made
        delivery.abandon()  # not settled by the deadline: the answer (503) and its state agree
        if delivery.confirmed:
            return OK
        return self._stopping if self.closing else self._not_confirmed

    async def _read_body(self, receive: Receive) -> bytes | Reply | None:
        """The whole body, or a Reply when it is too large; None if the client left. Bounded
        by the caller's deadline."""
        limit = self._options.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # http.disconnect
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit and not message.get("more_body", False):
                    return TOO_LARGE
                if size > limit:
                    return await self._after_discarding(receive, TOO_LARGE, None, size)
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _check_signature(
        self, route: _Route, body: bytes, query: bytes, now: float
    ) -> AuthFailure | None:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None  # not JSON: only a signature in the query string can vouch for it
        return check_signature(
            route.endpoint.scheme,
            find_signature(route.endpoint.scheme, doc, query),
            route.keys,
            now=now,
            max_clock_skew=self._options.max_clock_skew,
        )

    def _refuse(self, route: _Route, reason: AuthFailure, client: str | None) -> Reply:
        path = route.endpoint.path
        self._metrics.auth_failures[path, reason.value] += 1
        self._refusals.refused(path, reason, client)
        # The reason is the operator's to read in the logs and metrics, not the sender's.
        return FORBIDDEN if reason.status == 403 else not_authenticated(route.endpoint.scheme)
