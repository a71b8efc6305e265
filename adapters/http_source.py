"""``HttpSource``: Tencent's HTTP push notifications, received as POSTs (implements Source).

VOD normal callbacks (v3, and legacy v2), MPS ``NotifyType=URL`` notifications and CMQ topic
pushes are POSTed by Tencent to paths of this receiver (``adapters.http_options``). Each POST
is one delivery: ``receive()`` hands it to a relay worker, and the request is answered only
when the relay settles it: **200 after the broker confirmed** every event made from the body
(or the parked body), 503 + ``Retry-After`` when it did not (``nack``) or not within the
request's own budget (``info.deadline``, so the relay does not start one whose sender is about
to give up). Tencent retries what was not answered 200, so a redelivery is a retried POST.

Its own listen address and port (never the status endpoints': those need not face the
internet); TLS is the ingress's job. What is refused, and why, is in ``adapters.http_receiver``.

``aclose`` is the graceful end: the service calls it after the relay has drained (every
request it took has its answer by then), so it answers 503 to the requests still waiting
(none was started; their senders retry), stops accepting, and lets uvicorn finish writing
the answers in progress. ``connected`` (what ``/readyz`` reads) is True only while listening.
"""

from __future__ import annotations

import logging

from adapters.http_delivery import PROCESS_POST_COUNTS, HttpDelivery, Inbox
from adapters.http_metrics import HttpMetrics, HttpMetricsCollector
from adapters.http_options import Endpoint, HttpSourceOptions, Scheme
from adapters.http_receiver import Receiver
from adapters.http_server import UvicornRunner, listening_socket
from adapters.vod_delivery import PullCounts

__all__ = [
    "Endpoint",
    "HttpDelivery",
    "HttpMetricsCollector",
    "HttpSource",
    "HttpSourceOptions",
    "Scheme",
]

log = logging.getLogger("adapters.http")


class HttpSource:
    """Build it with :meth:`open`; ``metrics`` holds its counters (export them with
    :class:`~adapters.http_metrics.HttpMetricsCollector`)."""

    def __init__(
        self, options: HttpSourceOptions, counts: PullCounts = PROCESS_POST_COUNTS
    ) -> None:
        self.options = options
        self.metrics = HttpMetrics(endpoint.path for endpoint in options.endpoints)
        self._inbox = Inbox()
        self._receiver = Receiver(options, self._inbox, self.metrics, counts)
        self._runner = UvicornRunner(self._receiver, options, self._count_head_timeout)
        self._port = options.port
        self._closed = False

    @classmethod
    async def open(cls, options: HttpSourceOptions) -> HttpSource:
        """Bind the address and start serving; POSTs are taken from the moment this returns.

        Raises:
            ConfigurationError: the address can't be listened on (in use, not ours).
        """
        sock = listening_socket(options.host, options.port)
        source = cls(options)
        source._port = sock.getsockname()[1]
        try:
            await source._runner.start(sock)
        except BaseException:
            sock.close()
            raise
        source.metrics.listening = True
        log.info(
            "HTTP receiver listening",
            extra={"url": source.url, "paths": [e.path for e in options.endpoints]},
        )
        return source

    @property
    def port(self) -> int:
        """The TCP port listened on (the one picked when ``options.port`` was 0)."""
        return self._port

    @property
    def url(self) -> str:
        host = self.options.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self._port}"

    @property
    def connected(self) -> bool:
        """True while the receiver accepts connections (``/readyz``)."""
        return self.metrics.listening

    async def receive(self) -> HttpDelivery:
        """The oldest POST still waiting for the relay.

        Raises:
            SourceUnavailableError: the source is closed.
        """
        return await self._inbox.get()

    async def aclose(self) -> None:
        """Answer what still waits with 503, stop accepting, finish the answers. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.metrics.listening = False
        self._receiver.closing = True  # requests arriving from now on: 503, connection closed
        self._inbox.close()
        left = [delivery for delivery in self._receiver.waiting if delivery.pending]
        for delivery in left:
            delivery.abandon()  # never confirmed: the sender gets 503 and retries
        if left:
            log.info("HTTP requests answered 503 on close", extra={"requests": len(left)})
        await self._runner.stop()

    def _count_head_timeout(self) -> None:
        self.metrics.header_timeouts += 1
