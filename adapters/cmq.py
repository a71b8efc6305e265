"""``CmqSource``: consume Tencent CMQ / TDMQ-CMQ queues over the HTTP API 2.0 (implements Source).

One poller task per queue long-polls ``BatchReceiveMessage`` and feeds a shared, bounded buffer
that ``receive()`` reads one delivery at a time. ``ack`` deletes through a per-queue
:class:`~adapters.cmq_deleter.BatchDeleter` (coalesced ``BatchDeleteMessage``); ``nack`` does
nothing, because CMQ has no way to give a message back early: its lease (the queue's
``visibilityTimeout``) lapses and it is delivered again.

Failures: an empty poll (code 7000) is not an error; throttling (4420/4480), 6000, 5xx and
network errors are retried with backoff, and after ``receive_retry_attempts`` failures in a row
``receive()`` raises SourceUnavailableError so the relay backs off. A refused credential (4100)
or a missing queue (4440) raise ConfigurationError, at start-up from :meth:`CmqSource.connect`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from adapters.cmq_client import (
    AUTH_FAILED,
    NO_MESSAGE,
    THROTTLED,
    CmqApiError,
    CmqClient,
    CmqTransportError,
    is_transient,
)
from adapters.cmq_deleter import BatchDeleter
from adapters.cmq_delivery import CmqDelivery, well_formed
from adapters.cmq_options import CmqSourceOptions
from adapters.cmq_stats import CmqStats
from adapters.retry_backoff import backoff_delay
from consumer.errors import BridgeError, ConfigurationError, SourceUnavailableError

__all__ = ["CmqDelivery", "CmqSource", "CmqSourceOptions", "CmqStats"]

log = logging.getLogger("adapters.cmq")


class CmqSource:
    """Consumes one or more CMQ queues; build it with :meth:`connect`. ``stats`` counts events."""

    def __init__(self, options: CmqSourceOptions, http: httpx.AsyncClient | None = None) -> None:
        self.options = options
        self.stats = CmqStats()
        self._client = CmqClient(options, http)
        self._deleters = {
            q: BatchDeleter(q, self._client, options, self.stats) for q in options.queues
        }
        # Room for one batch per queue besides the batch each poller is handing over, so the
        # next poll overlaps with consumption without leasing far more than is being processed.
        capacity = options.batch_size * len(options.queues)
        self._send: MemoryObjectSendStream[CmqDelivery | BridgeError]
        self._inbox: MemoryObjectReceiveStream[CmqDelivery | BridgeError]
        self._send, self._inbox = anyio.create_memory_object_stream(capacity)
        self._pollers: list[asyncio.Task[None]] = []
        self._connected = False
        self._closed = False

    @classmethod
    async def connect(
        cls, options: CmqSourceOptions, *, http: httpx.AsyncClient | None = None
    ) -> CmqSource:
        """Check the credentials and every queue with a first poll, then start polling.

        Raises:
            ConfigurationError: CMQ refused the credentials (4100), a queue does not exist
                (4440), or CMQ refused the request for another lasting reason.
            SourceUnavailableError: the endpoint could not be reached within the retry budget.
        """
        source = cls(options, http)
        try:
            for queue in options.queues:
                # pollingWaitSeconds=0 answers at once; whatever it leases is handed out first.
                for message in await source._poll_with_retries(queue, wait=0, starting=True):
                    source._send.send_nowait(source._delivery(queue, message))
        except BaseException:
            await source.aclose()
            raise
        source._pollers = [
            asyncio.create_task(source._poll_forever(q), name=f"cmq-poll:{q}")
            for q in options.queues
        ]
        source._connected = True
        log.info("CMQ source polling %s at %s", ", ".join(options.queues), options.endpoint)
        return source

    @property
    def connected(self) -> bool:
        """True between a successful connect() and aclose()."""
        return self._connected

    async def receive(self) -> CmqDelivery:
        """The next delivery whose lease is still running (see the module docstring)."""
        while True:
            try:
                item = await self._inbox.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                raise SourceUnavailableError("the CMQ source is closed") from None
            if isinstance(item, BridgeError):
                raise item
            if item.expired:
                # Handing it out would only get it processed and then not deleted.
                self.stats.expired_in_buffer += 1
                continue
            return item

    async def aclose(self) -> None:
        """Stop polling, finish the deletes in progress, close the HTTP client. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._connected = False
        for task in self._pollers:
            task.cancel()
        await asyncio.gather(*self._pollers, return_exceptions=True)
        self._send.close()
        with anyio.move_on_after(self.options.http_timeout, shield=True):
            for deleter in self._deleters.values():
                await deleter.drain()
        for deleter in self._deleters.values():
            deleter.close()
        self._inbox.close()
        await self._client.aclose()

    def _delivery(self, queue: str, message: dict[str, Any]) -> CmqDelivery:
        self.stats.received += 1
        return CmqDelivery(queue, message, self._deleters[queue])

    async def _poll_forever(self, queue: str) -> None:
        wait = self.options.polling_wait_seconds
        while True:
            try:
                messages = await self._poll_with_retries(queue, wait=wait)
            except BridgeError as exc:
                await self._send.send(exc)
                if isinstance(exc, ConfigurationError):
                    return  # nothing will fix it; the relay stops on this error
                await anyio.sleep(self.options.retry_max_backoff)
                continue
            for message in messages:
                await self._send.send(self._delivery(queue, message))

    async def _poll_with_retries(
        self, queue: str, *, wait: int, starting: bool = False
    ) -> list[dict[str, Any]]:
        """One BatchReceiveMessage, retried while transient, translated into our errors."""
        opts = self.options
        params = {
            "queueName": queue,
            "numOfMsg": str(opts.batch_size),
            "pollingWaitSeconds": str(wait),
        }
        attempt = 0
        while True:
            try:
                reply = await self._client.call("BatchReceiveMessage", params, wait=wait)
            except (CmqApiError, CmqTransportError) as exc:
                if isinstance(exc, CmqApiError) and exc.code == NO_MESSAGE:
                    self.stats.empty_polls += 1
                    return []
                if isinstance(exc, CmqApiError) and exc.code in THROTTLED:
                    self.stats.throttled += 1
                attempt += 1
                if not is_transient(exc) or attempt >= opts.receive_retry_attempts:
                    raise self._translate(queue, exc, attempt, starting) from exc
                self.stats.receive_retries += 1
                log.info("CMQ poll of %r failed (%s); retry %d", queue, exc, attempt)
                await anyio.sleep(
                    backoff_delay(attempt, opts.retry_initial_backoff, opts.retry_max_backoff)
                )
                continue
            messages = reply.get("msgInfoList") or []  # code 0 with no list: empty too
            if not messages:
                self.stats.empty_polls += 1
            if not all(well_formed(m) for m in messages):
                # Not retried: the messages are leased now and come back after their timeout.
                raise SourceUnavailableError(f"CMQ sent a malformed msgInfoList for {queue!r}")
            return list(messages)

    def _translate(
        self, queue: str, exc: CmqApiError | CmqTransportError, attempts: int, starting: bool
    ) -> BridgeError:
        opts = self.options
        if isinstance(exc, CmqApiError) and exc.code == AUTH_FAILED:
            return ConfigurationError(
                f"CMQ rejected the credentials (code 4100: {exc.message}) for SecretId "
                f"{_mask_id(opts.secret_id)} at {opts.endpoint}: check the SecretId, SecretKey "
                "and token"
            )
        if isinstance(exc, CmqApiError) and exc.queue_missing:
            return ConfigurationError(
                f"CMQ queue {queue!r} does not exist at {opts.endpoint} (code {exc.code}: "
                f"{exc.message})"
            )
        if isinstance(exc, CmqTransportError) and not exc.transient:
            return ConfigurationError(
                f"CMQ endpoint {opts.endpoint} answered {exc}: is this a CMQ queue endpoint?"
            )
        if is_transient(exc):
            return SourceUnavailableError(
                f"CMQ queue {queue!r} unavailable after {attempts} tries: {exc}"
            )
        if starting:  # e.g. 4000 for a malformed SecretId, 4300 for an account in arrears
            return ConfigurationError(f"CMQ refused to serve queue {queue!r}: {exc}")
        return SourceUnavailableError(f"CMQ refused to serve queue {queue!r}: {exc}")


def _mask_id(secret_id: str) -> str:
    """Enough of a SecretId to recognise it in a console, not the whole of it."""
    return secret_id[:8] + "…" if len(secret_id) > 8 else secret_id
