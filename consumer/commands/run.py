"""``media-bridge run``: load settings, connect both ends, run the service, map errors to exit codes.

The adapters are opened through the two factories the CLI passes in (``cli.py`` is the only
module that imports them). The status port is bound before either is opened. Every start-up
problem ends as one line on stderr, never a traceback, and never with a password in it.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

import anyio
from prometheus_client import CollectorRegistry

from consumer.errors import BridgeError, ConfigurationError, TransientError
from consumer.logs import configure_logging
from consumer.ports import Sink, Source
from consumer.service import run_service
from consumer.settings import (
    Settings,
    SinkSettings,
    SourceSettings,
    load_settings,
    masked_url,
)
from consumer.status_server import bind

EXIT_OK = 0
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: a broker could not be reached at start-up
EXIT_CONFIG = 78  # EX_CONFIG: bad settings, wrong credentials, missing queue, port in use
EXIT_INTERRUPTED = 130  # interrupted before the signal handlers were installed

OpenSource = Callable[[SourceSettings, int], Awaitable[Source]]  # settings, prefetch
OpenSink = Callable[[SinkSettings], Awaitable[Sink]]

log = logging.getLogger("media_bridge.run")


def main_run(
    config_file: Path | None,
    open_source: OpenSource,
    open_sink: OpenSink,
    *,
    stderr: TextIO | None = None,
    registry: CollectorRegistry | None = None,
) -> int:
    """Run the bridge until SIGTERM/SIGINT; returns the process exit status.

    ``registry`` is the one /metrics serves; the CLI passes it so the source it opens can add
    its own counters there.
    """
    err = stderr or sys.stderr
    try:
        settings = load_settings(config_file)
    except ConfigurationError as exc:
        return _fail(err, exc)
    configure_logging(settings.log.level, settings.log.format)
    try:
        anyio.run(_serve, settings, open_source, open_sink, registry)
    except (ConfigurationError, TransientError) as exc:
        return _fail(err, exc)
    except ExceptionGroup as group:
        leaf = _bridge_error(group)
        if leaf is None:
            raise
        return _fail(err, leaf)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK


async def _serve(
    settings: Settings,
    open_source: OpenSource,
    open_sink: OpenSink,
    registry: CollectorRegistry | None,
) -> None:
    # The status port first: once the source is open it may already be taking messages, and
    # a port in use would then stop the bridge with deliveries in hand.
    status = bind(settings.http.host, settings.http.port) if settings.http.enabled else None
    try:
        source, sink = await _connect(settings, open_source, open_sink)
    except BaseException:
        if status is not None:
            status.close()
        raise
    tune_garbage_collector()
    await run_service(source, sink, settings, status_socket=status, registry=registry)


async def _connect(
    settings: Settings, open_source: OpenSource, open_sink: OpenSink
) -> tuple[Source, Sink]:
    log.info(
        "connecting",
        extra={"source": settings.source.target(), "sink": masked_url(settings.sink.url)},
    )
    sink = await open_sink(settings.sink)  # the sink first: take nothing we can't publish
    try:
        prefetch = settings.source.prefetch_for(settings.relay.max_in_flight)
        return await open_source(settings.source, prefetch), sink
    except BaseException:
        with anyio.CancelScope(shield=True):
            await sink.aclose()
        raise


# Collect the youngest generation after 20,000 net allocations of tracked objects instead of
# CPython's 700. The relay keeps ~64 deliveries in flight, each holding a few hundred dicts,
# lists and models until its confirm: at 700 the collector ran every few events and traversed
# that in-flight set again each time. What it waits for is net growth: garbage freed by reference
# counting (nearly all of it) never counts, so the extra memory is what reference cycles leave
# between collections. Measured on 20,000 relayed 4.3 KB events (memory adapters, 2026-12-02):
# 1,912 collections taking 792 ms in all (40 µs per event; longest 17 ms, a gen-2 pass) before,
# 1 collection of 14 ms after; bench.vod_relay, four pairs of runs of the no-budget phase: the
# bridge's CPU per event fell from 589-623 to 534-592 µs; RSS in bench.relay unchanged. The
# older generations (CPython: a pass every 10 of the younger one's) were measured at 50 and 100.
GC_THRESHOLDS = (20_000, 50, 100)


def tune_garbage_collector() -> None:
    """Set the collector up for the relay, once start-up is done (see :data:`GC_THRESHOLDS`).

    Also keeps what start-up built (modules, models, connections) out of every later GC pass.
    A full collection walks every tracked object: with the imported libraries that is tens of
    thousands of objects and ~15 ms, which the relay paid as latency whenever the collector
    reached its oldest generation (it showed as p99 outliers). Frozen objects are never
    scanned; what the relay allocates per message is still collected as usual.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _fail(stderr: TextIO, exc: BridgeError) -> int:
    print(f"media-bridge run: {exc}", file=stderr)
    return EXIT_CONFIG if isinstance(exc, ConfigurationError) else EXIT_UNAVAILABLE


def _bridge_error(group: BaseExceptionGroup[BaseException]) -> BridgeError | None:
    """The configuration or start-up error inside a task group's exception group, if any."""
    found = group.subgroup(lambda e: isinstance(e, ConfigurationError | TransientError))
    while found is not None:
        first = found.exceptions[0]
        if isinstance(first, BridgeError):
            return first
        if not isinstance(first, BaseExceptionGroup):
            return None
        found = first
    return None
