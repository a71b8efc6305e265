"""Coalesced, deadline-aware ConfirmEvents for one VOD sub-app (at most 16 handles per call).

Acks that arrive within a few milliseconds of each other share one call; each ack still waits
for the outcome of its own handle:

* confirmed -> the ack returns;
* the window ran out before the call could be sent -> not sent with a dead handle: counted as a
  late confirm, the ack returns (VOD offers the event again, with the same content and so the
  same event id, which downstream deduplicates);
* ``InvalidParameterValue`` (a handle was dead after all) -> a batch is split and each handle
  confirmed alone, so one dead handle does not cost the live ones; a single dead handle is
  counted and the ack returns (the event comes again);
* ``RequestLimitExceeded``, ``InternalError``, 5xx, timeouts, network -> retried with back-off
  and jitter while the window lasts; when it runs out first, the ack raises
  SourceUnavailableError (the event comes again);
* anything else (e.g. ``AuthFailure``) -> the ack raises SourceUnavailableError at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from adapters.retry_backoff import backoff_delay
from adapters.vod_api import INVALID_VALUE, VodApi, VodApiError, VodTransportError
from adapters.vod_options import MAX_BATCH, VodSourceOptions
from adapters.vod_stats import VodStats
from consumer.errors import SourceUnavailableError

log = logging.getLogger("adapters.vod")


@dataclass(slots=True)
class _Confirm:
    handle: str
    deadline: float  # Unix seconds: VOD lets the handle die from then on
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    tried: bool = False

    def resolve(self, error: Exception | None = None, *, confirmed: bool = True) -> None:
        if self.done.done():
            return  # the acking task was cancelled; nobody is waiting
        if error is None:
            self.done.set_result(confirmed)
        else:
            self.done.set_exception(error)


class BatchConfirmer:
    """Confirms handles of one sub-app; see the module docstring."""

    def __init__(
        self, sub_app_id: int, api: VodApi, options: VodSourceOptions, stats: VodStats
    ) -> None:
        self._sub_app_id = sub_app_id
        self._api = api
        self._options = options
        self._stats = stats
        self._pending: list[_Confirm] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self._closed = False

    async def confirm(self, handle: str, deadline: float) -> bool:
        """Confirm one handle once VOD answered for it (see the module docstring).

        Returns True if VOD confirmed it, False if it was too late (the event comes again).
        """
        if self._closed:
            raise SourceUnavailableError("VOD event acked after its source was closed")
        if time.time() >= deadline:
            self._late()
            return False
        item = _Confirm(handle, deadline)
        self._pending.append(item)
        if len(self._pending) >= MAX_BATCH or self._options.confirm_coalesce_window == 0:
            self._flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._options.confirm_coalesce_window, self._flush)
        return await item.done

    async def drain(self) -> None:
        """Send what is pending now and wait for every call in progress (used by aclose)."""
        self._flush()
        if self._flushes:
            await asyncio.wait(self._flushes)

    def close(self) -> None:
        """Refuse further confirms (the HTTP client is about to close)."""
        self._closed = True

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            task = asyncio.create_task(self._guarded_send(batch), name="vod-confirm")
            self._flushes.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("VOD confirm task of sub-app %s failed", self._sub_app_id, exc_info=exc)

    async def _guarded_send(self, batch: list[_Confirm]) -> None:
        try:
            await self._send(batch)
        finally:  # a bug or a cancellation must not leave an ack waiting forever
            for item in batch:
                item.resolve(SourceUnavailableError("VOD confirm aborted; the event comes again"))

    async def _send(self, batch: list[_Confirm]) -> None:
        attempt = 0
        while batch := self._drop_expired(batch):
            try:
                await self._api.call(
                    "ConfirmEvents",
                    {"EventHandles": [item.handle for item in batch], "SubAppId": self._sub_app_id},
                    urgent=True,  # a confirm has a deadline; a pull can wait for the next token
                )
            except (VodApiError, VodTransportError) as exc:
                for item in batch:
                    item.tried = True
                batch = await self._settle_failed(batch, exc)
            else:
                self._stats.confirmed += len(batch)
                for item in batch:
                    item.resolve()
                return
            if batch:
                attempt += 1
                self._stats.retries += 1
                opts = self._options
                await asyncio.sleep(
                    backoff_delay(attempt, opts.retry_initial_backoff, opts.retry_max_backoff)
                )

    def _drop_expired(self, batch: list[_Confirm]) -> list[_Confirm]:
        """Settle the confirms whose window ran out; return the others."""
        now = time.time()
        live = []
        for item in batch:
            if now < item.deadline:
                live.append(item)
            elif item.tried:
                self._stats.confirm_failures += 1
                item.resolve(
                    SourceUnavailableError(
                        f"VOD confirm for sub-app {self._sub_app_id} kept failing until the "
                        "event's window ran out; it will be pulled again"
                    )
                )
            else:
                self._late()
                item.resolve(confirmed=False)
        return live

    async def _settle_failed(
        self, batch: list[_Confirm], exc: VodApiError | VodTransportError
    ) -> list[_Confirm]:
        """Settle what a failed call decided; return the confirms to retry."""
        if isinstance(exc, VodApiError) and exc.code == INVALID_VALUE:
            if len(batch) == 1:
                self._stats.expired_handles += 1
                log.info(
                    "VOD answered InvalidParameterValue confirming a handle of sub-app %s: its "
                    "window had passed; the event will be pulled again",
                    self._sub_app_id,
                )
                batch[0].resolve(confirmed=False)
                return []
            # One dead handle fails the whole call: confirm each alone so the live ones count.
            await asyncio.gather(*(self._send([item]) for item in batch))
            return []
        if isinstance(exc, VodApiError) and exc.throttled:
            self._stats.throttles += 1
        if exc.transient:
            log.info("VOD confirm for sub-app %s failed, retrying: %s", self._sub_app_id, exc)
            return batch
        self._stats.confirm_failures += len(batch)
        for item in batch:
            item.resolve(SourceUnavailableError(f"VOD refused the confirm: {exc}"))
        return []

    def _late(self) -> None:
        self._stats.late_confirms += 1
        log.warning(
            "VOD event of sub-app %s acked after its confirm window: not confirmed (the handle "
            "is dead); it will be pulled again",
            self._sub_app_id,
        )
