"""Coalesced, deadline-aware deletes for one CMQ queue (BatchDeleteMessage, <= 16 handles).

Acks that arrive within a few milliseconds of each other share one request; each ack still
waits for the outcome of its own handle:

* deleted, or 4430 (the handle is dead: the lease ran out, or a lost reply already deleted
  it) -> the ack returns; 4430 is counted and logged, the message may come again;
* the lease ran out before the request could be sent -> not sent with a dead handle: counted as
  a late delete, the ack returns (the message will come again, and be deduplicated);
* throttling, 6000, 5xx and network errors -> retried with backoff while the lease lasts; when
  it runs out first, the ack raises SourceUnavailableError;
* anything else (e.g. 4100) -> the ack raises SourceUnavailableError at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from adapters.cmq_client import (
    BATCH_DELETE_FAILED,
    BATCH_DELETE_PARTIAL,
    INVALID_HANDLE,
    THROTTLED,
    TRANSIENT_CODES,
    CmqApiError,
    CmqClient,
    CmqTransportError,
    is_transient,
)
from adapters.cmq_options import MAX_BATCH, CmqSourceOptions
from adapters.cmq_stats import CmqStats
from adapters.retry_backoff import backoff_delay
from consumer.errors import SourceUnavailableError

log = logging.getLogger("adapters.cmq")


@dataclass(slots=True)
class _Ack:
    msg_id: str
    handle: str
    deadline: float  # nextVisibleTime, Unix seconds: the handle is dead from then on
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    tried: bool = False

    def resolve(self, error: Exception | None = None) -> None:
        if self.done.done():
            return  # the acking task was cancelled; nobody is waiting
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


class BatchDeleter:
    """Deletes by receipt handle for one queue; see the module docstring."""

    def __init__(
        self, queue: str, client: CmqClient, options: CmqSourceOptions, stats: CmqStats
    ) -> None:
        self._queue = queue
        self._client = client
        self._options = options
        self._stats = stats
        self._pending: list[_Ack] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._closed = False

    async def delete(self, msg_id: str, handle: str, deadline: float) -> None:
        """Delete one message; returns once CMQ answered for this handle (see module doc)."""
        if self._closed:
            raise SourceUnavailableError(
                f"CMQ message {msg_id} acked after its source was closed; it will come again"
            )
        if time.time() >= deadline:
            self._late(msg_id)
            return
        ack = _Ack(msg_id, handle, deadline)
        self._pending.append(ack)
        if len(self._pending) >= MAX_BATCH or self._options.delete_coalesce_window == 0:
            self._flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._options.delete_coalesce_window, self._flush)
        await ack.done

    async def drain(self) -> None:
        """Send what is pending now and wait for every delete in progress (used by aclose)."""
        self._flush()
        if self._flushes:
            await asyncio.wait(self._flushes)

    def close(self) -> None:
        """Refuse further deletes (the HTTP client is about to close)."""
        self._closed = True

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            task = asyncio.create_task(self._guarded_send(batch), name=f"cmq-delete:{self._queue}")
            self._flushes.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("CMQ delete task on %r failed", self._queue, exc_info=exc)

    async def _guarded_send(self, batch: list[_Ack]) -> None:
        try:
            await self._send(batch)
        finally:  # a bug or a cancellation must not leave an ack waiting forever
            for ack in batch:
                ack.resolve(SourceUnavailableError(f"CMQ delete of message {ack.msg_id} aborted"))

    async def _send(self, batch: list[_Ack]) -> None:
        attempt = 0
        while batch := self._drop_expired(batch):
            try:
                await self._client.call("BatchDeleteMessage", self._params(batch))
            except CmqApiError as exc:
                if exc.code in THROTTLED:
                    self._stats.throttled += 1
                batch = self._settle_failed(batch, exc)
            except CmqTransportError as exc:
                batch = self._settle_failed(batch, exc)
            else:
                self._stats.deleted += len(batch)
                for ack in batch:
                    ack.resolve()
                return
            if batch:
                attempt += 1
                self._stats.delete_retries += 1
                opts = self._options
                await asyncio.sleep(
                    backoff_delay(attempt, opts.retry_initial_backoff, opts.retry_max_backoff)
                )

    def _params(self, batch: list[_Ack]) -> dict[str, str]:
        params = {"queueName": self._queue}
        for n, ack in enumerate(batch, start=1):
            params[f"receiptHandle.{n}"] = ack.handle
            ack.tried = True
        return params

    def _drop_expired(self, batch: list[_Ack]) -> list[_Ack]:
        """Settle the acks whose lease ran out; return the others."""
        now = time.time()
        live = []
        for ack in batch:
            if now < ack.deadline:
                live.append(ack)
            elif ack.tried:
                self._stats.delete_failures += 1
                ack.resolve(
                    SourceUnavailableError(
                        f"CMQ delete of message {ack.msg_id} on {self._queue!r} kept failing until "
                        "its visibility timeout ran out; it will be delivered again"
                    )
                )
            else:
                self._late(ack.msg_id)
                ack.resolve()
        return live

    def _settle_failed(self, batch: list[_Ack], exc: Exception) -> list[_Ack]:
        """Settle what a failed call decided; return the acks to retry."""
        if isinstance(exc, CmqApiError) and exc.code in (BATCH_DELETE_PARTIAL, BATCH_DELETE_FAILED):
            errors = exc.reply.get("errorList")
            if isinstance(errors, list):
                return self._settle_per_handle(batch, errors)
        if is_transient(exc):
            log.info("CMQ delete on %r failed, retrying: %s", self._queue, exc)
            return batch
        self._stats.delete_failures += len(batch)
        for ack in batch:
            ack.resolve(SourceUnavailableError(f"CMQ delete of message {ack.msg_id} failed: {exc}"))
        return []

    def _settle_per_handle(self, batch: list[_Ack], errors: list[object]) -> list[_Ack]:
        by_handle = {str(e.get("receiptHandle")): e for e in errors if isinstance(e, dict)}
        retry = []
        for ack in batch:
            error = by_handle.get(ack.handle)
            code = error.get("code") if error else None
            if error is None:
                self._stats.deleted += 1
                ack.resolve()
            elif code == INVALID_HANDLE:
                self._invalid(ack.msg_id)
                ack.resolve()
            elif code in TRANSIENT_CODES:
                retry.append(ack)
            else:
                self._stats.delete_failures += 1
                ack.resolve(
                    SourceUnavailableError(
                        f"CMQ refused to delete message {ack.msg_id}: code {code} {error.get('message')!r}"
                    )
                )
        return retry

    def _late(self, msg_id: str) -> None:
        self._stats.late_deletes += 1
        log.warning(
            "CMQ message %s on %r acked after its nextVisibleTime: not deleted (the handle is "
            "dead); it will be delivered again",
            msg_id,
            self._queue,
        )

    def _invalid(self, msg_id: str) -> None:
        self._stats.invalid_handles += 1
        log.info(
            "CMQ answered 4430 (receipt handle invalid) deleting message %s on %r: its lease was "
            "lost, or an earlier attempt already deleted it",
            msg_id,
            self._queue,
        )
