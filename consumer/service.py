"""The running service: relay + status endpoints + signal handling, in one anyio task group.

``run_service`` takes a connected source and sink (built by the CLI, the only place that knows
the adapters) and the status endpoints' bound socket, and owns them from then on: it closes them
when it returns, source first, so unsettled deliveries go back for redelivery before the sink
disconnects. The socket is bound by the caller, before it connects anything (see
``consumer.commands.run``), so a port in use stops the bridge before it has taken a message.

SIGTERM or SIGINT sets ``stop``: the relay stops receiving, drains in-flight deliveries within
the grace period, and ``run_service`` returns normally (exit status 0). A second signal cancels
at once (whatever is unconfirmed stays unacked and is redelivered).
"""

from __future__ import annotations

import logging
import signal
import socket

import anyio
from prometheus_client import CollectorRegistry

from consumer.metrics import Metrics
from consumer.ports import Sink, Source
from consumer.relay import run_relay
from consumer.settings import Settings
from consumer.status_server import serve_status, status_app

log = logging.getLogger("media_bridge.service")

CLOSE_TIMEOUT_S = 5.0


def unready(source: Source, sink: Sink, *, stopping: bool = False) -> str | None:
    """Why the bridge should get no traffic now, naming the side that is down
    (``sink down``, ``source and sink down``, ``stopping``); None when it is ready."""
    if stopping:
        return "stopping"
    down = [side for side, end in (("source", source), ("sink", sink)) if not end.connected]
    return f"{' and '.join(down)} down" if down else None


async def run_service(
    source: Source,
    sink: Sink,
    settings: Settings,
    *,
    status_socket: socket.socket | None = None,
    registry: CollectorRegistry | None = None,
    stop: anyio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Relay until stopped (signal or ``stop``) or the source ends; then close both ends.

    ``status_socket`` (from ``consumer.status_server.bind``) serves /metrics, /healthz and
    /readyz; None serves nothing.
    """
    metrics = Metrics(registry)
    stop = stop if stop is not None else anyio.Event()

    def why_unready() -> str | None:
        return unready(source, sink, stopping=stop.is_set())

    try:
        async with anyio.create_task_group() as group:
            if handle_signals:
                group.start_soon(_watch_signals, stop, group.cancel_scope)
            if status_socket is not None:
                app = status_app(metrics.registry, why_unready)
                port = await group.start(serve_status, app, status_socket)
                log.info(
                    "status endpoints listening",
                    extra={"url": f"http://{settings.http.host}:{port}/"},
                )
            log.info("relay started", extra={"max_in_flight": settings.relay.max_in_flight})
            await run_relay(source, sink, settings.relay_options(), metrics=metrics, stop=stop)
            group.cancel_scope.cancel()  # relay done: stop the status server and signal watcher
    finally:
        if status_socket is not None:
            status_socket.close()
        await _close(source, sink)


async def _watch_signals(stop: anyio.Event, everything: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if stop.is_set():
                log.warning("second signal; stopping now", extra={"signal": name})
                everything.cancel()
                return
            log.info("signal received; draining and stopping", extra={"signal": name})
            stop.set()


async def _close(source: Source, sink: Sink) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT_S) as scope:
        try:
            await source.aclose()
        finally:
            await sink.aclose()
    if scope.cancelled_caught:
        log.warning("closing the connections timed out")
