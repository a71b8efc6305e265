"""Opening a robust AMQP connection, and translating aio-pika/aiormq errors at the boundary.

Every RabbitMQ adapter call that can fail goes through :func:`translated`, so the core only ever
sees the ``consumer.errors`` tree. Nothing here logs or raises a URL with its password in it.

:func:`open_connection` returns a :class:`Link`: the aio-pika connection, the frame tap's
transport factory (None on the plain path) and the :class:`~adapters.rabbitmq_link.LinkWatch`
that follows the connection's state.

A URL setting may name several nodes, comma-separated (a cluster). At start-up the nodes are
tried in order, and the first that answers is used: an unreachable one is skipped with a
WARNING, and only when none answers is the broker unavailable; a refusal (credentials, virtual
host) ends start-up at once, since every node of a cluster has the same users. After a loss,
aio-pika's robust reconnect goes to the next node, round-robin (see
:class:`~adapters.rabbitmq_link.LinkWatch`, which moves ``connection.url`` on).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aio_pika
import aiormq.exceptions
import anyio
import pamqp.exceptions
from aio_pika.abc import AbstractRobustConnection
from yarl import URL

from adapters.rabbitmq_link import LinkWatch, node_name, quiet_reconnect_noise
from adapters.rabbitmq_transport import TappedTransportFactory
from consumer.errors import ConfigurationError, TransientError, UnroutableError

log = logging.getLogger(__name__)

_SCHEMES = ("amqp", "amqps")
CONNECT_TIMEOUT_S = 10.0
RECONNECT_INTERVAL_S = "1"


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and error messages)."""
    try:
        parsed = URL(str(url))
    except (TypeError, ValueError):
        return "<unparseable URL>"
    return str(parsed.with_password("***")) if parsed.password is not None else str(parsed)


def split_urls(text: str) -> list[str]:
    """The URLs of comma-separated text (one URL: a list of one)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_amqp_url(url: str) -> URL:
    """Validate ``url`` before any connect attempt.

    aio-pika retries a malformed URL forever in the background, so it must never see one.
    """
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        raise ConfigurationError("RabbitMQ URL is not a valid URL") from None
    if parsed.scheme not in _SCHEMES or not parsed.host:
        raise ConfigurationError(
            f"RabbitMQ URL must look like amqp://user:password@host:5672/vhost, got {mask_url(url)}"
        )
    return parsed


def parse_amqp_urls(urls: str) -> list[URL]:
    """Every URL of comma-separated ``urls`` validated (see :func:`parse_amqp_url`)."""
    parsed = [parse_amqp_url(url) for url in split_urls(urls)]
    if not parsed:
        raise ConfigurationError("no RabbitMQ URL given")
    return parsed


@contextmanager
def translated(unavailable: type[TransientError], what: str) -> Iterator[None]:
    """Re-raise aio-pika/aiormq failures of ``what`` as ``unavailable`` (or Unroutable/Config)."""
    try:
        yield
    except aiormq.exceptions.PublishError as exc:
        raise UnroutableError(f"{what}: returned by the broker ({_reply_text(exc)})") from None
    except (aiormq.exceptions.ChannelAccessRefused, aiormq.exceptions.AuthenticationError) as exc:
        raise ConfigurationError(f"{what}: access refused by RabbitMQ ({exc})") from None
    except aiormq.exceptions.ProbableAuthenticationError:
        raise ConfigurationError(
            f"{what}: RabbitMQ refused the login (wrong user name or password?)"
        ) from None
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        # An existing queue/exchange with other arguments: retrying can't fix it.
        raise ConfigurationError(f"{what}: {_reply_text(exc)}") from None
    except (
        aiormq.exceptions.AMQPError,
        aiormq.exceptions.ChannelInvalidStateError,
        pamqp.exceptions.PAMQPException,
        ConnectionError,
        OSError,  # includes TimeoutError from publish/confirm timeouts
    ) as exc:
        raise unavailable(f"{what}: {type(exc).__name__}: {_reply_text(exc)}") from None


def _reply_text(exc: BaseException) -> str:
    """The broker's words when it gave any; never the frames or URLs aiormq puts in ``args``."""
    for arg in exc.args:
        if isinstance(arg, str):
            return arg
    return str(getattr(exc, "reason", "")) or type(exc).__name__


