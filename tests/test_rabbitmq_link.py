"""What a lost link is called in the log, and which library records about it are dropped."""

from __future__ import annotations

import asyncio
import logging

import aiormq.exceptions
import pytest
from pamqp import commands, frame
from yarl import URL

from adapters.rabbitmq_link import VHOST_REFUSED, LinkWatch, _ReconnectNoise, describe
from adapters.rabbitmq_transport import TappedTransportFactory
from tests.tap_support import new_tap

HANDSHAKE_REFUSED = aiormq.exceptions.InvalidFrameError(
    "Expected one of ['Connection.OpenOk'], got <Connection.Close object at 0x7f0000000000>"
)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (aiormq.exceptions.ConnectionClosed(320, "CONNECTION_FORCED - test"), "320 CONNECTION_FORCED - test"),
        (aiormq.exceptions.ChannelAccessRefused("ACCESS_REFUSED - access to queue 'q'"), "ACCESS_REFUSED - access to queue 'q'"),
        (aiormq.exceptions.ConnectionNotAllowed("NOT_ALLOWED - vhost"), "NOT_ALLOWED - vhost"),
        (ConnectionRefusedError(111, "Connect call failed"), "[Errno 111] Connect call failed"),
        (HANDSHAKE_REFUSED, VHOST_REFUSED),
        (asyncio.CancelledError(), "the link was cancelled (it stopped answering)"),
        (None, "closed"),
    ],
)
def test_a_loss_is_described_by_the_brokers_reply_when_it_gave_one(
    error: BaseException | None, said: str
) -> None:
    assert describe(error, None) == said


async def test_a_refused_handshake_names_the_brokers_reason_when_the_tap_saw_it() -> None:
    """aiormq keeps only ``<Connection.Close object at 0x...>``; the tap read the frame."""
    transport, tap = TappedTransportFactory(), new_tap()
    transport.newest = tap
    close = commands.Connection.Close(530, "NOT_ALLOWED - access to vhost '/' refused", 10, 40)
    tap.feed_data(frame.marshal(close, 0))
    assert describe(HANDSHAKE_REFUSED, transport) == "530 NOT_ALLOWED - access to vhost '/' refused"


