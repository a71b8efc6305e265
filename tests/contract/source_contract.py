"""The behaviour every :class:`~consumer.ports.Source` must show, as a reusable test class.

``SourceContract`` is not collected by itself (its name does not start with ``Test``). An
adapter's test module subclasses it and writes one method::

    class TestRabbitSource(SourceContract):
        @asynccontextmanager
        async def make_queue(self, bodies: list[bytes]) -> AsyncIterator[OpenSource]:
            # create a fresh, empty queue holding exactly ``bodies`` ...
            yield lambda: RabbitSource.connect(RabbitSourceOptions(url, name, prefetch=8))
            # ... and delete it afterwards

``make_queue`` yields ``open_source``: a zero-argument async callable that opens a *new*
consumer connection on that queue. The tests call it more than once (to check what a second
consumer sees after the first one acked or closed) and close every source they open.

Optional class attributes for slow transports: ``receive_timeout_s`` (how long a message
that is there may take to arrive), ``redelivery_timeout_s`` (how long a nacked message may
take to come back, e.g. a CMQ visibility timeout) and ``quiet_period_s`` (how long to listen
before concluding that a queue is empty).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, aclosing
from datetime import datetime

import anyio

from consumer.ports import Delivery, Source

OpenSource = Callable[[], Awaitable[Source]]


def unique_bodies(count: int) -> list[bytes]:
    """``count`` distinct JSON bodies, unique per test run (so leftovers can't be confused).

    Compact JSON objects: a source that carries JSON values rather than bytes (VOD's EventSet)
    gives them back byte for byte only in this form.
    """
    run = uuid.uuid4().hex
    return [f'{{"contract":"{run}","n":{n}}}'.encode() for n in range(count)]


class SourceContract:
    """Tests for a Source adapter; subclasses provide :meth:`make_queue`."""

    receive_timeout_s: float = 5.0
    redelivery_timeout_s: float = 5.0
    quiet_period_s: float = 0.5

    def make_queue(self, bodies: list[bytes]) -> AbstractAsyncContextManager[OpenSource]:
        raise NotImplementedError("a SourceContract subclass must implement make_queue")

    async def receive(self, source: Source, timeout_s: float | None = None) -> Delivery:
        with anyio.fail_after(timeout_s or self.receive_timeout_s):
            return await source.receive()

    async def assert_empty(self, source: Source) -> None:
        with anyio.move_on_after(self.quiet_period_s):
            delivery = await source.receive()
            raise AssertionError(f"expected no message, got {delivery.body!r}")

    async def test_receive_yields_every_body(self) -> None:
        """Every message in the queue is received once, body unchanged."""
        bodies = unique_bodies(3)
        async with self.make_queue(bodies) as open_source, aclosing(await open_source()) as source:
            got = [await self.receive(source) for _ in bodies]
            for delivery in got:
                await delivery.ack()
        assert sorted(d.body for d in got) == sorted(bodies)

    async def test_ack_removes_the_message_for_good(self) -> None:
        """An acked message is not delivered again, even to a new consumer."""
        async with self.make_queue(unique_bodies(1)) as open_source:
            async with aclosing(await open_source()) as source:
                await (await self.receive(source)).ack()
                await self.assert_empty(source)
            async with aclosing(await open_source()) as again:
                await self.assert_empty(again)

    async def test_nacked_message_is_redelivered_with_the_same_body(self) -> None:
        """A nacked message comes back, unchanged, with a higher delivery count."""
        bodies = unique_bodies(1)
        async with self.make_queue(bodies) as open_source, aclosing(await open_source()) as source:
            first = await self.receive(source)
            await first.nack()
            second = await self.receive(source, self.redelivery_timeout_s)
            await second.ack()
        assert (first.body, second.body) == (bodies[0], bodies[0])
        assert first.info.delivery_count == 1
        assert second.info.delivery_count >= 2

    async def test_unsettled_message_is_redelivered_after_close(self) -> None:
        """Closing a source with an unsettled delivery gives it back to the next consumer."""
        bodies = unique_bodies(1)
        async with self.make_queue(bodies) as open_source:
            async with aclosing(await open_source()) as source:
                await self.receive(source)
            async with aclosing(await open_source()) as again:
                redelivered = await self.receive(again, self.redelivery_timeout_s)
                await redelivered.ack()
        assert redelivered.body == bodies[0]
        assert redelivered.info.delivery_count >= 2

    async def test_settling_twice_is_harmless(self) -> None:
        """A second ack, or a nack after an ack, is a no-op: no error, no redelivery."""
        async with self.make_queue(unique_bodies(1)) as open_source:
            async with aclosing(await open_source()) as source:
                delivery = await self.receive(source)
                await delivery.ack()
                await delivery.ack()
                await delivery.nack()
                await self.assert_empty(source)
            async with aclosing(await open_source()) as again:
                await self.assert_empty(again)

    async def test_aclose_is_idempotent(self) -> None:
        """Closing a source twice raises nothing."""
        async with self.make_queue(unique_bodies(1)) as open_source:
            source = await open_source()
            await source.aclose()
            await source.aclose()

    async def test_delivery_info_describes_the_delivery(self) -> None:
        """Each delivery names its source and id and carries an aware receive time."""
        async with (
            self.make_queue(unique_bodies(1)) as open_source,
            aclosing(await open_source()) as source,
        ):
            delivery = await self.receive(source)
            await delivery.ack()
        info = delivery.info
        assert info.source
        assert info.delivery_id
        assert isinstance(info.received_at, datetime)
        assert info.received_at.tzinfo is not None

    async def test_concurrent_receivers_share_the_deliveries_without_loss_or_duplicates(
        self,
    ) -> None:
        """Eight tasks wait in receive() at once on a drained queue; five messages come back
        (nacked): one goes to each of five tasks, the three left waiting are cancelled, and the
        source keeps working afterwards."""
        bodies = unique_bodies(5)
        got: list[Delivery] = []
        async with (
            self.make_queue(bodies) as open_source,
            aclosing(await open_source()) as source,
        ):
            taken = [await self.receive(source) for _ in bodies]
            all_received = anyio.Event()

            async def receiver() -> None:
                got.append(await source.receive())
                if len(got) == len(bodies):
                    all_received.set()

            with anyio.fail_after(self.receive_timeout_s + self.redelivery_timeout_s):
                async with anyio.create_task_group() as group:
                    for _ in range(8):
                        group.start_soon(receiver)
                    await anyio.sleep(0.05)  # every receiver is waiting before anything returns
                    for delivery in taken:
                        await delivery.nack()
                    await all_received.wait()
                    group.cancel_scope.cancel()  # the three receivers still waiting
            for delivery in got:
                await delivery.ack()
            await self.assert_empty(source)
        assert sorted(d.body for d in got) == sorted(bodies)

    async def test_receivers_cancelled_as_the_source_closes_end_quietly(self) -> None:
        """Waiting receivers cancelled in the same instant the source closes (what a shutdown
        does): each ends with its cancellation, none with an error of the source's own."""
        async with self.make_queue([]) as open_source:
            source = await open_source()
            started: list[None] = []
            all_started = anyio.Event()

            async def receiver() -> None:
                started.append(None)
                if len(started) == 8:
                    all_started.set()
                await source.receive()

            with anyio.fail_after(self.receive_timeout_s):
                async with anyio.create_task_group() as group:
                    for _ in range(8):
                        group.start_soon(receiver)
                    await all_started.wait()
                    await anyio.sleep(0.05)  # all eight are inside receive()
                    group.cancel_scope.cancel()
                    # Closing starts before the cancelled receivers get to run; shielded, as a
                    # service closes its source outside the cancelled scope.
                    with anyio.CancelScope(shield=True):
                        await source.aclose()
