"""In-process Source and Sink that model what the real brokers do (shipped code, not mocks).

``MemoryQueue`` is the broker-side queue: ready messages, leases, and what was acked/nacked.
``MemorySource`` is one consumer connection on it, like a RabbitMQ channel:

* each ``receive`` leases the next ready message; ``delivery_count`` counts its leases;
* ``ack`` removes it for good; ``nack`` puts it back at the head for redelivery;
* settling is once: later ``ack``/``nack`` calls on the same delivery are no-ops, and so are
  settles on a delivery whose source was closed (its lease is gone, like a stale AMQP tag);
* ``aclose`` gives every unsettled lease back (redelivered to the next consumer) and is
  idempotent;
* a *finite* queue raises ``EndOfSource`` once nothing is ready and nothing is leased;
* with ``lease_s`` a lease also ends on its own, as CMQ's visibility timeout and VOD's confirm
  window do: each delivery's ``info.deadline`` is its end, and an ack after it is void (counted
  in ``MemoryQueue.late_acks``; the message is redelivered).

``MemorySink`` records confirmed messages in order, and its constructor options make it fail
the next N publishes, hold publishes until ``release()``, return given routing keys as
unroutable, or be down until ``set_up()``.

Both take an optional shared ``journal`` list, to which they append ``(action, id)`` pairs
(``publish``/``confirm`` with the message id, ``ack``/``nack`` with the source message id) so a
test can check the order of what happened across source and sink.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
from anyio.lowlevel import checkpoint

from consumer.errors import (
    EndOfSource,
    SinkUnavailableError,
    SourceUnavailableError,
    UnroutableError,
)
from consumer.ports import DeliveryInfo, Destination, OutboundMessage

Journal = list[tuple[str, str]]


class _Signal:
    """Wake every waiter when state changes (an anyio.Event that re-arms itself)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def wait(self) -> None:
        await self._event.wait()


@dataclass(slots=True)
class _Message:
    id: str
    body: bytes
    delivery_count: int = 0


class MemoryQueue:
    """The broker side of a memory source: messages, leases and settlements."""

    def __init__(
        self, bodies: Iterable[bytes] = (), *, finite: bool = False, name: str = "memory"
    ) -> None:
        self.name = name
        self.finite = finite
        self.acked: list[str] = []
        self.nacked: list[str] = []
        self.late_acks = 0  # acks that came after their lease's deadline (lease_s sources)
        self._ids = (f"m{n}" for n in itertools.count(1))
        self._ready: deque[_Message] = deque()
        self._leased: dict[str, _Message] = {}
        self._changed = _Signal()
        for body in bodies:
            self.put(body)

    def put(self, body: bytes) -> str:
        """Enqueue ``body``; returns its message id (``m1``, ``m2``...)."""
        message = _Message(next(self._ids), body)
        self._ready.append(message)
        self._changed.notify()
        return message.id

    @property
    def ready(self) -> int:
        """Messages waiting to be received."""
        return len(self._ready)

    @property
    def leased(self) -> int:
        """Messages received and not settled yet."""
        return len(self._leased)

    async def _lease(self) -> _Message:
        while not self._ready:
            if self.finite and not self._leased:
                raise EndOfSource(f"memory queue {self.name!r} is drained")
            await self._changed.wait()
        message = self._ready.popleft()
        message.delivery_count += 1
        self._leased[message.id] = message
        return message

    def _settle(self, message_id: str, *, requeue: bool) -> None:
        message = self._leased.pop(message_id)
        if requeue:
            self._ready.appendleft(message)
        self._changed.notify()


class MemoryDelivery:
    """One lease of a message from a :class:`MemorySource`."""

    decoded = None  # nothing parsed on the way in: the relay parses the body

    def __init__(self, source: MemorySource, message: _Message) -> None:
        self._source = source
        self.message_id = message.id
        self._body = message.body
        now = datetime.now(UTC)
        lease = source.lease_s
        self._info = DeliveryInfo(
            source=f"memory:{source.queue.name}",
            delivery_id=f"{message.id}#{message.delivery_count}",
            delivery_count=message.delivery_count,
            received_at=now,
            deadline=None if lease is None else now + timedelta(seconds=lease),
        )
        self.settled = False

    @property
    def body(self) -> bytes:
        return self._body

    @property
    def info(self) -> DeliveryInfo:
        return self._info

    async def ack(self) -> None:
        await checkpoint()
        self._source._settle(self, ack=True)

    async def nack(self) -> None:
        await checkpoint()
        self._source._settle(self, ack=False)


