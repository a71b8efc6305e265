"""Fixtures for the integration tests: the private RabbitMQ node for broker-wide changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.private_broker import PrivateBroker, PrivateBrokerError, private_broker


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[PrivateBroker]:
    """A RabbitMQ node of this test session's own (memory alarms, restarts, killed links).

    Started on first use, once per session; stopped and its files removed at the end, also
    when tests failed. Without rabbitmq-server installed the tests using it *fail*: skipped,
    they would count as passing while proving nothing.
    """
    failure = None
    try:
        with private_broker() as broker:
            yield broker
    except PrivateBrokerError as exc:
        failure = f"private RabbitMQ node: {exc}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)
