"""Session-wide fixtures: the shared RabbitMQ left as found, and the private node for the rest.

The broker at ``MEDIA_BRIDGE_TEST_AMQP_URL`` is used by other people. When a session runs any
``rabbitmq`` test, it records the node's memory watermark and declares a queue standing for
another user's (durable, one message) in the tests' vhost; at the end the watermark must be
unchanged, that queue untouched, and nothing this session declared (names carrying its
``RUN`` token) left in the vhost. Anything left is deleted, and the session fails.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import aiormq
import pytest
import pytest_asyncio

from tests.integration.broker import RUN, SHARED, VHOST, admin_channel
from tests.private_broker import PrivateBroker, PrivateBrokerError, private_broker

PROBE = f"mb-other-user-probe.{RUN}"
PROBE_BODY = b"another user's message"


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """Tests that run ``media-bridge run`` in-process configure logging for the process: its
    handler writes to that test's captured stderr, which is closed after the test. Put the
    root logger (and the levels ``configure_logging`` sets) back, so a later test's log
    records don't end up as "Logging error ... I/O operation on closed file" in its stderr."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    for name, was in named.items():
        logging.getLogger(name).setLevel(was)


@pytest.fixture(autouse=True)
def _shared_broker_check(request: pytest.FixtureRequest) -> None:
    # Only sessions that talk to the broker pay for (and depend on) the check.
    if request.node.get_closest_marker("rabbitmq") is not None:
        request.getfixturevalue("shared_broker_left_as_found")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_broker_left_as_found() -> AsyncIterator[None]:
    watermark = _watermark()
    async with admin_channel() as admin:
        await admin.queue_declare(PROBE, durable=True)
        await admin.basic_publish(
            PROBE_BODY, routing_key=PROBE, properties=aiormq.spec.Basic.Properties(delivery_mode=2)
        )
    yield
    try:
        async with admin_channel() as admin:
            probe = await admin.queue_declare(PROBE, passive=True)
            taken = await admin.basic_get(PROBE, no_ack=True)
            found: tuple[int | None, int | None, bytes] | None = (
                probe.message_count, probe.consumer_count, taken.body
            )
    except aiormq.exceptions.ChannelNotFoundEntity:
        found = None  # deleted
    async with admin_channel() as admin:
        await admin.queue_delete(PROBE)
        leftovers = _declared_by_this_session()
        for kind, name in leftovers:
            await (admin.queue_delete(name) if kind == "queue" else admin.exchange_delete(name))
    assert _watermark() == watermark, "the shared node's memory watermark was changed"
    assert found == (1, 0, PROBE_BODY), f"another user's queue was touched: {found}"
    assert not leftovers, f"left in vhost {VHOST} by this session (now deleted): {leftovers}"


def _watermark() -> str:
    return SHARED.ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()


def _declared_by_this_session() -> list[tuple[str, str]]:
    ours = f".{RUN}."
    found = []
    for kind in ("queue", "exchange"):
        names = SHARED.ctl(f"list_{kind}s", "-p", VHOST, "name").splitlines()
        found += [(kind, name) for name in names if name.startswith("test.") and ours in name]
    return found


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[PrivateBroker]:
    """A RabbitMQ node of this test session's own (memory alarms, restarts, killed links).

    Started on first use, once per session (one node for every directory that needs one, ~150
    MB each); stopped and its files removed at the end, also when tests failed. Without
    rabbitmq-server installed the tests using it *fail*: skipped, they would count as passing
    while proving nothing.
    """
    failure = None
    try:
        with private_broker() as broker:
            yield broker
    except PrivateBrokerError as exc:
        failure = f"private RabbitMQ node: {exc}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)