class MemorySource:
    """A consumer on a :class:`MemoryQueue` (its own, made from ``bodies``, or a shared one).

    ``fail_receives`` / ``fail_acks``: the next N receives / acks raise
    ``SourceUnavailableError``; a failed ack loses the lease, so the message is redelivered
    (as when a channel dies before the ack reaches RabbitMQ). ``down``: not ``connected``,
    and every receive raises ``SourceUnavailableError``, until ``set_up()`` (a broker outage).
    ``lease_s``: see the module docstring.
    """

    def __init__(
        self,
        bodies: Iterable[bytes] = (),
        *,
        queue: MemoryQueue | None = None,
        finite: bool = False,
        fail_receives: int = 0,
        fail_acks: int = 0,
        journal: Journal | None = None,
        lease_s: float | None = None,
        down: bool = False,
    ) -> None:
        if queue is None:
            queue = MemoryQueue(bodies, finite=finite)
        elif finite or any(True for _ in bodies):
            raise ValueError("pass either bodies/finite or an existing queue, not both")
        self.queue = queue
        self.fail_receives = fail_receives
        self.fail_acks = fail_acks
        self.lease_s = lease_s
        self.down = down
        self._journal = journal
        self._leases: dict[str, MemoryDelivery] = {}
        self._closed = False

    @property
    def acked(self) -> list[str]:
        """Ids of the messages acked on the queue, in order."""
        return self.queue.acked

    @property
    def nacked(self) -> list[str]:
        """Ids of the messages nacked on the queue, in order (one entry per nack)."""
        return self.queue.nacked

    @property
    def connected(self) -> bool:
        return not (self.down or self._closed)

    def set_down(self) -> None:
        self.down = True

    def set_up(self) -> None:
        self.down = False

    async def receive(self) -> MemoryDelivery:
        await checkpoint()
        if self._closed:
            raise SourceUnavailableError("the memory source is closed")
        if self.down:
            raise SourceUnavailableError("the memory source is down")
        if self.fail_receives > 0:
            self.fail_receives -= 1
            raise SourceUnavailableError("memory source: receive failed (fail_receives)")
        message = await self.queue._lease()
        delivery = MemoryDelivery(self, message)
        self._leases[message.id] = delivery
        return delivery

    async def aclose(self) -> None:
        await checkpoint()
        self._closed = True
        for delivery in list(self._leases.values()):
            self._drop(delivery, requeue=True)

    def _settle(self, delivery: MemoryDelivery, *, ack: bool) -> None:
        if delivery.settled or self._leases.get(delivery.message_id) is not delivery:
            return  # settled already, or the lease was given back: a no-op, like the port says
        if ack and self.fail_acks > 0:
            self.fail_acks -= 1
            self._drop(delivery, requeue=True)
            raise SourceUnavailableError(f"memory source: ack of {delivery.message_id} was lost")
        deadline = delivery.info.deadline
        if ack and deadline is not None and datetime.now(UTC) >= deadline:
            self.queue.late_acks += 1  # the lease ended: the ack is void, the message comes back
            self._drop(delivery, requeue=True)
            return
        (self.queue.acked if ack else self.queue.nacked).append(delivery.message_id)
        if self._journal is not None:
            self._journal.append(("ack" if ack else "nack", delivery.message_id))
        self._drop(delivery, requeue=not ack)

    def _drop(self, delivery: MemoryDelivery, *, requeue: bool) -> None:
        delivery.settled = True
        del self._leases[delivery.message_id]
        self.queue._settle(delivery.message_id, requeue=requeue)


@dataclass
class MemorySink:
    """A Sink that confirms into a list, with switches for the ways a broker fails.

    * ``fail_next``: the next N publishes raise ``SinkUnavailableError``;
    * ``block``: publishes wait until ``release()`` (then confirm, or fail if the sink closed);
    * ``unroutable_keys``: EVENTS messages with these routing keys raise ``UnroutableError``
      (PARKING always routes: its queue is bound with ``#``);
    * ``down``: every publish raises ``SinkUnavailableError`` until ``set_up()``.
    """

    fail_next: int = 0
    block: bool = False
    unroutable_keys: Iterable[str] = ()
    down: bool = False
    journal: Journal | None = None
    published: list[OutboundMessage] = field(default_factory=list, init=False)
    attempts: int = field(default=0, init=False)
    waiting: int = field(default=0, init=False)
    max_concurrent: int = field(default=0, init=False)
    _active: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)
    _changed: _Signal = field(default_factory=_Signal, init=False)

    def __post_init__(self) -> None:
        self.unroutable_keys = frozenset(self.unroutable_keys)

    @property
    def connected(self) -> bool:
        return not (self.down or self._closed)

    def published_to(self, destination: Destination) -> list[OutboundMessage]:
        return [m for m in self.published if m.destination is destination]

    def release(self) -> None:
        """Let blocked (and future) publishes through."""
        self.block = False
        self._changed.notify()

    def hold(self) -> None:
        """Make future publishes wait until ``release()``."""
        self.block = True

    def set_down(self) -> None:
        self.down = True

    def set_up(self) -> None:
        self.down = False
        self._changed.notify()

    async def publish(self, message: OutboundMessage) -> None:
        await checkpoint()
        self.attempts += 1
        self._active += 1
        self.max_concurrent = max(self.max_concurrent, self._active)
        try:
            self._record("publish", message)
            self._check_up()
            await self._wait_released()
            self._check_routable(message)
            self.published.append(message)
            self._record("confirm", message)
        finally:
            self._active -= 1

    async def aclose(self) -> None:
        await checkpoint()
        self._closed = True
        self._changed.notify()

    async def _wait_released(self) -> None:
        self.waiting += 1
        try:
            while self.block and not self._closed:
                await self._changed.wait()
        finally:
            self.waiting -= 1

    def _check_up(self) -> None:
        if self._closed:
            raise SinkUnavailableError("the memory sink is closed")
        if self.down:
            raise SinkUnavailableError("the memory sink is down")
        if self.fail_next > 0:
            self.fail_next -= 1
            raise SinkUnavailableError("memory sink: publish not confirmed (fail_next)")

    def _check_routable(self, message: OutboundMessage) -> None:
        if self._closed:
            raise SinkUnavailableError("the memory sink closed before the confirm")
        if (
            message.destination is Destination.EVENTS
            and message.routing_key in self.unroutable_keys
        ):
            raise UnroutableError(f"no queue bound for routing key {message.routing_key!r}")

    def _record(self, action: str, message: OutboundMessage) -> None:
        if self.journal is not None:
            self.journal.append((action, message.message_id))
