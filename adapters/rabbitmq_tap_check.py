"""``TapGuard``: proves, on every connection and after every reconnect, that the frame tap reads it.

The tap reaches aiormq through ``transport_factory``, which aio-pika passes on from
``connection.kwargs``: aiormq documents the argument, aio-pika does not document passing it on.
If a release stopped doing so (or aiormq changed how it calls the factory, or stopped reading
through the reader it returns), the tap would not be there and the adapters would wait for a
channel it never reports. So before an adapter uses a channel instance the guard proves:

1. a new link was built by our factory (it was called since the previous link, with the
   arguments it was verified with);
2. a live tap saw that channel open on its link (Channel.OpenOk);
3. the tap saw the broker's reply to a round trip made on the channel now (``basic.qos``,
   harmless to repeat) before aiormq handed it back.

If any of these fails the guard logs one line that names the installed and the verified
versions and says "running on the plain AMQP path", and answers None from then on: the
adapter switches to aio-pika's public API for good. An upgrade that breaks the tap costs
speed, never correctness. When the link goes away during the check, nothing is concluded
(:class:`TapUnsure`): the next channel is checked again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import metadata

import aiormq.exceptions
import anyio

from adapters import amqp_wire as wire
from adapters.rabbitmq_tap import FrameTap
from adapters.rabbitmq_transport import TappedTransportFactory

log = logging.getLogger(__name__)

# The versions the tap, ack and confirm code were verified with (constraints.txt pins them;
# tests/test_tap_self_check.py keeps the two in step).
VERIFIED_WITH = {"aio-pika": "10.2.1", "aiormq": "7.2.4", "pamqp": "4.0.1"}
PLAIN_PATH = "running on the plain AMQP path"

RoundTrip = Callable[[aiormq.abc.AbstractChannel], Awaitable[object]]


class TapUnsure(Exception):  # noqa: N818 - a verdict, not a failure
    """The link went away while the guard was looking; ask again for the next channel."""


def installed_versions() -> str:
    return ", ".join(f"{name} {_version(name)}" for name in VERIFIED_WITH)


def verified_versions() -> str:
    return ", ".join(f"{name} {version}" for name, version in VERIFIED_WITH.items())


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"


class TapGuard:
    """One per connection; ``role`` ("source", "sink") names it in the log.

    ``transport`` None means the plain path was asked for (``amqp.fast_path = false``).
    """

    def __init__(self, transport: TappedTransportFactory | None, role: str) -> None:
        self.plain = transport is None
        self._transport = transport
        self._role = role
        self._verified: aiormq.abc.AbstractChannel | None = None
        self._link: object = None  # the aiormq connection of the last verified channel
        self._built = 0  # taps the factory had built when that link was verified
        self._versions_noted = False
        self._lock = anyio.Lock()

    async def tap_for(
        self, channel: aiormq.abc.AbstractChannel, round_trip: RoundTrip
    ) -> FrameTap | None:
        """The tap carrying ``channel``; None once the adapter must use the plain path.

        Raises:
            TapUnsure: the link is going away; nothing was concluded.
        """
        transport = self._transport
        if self.plain or transport is None:
            return None
        async with self._lock:
            if self.plain:
                return None
            if channel is not self._verified:
                failure = await self._prove(transport, channel, round_trip)
                if failure is not None:
                    self._give_up(failure)
                    return None
                self._verified = channel
            tap = transport.tap_for(channel)
            if tap is None:
                raise TapUnsure
            return tap

    async def _prove(
        self, transport: TappedTransportFactory, channel: aiormq.abc.AbstractChannel,
        round_trip: RoundTrip,
    ) -> str | None:
        """None when the tap carries ``channel``, else why not (see the module docstring)."""
        if channel.is_closed:
            raise TapUnsure
        if transport.declined is not None:
            return transport.declined
        new_link = channel.connection is not self._link
        if new_link and transport.created == self._built:
            return (
                "aiormq opened it without calling the transport factory, so aio-pika did not "
                "pass connection.kwargs on"
            )
        tap = transport.tap_for(channel)
        if tap is None:
            newest = transport.newest
            if channel.is_closed or (newest is not None and newest.lost):
                raise TapUnsure
            return f"no live frame tap saw channel {channel.number} open"
        seen = tap.watch_for(channel.number, wire.BASIC_QOS_OK)
        try:
            await round_trip(channel)
        except (aiormq.exceptions.AMQPError, ConnectionError, OSError, RuntimeError):
            raise TapUnsure from None
        if not seen.done():
            return f"the frame tap did not see the broker's reply on channel {channel.number}"
        self._link, self._built = channel.connection, transport.created
        self._note_unverified_versions()
        return None

    def _give_up(self, why: str) -> None:
        self.plain = True  # for good: this is the one line this connection logs about it
        log.warning(
            "RabbitMQ frame tap not attached to the %s connection: %s; installed %s, the tap "
            "was verified with %s; %s (correct, but slower)",
            self._role, why, installed_versions(), verified_versions(), PLAIN_PATH,
            extra={"installed": installed_versions(), "verified": verified_versions()},
        )

    def _note_unverified_versions(self) -> None:
        if self._versions_noted or installed_versions() == verified_versions():
            return
        self._versions_noted = True
        log.warning(
            "RabbitMQ frame tap attached with %s, which it was not verified with (%s); set "
            "amqp.fast_path = false if the RabbitMQ adapters misbehave",
            installed_versions(), verified_versions(),
        )
