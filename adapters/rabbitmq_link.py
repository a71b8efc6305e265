"""``LinkWatch``: is one robust connection up, and why not; each loss logged once, in the broker's
words; and, with several nodes, which node the next attempt goes to.

aio-pika calls a connection's ``close_callbacks`` (public API) when its link closes *and* after
every reconnect attempt that fails, and its ``reconnect_callbacks`` once a new link is up and
its channels are restored. From these the watch keeps ``up`` (the adapters' readiness) and
``reason``, and logs one WARNING when the link is lost (``RabbitMQ sink connection lost on
amqp://guest:***@node1:5672/: 320 CONNECTION_FORCED - ...; reconnecting``), one more only when
a failed attempt gives a reason (or a node) not yet logged in this outage (``... still down:
...``), and an INFO line naming the node when it is back.

**Failover.** aio-pika's robust connection reconnects to ``connection.url``, read afresh by
every attempt (``Connection.connect`` passes ``self.url`` to aiormq). With several nodes the
watch moves ``connection.url`` to the next node, round-robin, each time a link is lost or an
attempt fails, so the reconnect loop, its back-off, the channels' restoration and the frame
tap's transport factory (which aiormq calls with whatever URL it is given) stay aio-pika's and
ours unchanged: a new link to another node is a new link like any other, with new channel
instances (no ack of an old delivery reaches it) and a new tap (every pending confirm of the
old one failed as transient when it closed). One loss is reported twice when restoring the
channels on a new link fails (aio-pika calls the close callbacks, then closes the link, which
calls them again): the node moves on once per underlying link.

What aiormq and aio-pika themselves log about the same events (an ERROR per closed link, a
WARNING with a traceback from aiormq's reader, an ERROR from a channel's close callback, and a
WARNING per failed attempt that names the broker's refusal only as ``<Connection.Close object
at 0x...>``) is dropped by :func:`quiet_reconnect_noise` unless those loggers are at DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiormq.exceptions
from aio_pika import RobustConnection
from yarl import URL

from adapters.rabbitmq_tap import BROKER_CLOSED
from adapters.rabbitmq_transport import TappedTransportFactory

log = logging.getLogger(__name__)

VHOST_REFUSED = (
    "the broker refused to open the virtual host (it does not exist or the user has no access to it)"
)


class LinkWatch:
    """Follows one robust connection; ``role`` ("source", "sink") names it in the log.

    ``nodes`` are the URLs the connection may use, ``current`` the index of the one it is
    connected to now; with more than one, a loss moves the connection on to the next.
    """

    def __init__(
        self,
        connection: RobustConnection,
        role: str,
        transport: TappedTransportFactory | None,
        retry_interval_s: float,
        *,
        nodes: Sequence[URL] = (),
        current: int = 0,
    ) -> None:
        self.up = True  # made after the first connect succeeded
        self.reason: str | None = None  # why it is down, while it is
        self._connection = connection
        self._role = role
        self._transport = transport
        self._retry_s = retry_interval_s
        self._nodes = list(nodes) or [connection.url]
        self._current = current
        self._moved_for: object = None  # the underlying link the node last moved on for
        self._listeners: list[Callable[[bool], None]] = []
        self._said: set[str] = set()  # the reasons logged during the current outage
        self._stopped = False
        connection.close_callbacks.add(self._on_close)
        connection.reconnect_callbacks.add(self._on_reconnect)

    @property
    def node(self) -> str:
        """The node the connection is on (or tries next), password masked."""
        return node_name(self._nodes[self._current])

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
        lost = self.node
        moved = self._move_on()
        fields = {"connection": self._role, "reason": reason, "node": lost, "next_node": self.node}
        then = f"; reconnecting to the next node, {self.node}" if moved else "; reconnecting"
        if self.up:
            log.warning(
                "RabbitMQ %s connection lost on %s: %s%s", self._role, lost, reason, then,
                extra=fields,
            )
        elif f"{lost} {reason}" not in self._said:  # once per node, reason and outage
            log.warning(
                "RabbitMQ %s connection still down: %s: %s; %s",
                self._role, lost, reason,
                f"trying {self.node} in {self._retry_s:g} s" if moved
                else f"retrying every {self._retry_s:g} s",
                extra=fields,
            )
        self._said.add(f"{lost} {reason}")
        was_up, self.up, self.reason = self.up, False, reason
        if was_up:
            self._notify()

    def _move_on(self) -> bool:
        """Point the connection's next attempt at the next node; False with a single node."""
        if len(self._nodes) < 2:
            return False
        # None (an attempt that never made a link) always moves on; a link moves it once.
        link = self._connection.transport
        if link is not None and link is self._moved_for:
            return True
        self._moved_for = link
        self._current = (self._current + 1) % len(self._nodes)
        self._connection.url = self._nodes[self._current]
        return True

    def _on_reconnect(self, _sender: object, *_: Any) -> None:
        if self._stopped:
            return
        self.up, self.reason = True, None
        self._said.clear()
        log.info(
            "RabbitMQ %s connection restored on %s", self._role, self.node,
            extra={"connection": self._role, "node": self.node},
        )
        self._notify()

    def _notify(self) -> None:
        for listener in self._listeners:
            listener(self.up)


def node_name(url: URL) -> str:
    """A node's URL for the log: password masked, query (reconnect_interval...) left out."""
    url = url.with_query(None)
    return str(url.with_password("***")) if url.password is not None else str(url)


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
