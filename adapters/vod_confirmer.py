"""Coalesced, deadline-aware ConfirmEvents for one VOD sub-app (at most 16 handles per call).

``enqueue`` returns at once ("queued for VOD", as an AMQP ack is queued for the broker): the
relay's worker is free for the next event while the confirm is on its way. Waiting for each
reply instead capped a bridge at ``max_in_flight / (coalescing window + round trip)``, about
2,500 events/s at the defaults. Nothing is lost by not waiting: a confirm that fails only means
VOD offers the event again after its window, with the same content and the same event id.

A dispatcher task per sub-app sends what is queued: once 16 handles wait, or when the oldest has
waited ``confirm_coalesce_window``, it takes a token of the request budget and only then cuts the
batch, so while the budget is the limit the batches fill up to 16. The outcome of each handle:

* confirmed -> counted (``confirmed``), its pull count forgotten;
* the window ran out before it could be sent -> not sent with a dead handle: counted as a late
  confirm (the event comes again);
* ``InvalidParameterValue`` (a handle was dead after all) -> a batch is split and each handle
  confirmed alone, so one dead handle does not cost the live ones; a dead one is counted;
* ``RequestLimitExceeded``, ``InternalError``, 5xx, timeouts, network -> retried with back-off
  and jitter while the window lasts, then counted as a confirm failure;
* anything else (e.g. ``AuthFailure``) -> counted as a confirm failure at once, logged.

``drain`` (from ``VodSource.aclose``) sends everything still queued and waits for the replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from adapters.retry_backoff import backoff_delay
from adapters.vod_api import INVALID_VALUE, VodApi, VodApiError, VodTransportError
from adapters.vod_options import MAX_BATCH, VodSourceOptions
from adapters.vod_stats import VodStats
from consumer.errors import SourceUnavailableError

log = logging.getLogger("adapters.vod")

Confirmed = Callable[[], None]  # called once VOD confirmed the handle


@dataclass(slots=True)
class _Confirm:
    handle: str
    deadline: float  # Unix seconds: VOD lets the handle die from then on
    on_confirmed: Confirmed
    queued_at: float  # monotonic
    tried: bool = False


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
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._draining = False
        self._closed = False

    def enqueue(self, handle: str, deadline: float, on_confirmed: Confirmed) -> None:
        """Queue one handle for ConfirmEvents (see the module docstring).

        Raises:
            SourceUnavailableError: the source is closed; the event will come again.
        """
        if self._closed:
            raise SourceUnavailableError("VOD event acked after its source was closed")
        if time.time() >= deadline:
            self._late()
            return
        self._pending.append(_Confirm(handle, deadline, on_confirmed, time.monotonic()))
        if self._dispatcher is None:
            self._dispatcher = asyncio.create_task(
                self._dispatch(), name=f"vod-confirm:{self._sub_app_id}"
            )
        if len(self._pending) == 1 or len(self._pending) >= MAX_BATCH:
            self._wake.set()

    async def drain(self) -> None:
        """Send everything queued now and wait for every reply (used by aclose)."""
        self._draining = True
        self._wake.set()
        while self._pending or self._sends:
            if self._sends:
                await asyncio.wait(self._sends)
            else:
                await asyncio.sleep(0.001)  # the dispatcher is taking a budget token

    def close(self) -> None:
        """Refuse further confirms and stop the dispatcher (the HTTP client is about to close)."""
        self._closed = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        for task in self._sends:
            task.cancel()

    async def _dispatch(self) -> None:
        window = self._options.confirm_coalesce_window
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._pending[0].queued_at + window - time.monotonic()
            if len(self._pending) < MAX_BATCH and wait > 0 and not self._draining:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # the window is over: send what waits
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            await self._api.reserve(urgent=True)  # a confirm has a deadline; a pull can wait
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            if batch:
                task = asyncio.create_task(self._send(batch, reserved=True), name="vod-confirm")
                self._sends.add(task)
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("VOD confirm task of sub-app %s failed", self._sub_app_id, exc_info=exc)

    async def _send(self, batch: list[_Confirm], *, reserved: bool = False) -> None:
        attempt = 0
        while batch := self._drop_expired(batch):
            try:
                await self._api.call(
                    "ConfirmEvents",
                    {"EventHandles": [item.handle for item in batch], "SubAppId": self._sub_app_id},
                    urgent=True,
                    reserved=reserved,
                )
            except (VodApiError, VodTransportError) as exc:
                for item in batch:
                    item.tried = True
                batch = await self._settle_failed(batch, exc)
            else:
                self._stats.confirmed += len(batch)
                for item in batch:
                    item.on_confirmed()
                return
            reserved = False  # a retry takes a token of its own
            if batch:
                attempt += 1
                self._stats.retries += 1
                opts = self._options
                await asyncio.sleep(
                    backoff_delay(attempt, opts.retry_initial_backoff, opts.retry_max_backoff)
                )

    def _drop_expired(self, batch: list[_Confirm]) -> list[_Confirm]:
        """Count the confirms whose window ran out; return the others."""
        now = time.time()
        live = []
        for item in batch:
            if now < item.deadline:
                live.append(item)
            elif item.tried:
                self._stats.confirm_failures += 1
                log.warning(
                    "VOD confirm for sub-app %s kept failing until the event's window ran out; "
                    "it will be pulled again",
                    self._sub_app_id,
                )
            else:
                self._late()
        return live

    async def _settle_failed(
        self, batch: list[_Confirm], exc: VodApiError | VodTransportError
    ) -> list[_Confirm]:
        """Count what a failed call decided; return the confirms to retry."""
        if isinstance(exc, VodApiError) and exc.code == INVALID_VALUE:
            if len(batch) == 1:
                self._stats.expired_handles += 1
                log.info(
                    "VOD answered InvalidParameterValue confirming a handle of sub-app %s: its "
                    "window had passed; the event will be pulled again",
                    self._sub_app_id,
                )
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
        log.warning("VOD refused a confirm for sub-app %s: %s", self._sub_app_id, exc)
        return []

    def _late(self) -> None:
        self._stats.late_confirms += 1
        log.warning(
            "VOD event of sub-app %s acked after its confirm window: not confirmed (the handle "
            "is dead); it will be pulled again",
            self._sub_app_id,
        )
