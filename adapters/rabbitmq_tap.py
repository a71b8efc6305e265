"""``FrameTap``: the hot frames of a connection go to our adapters, everything else to aiormq.

aio-pika and aiormq own the connection: handshake, heartbeats, declarations, ``basic.qos`` and
``basic.consume``, channel and connection close, blocking, and the robust reconnect. What they
are slow at is the per-message traffic (see ``adapters.amqp_wire``), so the connection's
``StreamReader`` is this subclass, plugged in through aiormq's ``transport_factory`` hook:
``feed_data`` cuts the incoming bytes into frames and, on the channels an adapter registered
(:meth:`FrameTap.attach`), hands these straight to that adapter's :class:`ChannelListener`:

* Basic.Deliver (+ content) for the listener's consumer tags: a delivery for the source;
* Basic.Ack / Basic.Nack: publisher confirms for the sink;
* Basic.Return (+ content): a mandatory publish nothing was bound to receive.

Every other frame reaches aiormq unchanged and in order. Because aiormq no longer sees most
frames, it could believe the link idle (its heartbeat watchdog cancels a connection that
received nothing for a while, and RabbitMQ sends no heartbeats while it sends deliveries), so
the tap passes it a heartbeat frame at least once a second while it keeps frames for itself.

Outgoing hot frames (publishes, acks) are written with :meth:`FrameTap.write` to the same
``StreamWriter`` aiormq writes to, each whole frame group in one call, so they never interleave
with aiormq's frames.

The tap also watches what aiormq cannot tell us without asking: which channel numbers are open
on this very connection (a channel belongs to the live tap that saw its Channel.OpenOk), whether
the broker blocked publishing, and whether the link is gone (``lost_reason``: the broker's
reply code and text when it closed it). Listeners hear about a closed channel or a lost link at
once, so nothing waits for a confirm that can no longer come. :meth:`FrameTap.watch_for` lets
the self-check (``adapters.rabbitmq_tap_check``) see that a reply really came through the tap.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from adapters import amqp_wire as wire

log = logging.getLogger(__name__)

# aiormq must see a frame this often while the tap keeps all of them (its watchdog allows
# three heartbeat intervals; one second is far inside any interval RabbitMQ negotiates).
HEARTBEAT_PASS_INTERVAL_S = 1.0
BROKER_CLOSED = "the broker closed the connection: "  # + its reply code and text
_CONTENT_METHODS = frozenset({wire.BASIC_DELIVER, wire.BASIC_RETURN, (60, 71)})  # + Basic.GetOk


class ChannelListener:
    """What an adapter attached to a channel hears; every method is a no-op by default.

    Called synchronously from the transport's ``data_received``: keep them short, never block.
    """

    consumer_tags: frozenset[str] | set[str] = frozenset()  # Basic.Deliver for these comes here

    def on_deliver(
        self, delivery_tag: int, redelivered: bool, header: bytes, body: bytes
    ) -> None:
        """A delivery for one of ``consumer_tags``; ``header`` is the content header payload."""

    def on_confirm(self, delivery_tag: int, multiple: bool, *, ack: bool) -> None:
        """A publisher confirm (``ack``) or a broker nack."""

    def on_return(self, reply_code: int, reply_text: str, header: bytes, body: bytes) -> None:
        """A mandatory publish came back unrouted (before its confirm, on the same channel)."""

    def on_closed(self, reason: str) -> None:
        """The channel closed, or the whole connection is gone; nothing more will arrive."""


@dataclass(slots=True)
class _Content:
    """A content-bearing method still waiting for its header and body frames."""

    listener: ChannelListener | None  # None: the content goes to aiormq
    method: tuple[int, int]
    delivery_tag: int = 0  # Basic.Deliver
    redelivered: bool = False
    reply_code: int = 0  # Basic.Return
    reply_text: str = ""
    header: bytes = b""
    expected: int = -1  # body size, known once the header arrived
    received: int = 0
    parts: list[bytes] = field(default_factory=list)


class FrameTap(asyncio.StreamReader):
    """A ``StreamReader`` for aiormq that keeps the hot frames of attached channels."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.writer: asyncio.StreamWriter | None = None  # set by the transport factory
        self.lost = False
        self.lost_reason = ""  # why, once lost (the broker's words when it closed the link)
        self.blocked: str | None = None  # the broker's reason while it blocks publishing
        self.open_channels: set[int] = set()
        self._listeners: dict[int, ChannelListener] = {}
        self._content: dict[int, _Content] = {}
        self._pending = b""  # the start of a frame whose rest has not arrived yet
        self._event_loop = loop
        self._last_passed = loop.time()
        # (channel, method) -> futures resolved when that method passes: the self-check's
        # proof that this tap reads the link (see ``adapters.rabbitmq_tap_check``).
        self._watched: dict[tuple[int, tuple[int, int]], list[asyncio.Future[None]]] = {}

    # -- adapters' side ------------------------------------------------------------------

    def attach(self, channel: int, listener: ChannelListener) -> None:
        """Route ``channel``'s hot frames to ``listener`` (replacing any earlier listener)."""
        self._listeners[channel] = listener

    def detach(self, channel: int, listener: ChannelListener) -> None:
        """Stop routing to ``listener`` (no-op if another one took the channel since)."""
        if self._listeners.get(channel) is listener:
            del self._listeners[channel]

    def watch_for(self, channel: int, method: tuple[int, int]) -> asyncio.Future[None]:
        """A future resolved when ``method`` next reaches aiormq on ``channel`` through this tap."""
        future: asyncio.Future[None] = self._event_loop.create_future()
        self._watched.setdefault((channel, method), []).append(future)
        return future

    def is_open(self, channel: int) -> bool:
        """True while the link is up and ``channel`` is open on it."""
        return not self.lost and channel in self.open_channels

    def write(self, data: bytes) -> bool:
        """Send whole frames; False (nothing sent) when the link is gone or closing."""
        writer = self.writer
        if self.lost or writer is None or writer.transport.is_closing():
            return False
        writer.write(data)
        return True

    # -- the transport's side (asyncio.StreamReaderProtocol calls these) -------------------

    def feed_data(self, data: bytes) -> None:  # type: ignore[override]  # typeshed: Buffer
        # ``_pending`` always holds bytes not handed to aiormq yet: the start of a frame whose
        # rest has not arrived. Partial frames are held back whether or not a listener is
        # attached, so attaching or detaching between two reads never splits a frame.
        if data.startswith(wire.PROTOCOL_HEADER_PREFIX) and not self._pending:
            # Not a frame: a broker refusing our protocol version answers with its own protocol
            # header. aiormq reports that clearly; it must see the bytes as they came.
            super().feed_data(data)
            return
        data = self._pending + data if self._pending else data
        passed: list[bytes] = []
        kept = False
        end = len(data)
        offset = 0
        while end - offset >= wire.FRAME_HEADER_SIZE:
            frame_type, channel, size = wire.frame_header(data, offset)
            stop = offset + wire.FRAME_HEADER_SIZE + size
            if stop >= end:
                break  # the frame-end octet is not here yet
            if data[stop] != wire.FRAME_END_BYTE:
                self._protocol_error("frame end octet missing")
                return
            if self._take(frame_type, channel, data[offset + wire.FRAME_HEADER_SIZE:stop]):
                kept = True
            else:
                passed.append(data[offset:stop + 1])
            offset = stop + 1
        self._pending = data[offset:]
        now = self._event_loop.time()
        if passed:
            self._last_passed = now
            super().feed_data(passed[0] if len(passed) == 1 else b"".join(passed))
        elif kept and now - self._last_passed >= HEARTBEAT_PASS_INTERVAL_S:
            self._last_passed = now
            super().feed_data(wire.HEARTBEAT_FRAME)

    def feed_eof(self) -> None:
        self._lose("the connection closed")
        super().feed_eof()

    def set_exception(self, exc: Exception) -> None:
        self._lose(f"the connection failed: {type(exc).__name__}")
        super().set_exception(exc)

    # -- internals -------------------------------------------------------------------------

    def _take(self, frame_type: int, channel: int, payload: bytes) -> bool:
        """Handle one frame; True if it was kept (not for aiormq)."""
        if frame_type == wire.FRAME_METHOD:
            return self._take_method(channel, payload)
        content = self._content.get(channel)
        if content is None or frame_type not in (wire.FRAME_HEADER, wire.FRAME_BODY):
            return False  # not content we saw the method of: aiormq decides
        if frame_type == wire.FRAME_HEADER:
            content.header = payload
            content.expected = wire.body_size(payload)
        else:
            content.received += len(payload)
            if content.listener is not None:
                content.parts.append(payload)
        if content.expected >= 0 and content.received >= content.expected:
            del self._content[channel]
            if content.listener is not None:
                self._complete(content)
        return content.listener is not None

    def _take_method(self, channel: int, payload: bytes) -> bool:
        method = wire.method_id(payload)
        listener = self._listeners.get(channel)
        if listener is not None:
            if method == wire.BASIC_DELIVER:
                tag, delivery_tag, redelivered = wire.deliver_fields(payload)
                owned = tag in listener.consumer_tags
                self._content[channel] = _Content(
                    listener if owned else None, method, delivery_tag, redelivered
                )
                return owned
            if method == wire.BASIC_ACK or method == wire.BASIC_NACK:
                confirmed, multiple = wire.confirm_fields(payload)
                listener.on_confirm(confirmed, multiple, ack=method == wire.BASIC_ACK)
                return True
            if method == wire.BASIC_RETURN:
                code, text = wire.return_fields(payload)
                self._content[channel] = _Content(listener, method, reply_code=code, reply_text=text)
                return True
        elif method in _CONTENT_METHODS:
            self._content[channel] = _Content(None, method)
        self._watch(channel, method, payload)
        return False

    def _complete(self, content: _Content) -> None:
        listener = content.listener
        assert listener is not None
        parts = content.parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        if content.method == wire.BASIC_DELIVER:
            listener.on_deliver(content.delivery_tag, content.redelivered, content.header, body)
        else:
            listener.on_return(content.reply_code, content.reply_text, content.header, body)

    def _watch(self, channel: int, method: tuple[int, int], payload: bytes) -> None:
        """Follow channel opens/closes, blocking and connection close in passing frames."""
        if self._watched:
            for future in self._watched.pop((channel, method), ()):
                if not future.done():
                    future.set_result(None)
        if method == wire.CHANNEL_OPEN_OK:
            self.open_channels.add(channel)
        elif method == wire.CHANNEL_CLOSE or method == wire.CHANNEL_CLOSE_OK:
            self.open_channels.discard(channel)
            self._content.pop(channel, None)
            listener = self._listeners.pop(channel, None)
            if listener is not None:
                if method == wire.CHANNEL_CLOSE:
                    why = f"the broker closed channel {channel}: {wire.close_reason(payload)}"
                else:
                    why = f"channel {channel} was closed"
                listener.on_closed(why)
        elif channel == 0:
            if method == wire.CONNECTION_BLOCKED:
                self.blocked = "the broker blocked publishing (resource alarm)"
            elif method == wire.CONNECTION_UNBLOCKED:
                self.blocked = None
            elif method == wire.CONNECTION_CLOSE:
                self._lose(f"{BROKER_CLOSED}{wire.close_reason(payload)}")

    def _lose(self, why: str) -> None:
        if self.lost:
            return
        self.lost = True
        self.lost_reason = why
        self.open_channels.clear()
        listeners, self._listeners = self._listeners, {}
        self._content.clear()
        for listener in listeners.values():
            listener.on_closed(why)

    def _protocol_error(self, why: str) -> None:
        """Bytes that are not AMQP framing: give up on the link (aiormq closes it)."""
        log.error("AMQP framing error on the connection: %s", why)
        self._lose(f"AMQP framing error: {why}")
        super().set_exception(ConnectionError(f"AMQP framing error: {why}"))