@dataclass(frozen=True)
class Link:
    """One open robust connection and what follows it."""

    connection: AbstractRobustConnection
    transport: TappedTransportFactory | None  # the frame tap's factory; None on the plain path
    watch: LinkWatch


async def open_connection(
    url: str, role: str, unavailable: type[TransientError], *, fast_path: bool = True
) -> Link:
    """A robust connection named "media-bridge ``role`` host:pid" (shown in the management UI
    and ``rabbitmqctl``) to the first node of ``url`` (one URL, or several comma-separated)
    that answers; with ``fast_path`` its frames go through a frame tap.

    Raises:
        ConfigurationError: bad URL, credentials or vhost.
        unavailable: no node can be reached within ``CONNECT_TIMEOUT_S`` (each).
    """
    nodes = [_with_retry_interval(node) for node in parse_amqp_urls(url)]
    # Host and pid tell bridge instances apart in the management UI and `rabbitmqctl
    # list_connections` (and let an operator close exactly one instance's connections).
    name = f"media-bridge {role} {socket.gethostname()}:{os.getpid()}"
    quiet_reconnect_noise()
    failures: list[str] = []
    for index, node in enumerate(nodes):
        try:
            connection, transport = await _connect(node, name, unavailable, fast_path=fast_path)
        except TransientError as exc:
            failures.append(str(exc))
            if index + 1 < len(nodes):
                log.warning(
                    "RabbitMQ %s: %s; trying the next node, %s",
                    role, exc, node_name(nodes[index + 1]),
                    extra={"connection": role, "node": node_name(node)},
                )
            continue
        log.info("connected to %s as %r", node_name(node), name, extra={"node": node_name(node)})
        watch = LinkWatch(connection, role, transport, _retry_s(node), nodes=nodes, current=index)
        return Link(connection, transport, watch)
    if len(nodes) == 1:
        raise unavailable(failures[0])
    raise unavailable(f"no RabbitMQ node answers ({len(nodes)} tried): " + "; ".join(failures))


def _with_retry_interval(url: URL) -> URL:
    if "reconnect_interval" in url.query:
        return url
    # aio-pika waits 5 s between attempts by default; a relay should come back sooner.
    return url.update_query(reconnect_interval=RECONNECT_INTERVAL_S)


async def _connect(
    node: URL, name: str, unavailable: type[TransientError], *, fast_path: bool
) -> tuple[aio_pika.RobustConnection, TappedTransportFactory | None]:
    """One robust connection to ``node``, connected (fail-fast: one attempt)."""
    where = node_name(node)
    connection = aio_pika.RobustConnection(node, client_properties={"connection_name": name})
    transport = TappedTransportFactory() if fast_path else None
    if transport is not None:
        # aio-pika passes ``kwargs`` to ``aiormq.connect`` on every (re)connect but filters
        # what its constructor accepts, so the factory is set here. That aio-pika passes it
        # on is not documented: ``rabbitmq_tap_check`` proves it did, on every link.
        connection.kwargs["transport_factory"] = transport
    try:
        with translated(unavailable, f"connecting to {where}"):
            try:
                with anyio.fail_after(CONNECT_TIMEOUT_S):
                    await connection.connect(timeout=CONNECT_TIMEOUT_S)
            except aiormq.exceptions.InvalidFrameError:
                # RabbitMQ answers Connection.Open with Connection.Close for a vhost that does
                # not exist or that the user has no permission on.
                raise ConfigurationError(
                    f"connecting to {where}: RabbitMQ refused the virtual host "
                    "(it does not exist or the user has no access to it)"
                ) from None
    except BaseException:
        with anyio.CancelScope(shield=True):
            await connection.close()
        raise
    return connection, transport


def _retry_s(url: URL) -> float:
    """The reconnect interval aio-pika uses, for the log (it ignores one it can't parse)."""
    try:
        return float(url.query.get("reconnect_interval", RECONNECT_INTERVAL_S))
    except ValueError:
        return float(RECONNECT_INTERVAL_S)
