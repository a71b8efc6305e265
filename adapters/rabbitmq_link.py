"""``LinkWatch``: is one robust connection up, and why not; each loss logged once, in the broker's words.

aio-pika calls a connection's ``close_callbacks`` (public API) when its link closes *and* after
every reconnect attempt that fails, and its ``reconnect_callbacks`` once a new link is up and
its channels are restored. From these the watch keeps ``up`` (the adapters' readiness) and
``reason``, and logs one WARNING when the link is lost (``RabbitMQ sink connection lost: 320
CONNECTION_FORCED - ...; reconnecting``), one more only when a failed attempt gives a different
reason (``... still down: ACCESS_REFUSED - access to queue 'q' ... refused ...``), and an INFO
line when it is back.

What aiormq and aio-pika themselves log about the same events (an ERROR per closed link, a
WARNING with a traceback from aiormq's reader, an ERROR from a channel's close callback, and a
WARNING per failed attempt that names the broker's refusal only as ``<Connection.Close object
at 0x...>``) is dropped by :func:`quiet_reconnect_noise` unless those loggers are at DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiormq.exceptions
from aio_pika.abc import AbstractRobustConnection

from adapters.rabbitmq_tap import BROKER_CLOSED
from adapters.rabbitmq_transport import TappedTransportFactory

log = logging.getLogger(__name__)

VHOST_REFUSED = (
    "the broker refused to open the virtual host (it does not exist or the user has no access to it)"
)


class LinkWatch:
    """Follows one robust connection; ``role`` ("source", "sink") names it in the log."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        role: str,
        transport: TappedTransportFactory | None,
        retry_interval_s: float,
    ) -> None:
        self.up = True  # made after the first connect succeeded
        self.reason: str | None = None  # why it is down, while it is
        self._role = role
        self._transport = transport
        self._retry_s = retry_interval_s
        self._listeners: list[Callable[[bool], None]] = []
        self._said: set[str] = set()  # the reasons logged during the current outage
        self._stopped = False
        connection.close_callbacks.add(self._on_close)
        connection.reconnect_callbacks.add(self._on_reconnect)

    def on_change(self, listener: Callable[[bool], None]) -> None:
        """Call ``listener(up)`` whenever the link goes down or comes back."""
        self._listeners.append(listener)

    def stop(self) -> None:
        """Our own close follows: it is not a loss."""
        self._stopped = True
        self.up = False
        self.reason = "closed"

    def _on_close(self, _sender: object, exc: BaseException | None = None, *_: Any) -> None:
        if self._stopped or (exc is None and not self.up):
            return  # a failed attempt's link closing after its error was reported: nothing new
        reason = describe(exc, self._transport)
        fields = {"connection": self._role, "reason": reason}
        if self.up:
            log.warning("RabbitMQ %s connection lost: %s; reconnecting", self._role, reason, extra=fields)
        elif reason not in self._said:  # once per reason and outage, not once per attempt
            log.warning(
                "RabbitMQ %s connection still down: %s; retrying every %g s",
                self._role, reason, self._retry_s, extra=fields,
            )
        self._said.add(reason)
        was_up, self.up, self.reason = self.up, False, reason
        if was_up:
            self._notify()

    def _on_reconnect(self, _sender: object, *_: Any) -> None:
        if self._stopped:
            return
        self.up, self.reason = True, None
        self._said.clear()
        log.info("RabbitMQ %s connection restored", self._role, extra={"connection": self._role})
        self._notify()

    def _notify(self) -> None:
        for listener in self._listeners:
            listener(self.up)


def describe(exc: BaseException | None, transport: TappedTransportFactory | None) -> str:
    """The broker's reply code and text when it gave them, else what went wrong, in one line."""
    if exc is None:
        return "closed"
    if isinstance(exc, asyncio.CancelledError):
        return "the link was cancelled (it stopped answering)"
    if isinstance(exc, aiormq.exceptions.InvalidFrameError) and "Connection.Close" in str(exc):
        # The broker refused Connection.Open; aiormq keeps only the frame's repr. The tap (fast
        # path) saw the frame itself.
        tap = transport.newest if transport is not None else None
        if tap is not None and tap.lost_reason.startswith(BROKER_CLOSED):
            return tap.lost_reason.removeprefix(BROKER_CLOSED)
        return VHOST_REFUSED
    args = exc.args
    if isinstance(exc, aiormq.exceptions.ConnectionClosed) and len(args) == 2:
        return f"{args[0]} {args[1]}"  # (reply code, reply text)
    if isinstance(exc, aiormq.exceptions.AMQPError) and args and isinstance(args[0], str):
        return args[0]  # aiormq's mapped classes carry the broker's reply text alone
    return str(exc) or type(exc).__name__


class _ReconnectNoise(logging.Filter):
    """Drops the libraries' records of a lost link or a failed attempt (see the module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return True  # debugging the transport: everything, as the libraries say it
        return not _is_noise(record)


def _is_noise(record: logging.LogRecord) -> bool:
    message = str(record.msg)
    if record.name == "aiormq.connection":
        if message.startswith("Unexpected connection close from remote"):
            return True
        error = record.exc_info[1] if record.exc_info else _first_error(record.args)
        return message.startswith(
            ("Cancelling cause reader exited abnormally", "error when creating transport")
        ) and isinstance(error, OSError)
    if record.name == "aio_pika.robust_connection":
        return message.startswith(("Connection attempt to", "Reconnect attempt failed"))
    if record.name == "aio_pika.tools" and message.startswith("Callback %r error"):
        # A channel's close callback trying to reopen it on a link that is gone; the robust
        # connection restores the channel after reconnecting.
        callback = record.args[0] if isinstance(record.args, tuple) and record.args else None
        return "_on_close" in repr(callback)
    return False


def _first_error(args: object) -> BaseException | None:
    if isinstance(args, tuple) and args and isinstance(args[0], BaseException):
        return args[0]
    return None


_NOISE = _ReconnectNoise()
_NOISY_LOGGERS = ("aiormq.connection", "aio_pika.robust_connection", "aio_pika.tools")


def quiet_reconnect_noise() -> None:
    """Install the filter on the libraries' loggers (idempotent)."""
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _NOISE not in logger.filters:
            logger.addFilter(_NOISE)