def record(name: str, level: int, msg: str, *args: object, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


CLOSED = aiormq.exceptions.ConnectionClosed(320, "CONNECTION_FORCED - test")


@pytest.mark.parametrize(
    "noise",
    [
        record("aiormq.connection", logging.ERROR, 'Unexpected connection close from remote "%s", '
               "Connection.Close(reply_code=%r, reply_text=%r)", "amqp://", 320, "x"),
        record("aiormq.connection", logging.WARNING, "Cancelling cause reader exited abnormally",
               error=CLOSED),
        record("aiormq.connection", logging.ERROR, "error when creating transport: %r",
               ConnectionRefusedError(111, "refused")),
        record("aio_pika.robust_connection", logging.WARNING, 'Connection attempt to "%s" failed: '
               "%s. Reconnecting after %r seconds.", "amqp://", HANDSHAKE_REFUSED, 1),
        record("aio_pika.tools", logging.ERROR, "Callback %r error: %s: %s",
               "<OneShotCallback: cb=<bound method RobustChannel._on_close of ...>>",
               "ChannelInvalidStateError", "No active transport in channel"),
    ],
    ids=["close from remote", "reader traceback", "transport refused", "attempt failed", "channel close callback"],
)
def test_the_libraries_records_of_a_lost_link_are_dropped(noise: logging.LogRecord) -> None:
    assert not _ReconnectNoise().filter(noise)


@pytest.mark.parametrize(
    "kept",
    [
        record("aiormq.connection", logging.WARNING, "Cancelling cause reader exited abnormally",
               error=ValueError("a bug in a decoder")),
        record("aio_pika.tools", logging.ERROR, "Callback %r error: %s: %s",
               "<OneShotCallback: cb=<function on_message>>", "KeyError", "x"),
        record("aiormq.channel", logging.ERROR, "Unexpected connection close from remote"),
    ],
    ids=["reader failed on something else", "another callback", "another logger"],
)
def test_everything_else_they_log_is_kept(kept: logging.LogRecord) -> None:
    assert _ReconnectNoise().filter(kept)


def test_everything_is_kept_while_the_transport_loggers_are_at_debug() -> None:
    logger = logging.getLogger("aiormq.connection")
    level = logger.level
    logger.setLevel(logging.DEBUG)  # what configure_logging("DEBUG") does
    try:
        noise = record("aiormq.connection", logging.ERROR, "Unexpected connection close from remote")
        kept = _ReconnectNoise().filter(noise)
    finally:
        logger.setLevel(level)
    assert kept


class FakeConnection:
    """What LinkWatch uses of a robust connection: its callbacks, ``url`` and ``transport``."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.transport: object = None
        self.close_callbacks: set[object] = set()
        self.reconnect_callbacks: set[object] = set()


NODES = [URL(f"amqp://guest:pw@node{n}:5672/?reconnect_interval=1") for n in (1, 2, 3)]


def watched(current: int = 0) -> tuple[FakeConnection, LinkWatch]:
    connection = FakeConnection(NODES[current])
    watch = LinkWatch(connection, "sink", None, 1.0, nodes=NODES, current=current)  # type: ignore[arg-type]
    return connection, watch


def test_a_lost_node_is_named_and_the_next_attempt_goes_to_the_next_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection, watch = watched()
    connection.transport = object()  # the link that was up
    with caplog.at_level(logging.INFO, logger="adapters.rabbitmq_link"):
        watch._on_close(connection, CLOSED)
        assert connection.url == NODES[1]
        connection.transport = None  # attempts that never made a link
        watch._on_close(connection, ConnectionRefusedError(111, "Connect call failed"))
        assert connection.url == NODES[2]
        watch._on_close(connection, ConnectionRefusedError(111, "Connect call failed"))
        assert connection.url == NODES[0]  # round-robin
        watch._on_close(connection, None)  # a failed attempt's link closing: nothing new
        assert connection.url == NODES[0]
        watch._on_reconnect(connection)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("WARNING", ("RabbitMQ sink connection lost on amqp://guest:***@node1:5672/: "
                    "320 CONNECTION_FORCED - test; reconnecting to the next node, "
                    "amqp://guest:***@node2:5672/")),
        ("WARNING", ("RabbitMQ sink connection still down: amqp://guest:***@node2:5672/: "
                    "[Errno 111] Connect call failed; trying amqp://guest:***@node3:5672/ in 1 s")),
        ("WARNING", ("RabbitMQ sink connection still down: amqp://guest:***@node3:5672/: "
                    "[Errno 111] Connect call failed; trying amqp://guest:***@node1:5672/ in 1 s")),
        ("INFO", "RabbitMQ sink connection restored on amqp://guest:***@node1:5672/"),
    ]
    assert watch.up
    assert "pw" not in caplog.text


def test_a_loss_reported_twice_for_one_link_moves_on_once() -> None:
    """Restoring the channels on a new link failed: aio-pika calls the close callbacks, then
    closes that link, which calls them again. One node skipped, not two."""
    connection, watch = watched(current=1)
    watch._on_close(connection, CLOSED)  # the loss of the link to node 2 (no transport known)
    connection.transport = link = object()  # node 3 answered; restoring its channels fails
    watch._on_close(connection, aiormq.exceptions.ChannelNotFoundEntity("NOT_FOUND - no queue"))
    assert connection.url == NODES[0]
    connection.transport = link
    watch._on_close(connection, CLOSED)
    assert connection.url == NODES[0]


def test_a_single_node_is_reconnected_to_as_it_is(caplog: pytest.LogCaptureFixture) -> None:
    connection = FakeConnection(NODES[0])
    watch = LinkWatch(connection, "source", None, 1.0)  # type: ignore[arg-type]
    connection.transport = object()
    with caplog.at_level(logging.WARNING, logger="adapters.rabbitmq_link"):
        watch._on_close(connection, CLOSED)
    assert connection.url == NODES[0]
    assert caplog.records[0].getMessage() == (
        "RabbitMQ source connection lost on amqp://guest:***@node1:5672/: 320 CONNECTION_FORCED "
        "- test; reconnecting"
    )


def test_our_own_close_moves_nothing_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    connection, watch = watched()
    watch.stop()
    with caplog.at_level(logging.INFO, logger="adapters.rabbitmq_link"):
        watch._on_close(connection, CLOSED)
    assert connection.url == NODES[0]
    assert caplog.records == []
