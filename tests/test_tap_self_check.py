"""The frame tap's self-check: attached on every connection and after every reconnect, or one
clear line and a working plain path (real RabbitMQ, the tap's installation broken on purpose)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiormq
import anyio
import pytest
from aio_pika.abc import UnderlayConnection

from adapters.rabbitmq import RabbitSink, RabbitSinkOptions, RabbitSource, RabbitSourceOptions
from adapters.rabbitmq_tap_check import PLAIN_PATH, VERIFIED_WITH, installed_versions
from consumer.ports import Destination, OutboundMessage
from tests.integration.broker import (
    AMQP_URL,
    admin_channel,
    close_connections,
    delete_all,
    put,
    take,
    unique,
)
from tests.samples import REPO_ROOT
from tests.tap_breakage import FORGETFUL, NEW_ARGUMENT

CHECK_LOGGER = "adapters.rabbitmq_tap_check"


def test_the_versions_the_check_names_as_verified_are_the_ones_constraints_pin() -> None:
    """The line says "verified with" these: constraints.txt must install exactly them."""
    pins = dict(
        line.split("==", 1)
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert {name: pins.get(name) for name in VERIFIED_WITH} == VERIFIED_WITH


@dataclass
class Bridge:
    """A source and a sink on fresh broker objects, and the admin channel to look at them."""

    source: RabbitSource
    sink: RabbitSink
    admin: aiormq.Channel
    source_queue: str
    output: str

    async def relays_one(self, n: int) -> None:
        """One message in at the source, received and acked; one event out through the sink."""
        await put(self.admin, self.source_queue, [f"in-{n}".encode()])
        with anyio.fail_after(10):
            delivery = await self.source.receive()
        await self.sink.publish(_event(f"out-{n}"))
        await delivery.ack()
        [got] = await take(self.admin, self.output, 1)
        assert (delivery.body, got.header.properties.message_id) == (f"in-{n}".encode(), f"out-{n}")


def _event(message_id: str) -> OutboundMessage:
    return OutboundMessage(
        Destination.EVENTS, "check.event", b"{}", message_id, "application/json", "check.v1",
        {"ce-id": message_id},
    )


@asynccontextmanager
async def bridge() -> AsyncIterator[Bridge]:
    source_queue, events, parking, output = (
        unique("source"), unique("events"), unique("parking"), unique("output")
    )
    async with admin_channel() as admin:
        try:
            await admin.queue_declare(source_queue, durable=True)
            sink = await RabbitSink.connect(
                RabbitSinkOptions(AMQP_URL, events, parking_exchange=parking, parking_queue=parking)
            )
            try:
                await admin.queue_declare(output, durable=True)
                await admin.queue_bind(output, events, routing_key="#")
                source = await RabbitSource.connect(RabbitSourceOptions(AMQP_URL, queue=source_queue))
                try:
                    yield Bridge(source, sink, admin, source_queue, output)
                finally:
                    await source.aclose()
            finally:
                await sink.aclose()
        finally:
            await delete_all(admin, [source_queue, output, parking], [events, parking])


def check_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == CHECK_LOGGER and r.levelno >= logging.WARNING]


@pytest.mark.rabbitmq
async def test_a_healthy_install_runs_on_the_tap_and_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with bridge() as running:
        await running.relays_one(1)
        paths = running.source.fast_path, running.sink.fast_path
    assert paths == (True, True)
    assert check_lines(caplog) == []


@pytest.mark.rabbitmq
@pytest.mark.parametrize(
    ("breakage", "why"),
    [
        (FORGETFUL, "without calling the transport factory"),
        (NEW_ARGUMENT, "unverified arguments: happy_eyeballs_delay"),
    ],
    ids=["aio-pika stops passing the factory on", "aiormq calls it with a new argument"],
)
async def test_a_broken_installation_is_one_clear_line_per_connection_and_a_working_plain_path(
    breakage: object, why: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the tap the bridge neither hangs nor exits "broker unreachable": each connection
    logs one WARNING naming the versions and the plain path, and messages still flow."""
    monkeypatch.setattr(UnderlayConnection, "make_connection", breakage)
    caplog.set_level(logging.INFO)
    async with bridge() as running:
        await running.relays_one(1)
        await running.relays_one(2)
        paths = running.source.fast_path, running.sink.fast_path
    lines = check_lines(caplog)
    assert paths == (False, False)
    assert sorted(_role(r) for r in lines) == ["sink", "source"]
    for record in lines:
        text = record.getMessage()
        assert why in text
        assert installed_versions() in text
        assert text.count("\n") == 0
        assert PLAIN_PATH in text


@pytest.mark.rabbitmq
async def test_a_tap_missing_after_a_reconnect_puts_that_connection_on_the_plain_path(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The check runs again after every reconnect: tapped first, then aio-pika reconnects
    without the factory; each connection says so once and keeps relaying."""
    async with bridge() as running:
        await running.relays_one(1)
        tapped = running.source.fast_path, running.sink.fast_path
        monkeypatch.setattr(UnderlayConnection, "make_connection", FORGETFUL)
        assert close_connections(f'{os.uname().nodename}:{os.getpid()}"') == 2
        with anyio.fail_after(15):
            while running.source.fast_path or running.sink.fast_path:  # noqa: ASYNC110
                await anyio.sleep(0.05)  # the check runs right after aio-pika reconnected
        await running.relays_one(2)
    assert tapped == (True, True)
    assert sorted(_role(r) for r in check_lines(caplog)) == ["sink", "source"]


def _role(record: logging.LogRecord) -> str:
    found = re.search(r"attached to the (\w+) connection", record.getMessage())
    return found.group(1) if found else "?"


@pytest.mark.rabbitmq
async def test_a_tap_attached_under_other_versions_than_verified_runs_on_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Attached is not verified: the tap keeps working, and each connection says once which
    versions it runs with and how to leave the fast path."""
    monkeypatch.setitem(VERIFIED_WITH, "aiormq", "7.2.0")
    async with bridge() as running:
        await running.relays_one(1)
        await running.relays_one(2)
        paths = running.source.fast_path, running.sink.fast_path
    lines = [r.getMessage() for r in check_lines(caplog)]
    assert paths == (True, True)
    assert len(lines) == 2
    assert all("aiormq 7.2.0" in line and "amqp.fast_path = false" in line for line in lines)
