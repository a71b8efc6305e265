"""The private RabbitMQ node is a node of its own, and its absence fails tests loudly."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.integration.broker import admin_channel, unique
from tests.private_broker import PrivateBroker, PrivateBrokerError, private_broker

SHARED_NODE = "rabbit@localhost"  # the shared node's name on this machine kind


async def test_private_node_serves_amqp_and_cannot_reach_the_shared_node(
    private_rabbitmq: PrivateBroker,
) -> None:
    """Its rabbitmqctl environment (own cookie, own epmd) finds no other node, not even the
    shared one by name; AMQP clients reach it at its own port."""
    node = private_rabbitmq
    with anyio.fail_after(60):
        reached = await anyio.run_process(
            [node.rabbitmqctl, "-n", SHARED_NODE, "-q", "eval", "node()."], env=dict(node.env),
            check=False,
        )
    queue = unique("private")
    async with admin_channel(node.url) as admin:
        declared = await admin.queue_declare(queue, exclusive=True)
    assert node.ctl("eval", "node().").strip() == node.node
    assert reached.returncode != 0, reached.stdout
    assert node.amqp_port != 5672
    assert declared.queue == queue


def test_missing_rabbitmq_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No rabbitmq-server: an error naming what is missing (the fixture turns it into a
    failure, never a skip)."""
    monkeypatch.setenv("MEDIA_BRIDGE_TEST_RABBITMQ_SBIN", str(tmp_path))
    with pytest.raises(PrivateBrokerError, match="rabbitmq-server is not installed"), (
        private_broker()
    ):
        pass
