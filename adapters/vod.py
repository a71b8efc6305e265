"""``VodSource``: VOD's reliable callback, PullEvents / ConfirmEvents (implements Source).

``concurrent_pulls`` poller tasks per sub-app long-poll ``PullEvents`` (VOD holds an empty poll
up to 5 s) and hand each reply to a shared, bounded :class:`~adapters.vod_inbox.PullInbox` that
``receive()`` reads one delivery at a time; each ``EventSet`` element is one delivery. ``ack``
confirms its ``EventHandle`` through the sub-app's
:class:`~adapters.vod_confirmer.BatchConfirmer` (coalesced ``ConfirmEvents``, at most 16
handles); ``nack`` sends nothing, because VOD has no early release: an unconfirmed event is
offered again, with a new handle, 30 s after the pull.

Every delivery's ``info.deadline`` is the end of its window, so the relay does not start on an
event it can no longer confirm, and an event whose window ran out while it waited in the buffer
is dropped there (VOD offers it again).

Failures: an empty or absent ``EventSet`` is an empty poll, not an error. ``RequestLimitExceeded``
(counted as a throttle), ``InternalError``, 5xx, timeouts and network errors are retried with
back-off and jitter; after ``receive_retry_attempts`` failures in a row ``receive()`` raises
SourceUnavailableError so the relay backs off too. ``AuthFailure.*`` and other lasting refusals
raise ConfigurationError, at start-up from :meth:`VodSource.connect`. All calls of the process
share one :class:`~adapters.request_budget.RequestBudget`, confirms before pulls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import anyio
import orjson

from adapters.request_budget import RequestBudget
from adapters.retry_backoff import backoff_delay
from adapters.vod_api import VodApi, VodApiError, VodTransportError
from adapters.vod_confirmer import BatchConfirmer
from adapters.vod_delivery import PROCESS_PULL_COUNTS, Pull, PullCounts, VodDelivery
from adapters.vod_inbox import InboxClosed, PullInbox
from adapters.vod_options import MAX_BATCH, VodSourceOptions
from adapters.vod_stats import VodStats
from consumer.errors import BridgeError, ConfigurationError, SourceUnavailableError

__all__ = ["VodDelivery", "VodSource", "VodSourceOptions", "VodStats"]

log = logging.getLogger("adapters.vod")


class VodSource:
    """Pulls the events of one or more VOD sub-apps; build it with :meth:`connect`.

    ``stats`` holds the counters of each sub-app, by SubAppId.
    """

    def __init__(self, options: VodSourceOptions, counts: PullCounts = PROCESS_PULL_COUNTS) -> None:
        self.options = options
        self.budget = RequestBudget(options.requests_per_second)
        self.stats = {app: VodStats() for app in options.sub_app_ids}
        self._api = VodApi(options, self.budget)
        self._confirmers = {
            app: BatchConfirmer(app, self._api, options, self.stats[app])
            for app in options.sub_app_ids
        }
        self._counts = counts
        # Room for one pull per sub-app besides those the pollers are handing over: the next
        # poll overlaps with relaying without holding far more windows open than are in use.
        self._inbox: PullInbox[VodDelivery | BridgeError] = PullInbox(
            MAX_BATCH * len(options.sub_app_ids)
        )
        self._pollers: list[asyncio.Task[None]] = []
        self._connected = False
        self._closed = False

    @classmethod
    async def connect(cls, options: VodSourceOptions) -> VodSource:
        """Check the credentials and every sub-app with a first pull, then keep polling.

        The first pull of a sub-app with nothing to deliver is held by VOD for up to 5 s, so
        start-up takes that long at most. What it returns is handed out first.

        Raises:
            ConfigurationError: VOD refused the credentials (``AuthFailure.*``), a sub-app, or
                the request for another lasting reason.
            SourceUnavailableError: the endpoint could not be reached within the retry budget.
        """
        source = cls(options)
        try:
            firsts = await asyncio.gather(
                *(source._pull_with_retries(app, starting=True) for app in options.sub_app_ids)
            )
            for deliveries in firsts:
                source._inbox.put_nowait(deliveries)
        except BaseException:
            await source.aclose()
            raise
        source._pollers = [
            asyncio.create_task(source._poll_forever(app), name=f"vod-pull:{app}")
            for app in options.sub_app_ids
            for _ in range(options.concurrent_pulls)
        ]
        source._connected = True
        log.info(
            "VOD source pulling sub-apps %s at %s",
            ", ".join(map(str, options.sub_app_ids)),
            options.endpoint,
        )
        return source

    @property
    def connected(self) -> bool:
        """True between a successful connect() and aclose()."""
        return self._connected

    async def receive(self) -> VodDelivery:
        """The next delivery whose window is still open (see the module docstring)."""
        inbox = self._inbox
        while True:
            if inbox.closed:
                raise SourceUnavailableError("the VOD source is closed")
            item = inbox.take()
            if item is None:
                await inbox.wait()
                continue
            if isinstance(item, BridgeError):
                raise item
            if item.expired:
                # Handing it out would only get it relayed and then not confirmed.
                self.stats[item.sub_app_id].expired_in_buffer += 1
                continue
            return item

    async def aclose(self) -> None:
        """Stop pulling, finish the confirms in progress, close the HTTP client. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._connected = False
        for task in self._pollers:
            task.cancel()
        await asyncio.gather(*self._pollers, return_exceptions=True)
        self._inbox.close()  # what it holds is not confirmed now: VOD offers it again
        with anyio.move_on_after(self.options.http_timeout, shield=True):
            for confirmer in self._confirmers.values():
                await confirmer.drain()
        for confirmer in self._confirmers.values():
            confirmer.close()
        with anyio.CancelScope(shield=True):
            await self._api.aclose()

    async def _poll_forever(self, app: int) -> None:
        inbox = self._inbox
        while True:
            try:
                deliveries = await self._pull_with_retries(app)
            except BridgeError as exc:
                with contextlib.suppress(InboxClosed):
                    await inbox.put((exc,))
                if isinstance(exc, ConfigurationError):
                    return  # nothing will fix it; the relay stops on this error
                await anyio.sleep(self.options.retry_max_backoff)
                continue
            if deliveries:
                try:
                    await inbox.put(deliveries)
                except InboxClosed:
                    return

    async def _pull_with_retries(self, app: int, *, starting: bool = False) -> list[VodDelivery]:
        """One PullEvents, retried while transient, translated into our errors."""
        opts, stats = self.options, self.stats[app]
        attempt = 0
        while True:
            sent_at = time.time()  # the window VOD opens starts after this: a safe deadline
            try:
                response = await self._api.call("PullEvents", {"SubAppId": app})
            except (VodApiError, VodTransportError) as exc:
                if isinstance(exc, VodApiError) and exc.throttled:
                    stats.throttles += 1
                attempt += 1
                if not exc.transient or attempt >= opts.receive_retry_attempts:
                    raise self._translate(app, exc, attempt, starting) from None
                stats.retries += 1
                log.info("VOD pull of sub-app %s failed (%s); retry %d", app, exc, attempt)
                await anyio.sleep(
                    backoff_delay(attempt, opts.retry_initial_backoff, opts.retry_max_backoff)
                )
                continue
            stats.pulls += 1
            return self._deliveries(app, response.get("EventSet"), sent_at + opts.confirm_window)

    def _deliveries(self, app: int, events: Any, deadline: float) -> list[VodDelivery]:
        stats = self.stats[app]
        if not events:  # [] or null: Tencent documents EventSet as possibly null
            stats.empty_pulls += 1
            return []
        if not isinstance(events, list):
            # Not retried: whatever it holds is leased now and comes back after the window.
            raise SourceUnavailableError(f"VOD sent an EventSet that is not a list (sub-app {app})")
        stats.events_pulled += len(events)
        pull = Pull.received_now(app, deadline, self._confirmers[app], self._counts)
        deliveries = []
        for element in events:
            handle = element.pop("EventHandle", None) if isinstance(element, dict) else None
            body, decoded = _encode(element)
            deliveries.append(
                VodDelivery(pull, body, None if handle is None else str(handle), decoded)
            )
        return deliveries

    def _translate(
        self, app: int, exc: VodApiError | VodTransportError, attempts: int, starting: bool
    ) -> BridgeError:
        opts = self.options
        if isinstance(exc, VodApiError) and exc.auth_failure:
            return ConfigurationError(
                f"VOD rejected the credentials ({exc.code}: {exc.message}) for SecretId "
                f"{_mask_id(opts.secret_id)} at {opts.endpoint}: check the SecretId, SecretKey "
                "and token"
            )
        if exc.transient:
            return SourceUnavailableError(
                f"VOD PullEvents for sub-app {app} unavailable after {attempts} tries: {exc}"
            )
        if isinstance(exc, VodApiError):  # e.g. a SubAppId that is not the account's
            return ConfigurationError(f"VOD refused PullEvents for SubAppId {app}: {exc}")
        if starting:
            return ConfigurationError(f"VOD endpoint {opts.endpoint} answered {exc}")
        return SourceUnavailableError(f"VOD PullEvents for sub-app {app} failed: {exc}")


def _encode(element: object) -> tuple[bytes, object]:
    """The element as JSON bytes, the body the relay normalizes (and parks if it must), and
    the element itself as the body's decoded form, so the relay does not parse it again."""
    try:
        return orjson.dumps(element), element
    except (orjson.JSONEncodeError, TypeError):
        # Integers beyond 64 bits, which orjson refuses: the relay parses the body itself, and
        # parks it as bad fields, exactly as it would have come from any other source.
        return json.dumps(element, ensure_ascii=False, separators=(",", ":")).encode(), None


def _mask_id(secret_id: str) -> str:
    """Enough of a SecretId to recognise it in a console, not the whole of it."""
    return secret_id[:8] + "…" if len(secret_id) > 8 else secret_id
