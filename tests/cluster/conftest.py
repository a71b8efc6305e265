"""The session's three-node RabbitMQ cluster (``tests/cluster_broker.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.cluster.timings import TIMING_LINES, Timings
from tests.cluster_broker import Cluster, cluster
from tests.private_broker import PrivateBrokerError


@pytest.fixture(scope="session")
def rabbitmq_cluster() -> Iterator[Cluster]:
    """Three nodes of this session's own, clustered; started on first use, stopped and their
    files removed at the end (also when tests failed). Each test leaves all three running.

    Without rabbitmq-server (or epmd) installed the tests *fail*: skipped, they would count as
    passing while proving nothing.
    """
    failure = None
    try:
        with cluster() as nodes:
            yield nodes
    except PrivateBrokerError as exc:
        failure = f"RabbitMQ cluster: {exc}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)


@pytest.fixture
def all_nodes_up(rabbitmq_cluster: Cluster) -> Iterator[Cluster]:
    """The cluster, with every node running and clustered before and after the test (a test
    that failed half-way through a node's outage must not leave the next test one short)."""
    _bring_up(rabbitmq_cluster)
    yield rabbitmq_cluster
    _bring_up(rabbitmq_cluster)


def _bring_up(nodes: Cluster) -> None:
    for n in range(1, len(nodes.nodes) + 1):
        nodes.start_node(n)
    nodes.wait_clustered()




@pytest.fixture
def timings(request: pytest.FixtureRequest) -> Iterator[Timings]:
    recorder = Timings(request.node.name)
    yield recorder
    recorder.note(f"total {time.monotonic() - recorder.started:.1f} s")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMING_LINES:
        terminalreporter.section("cluster test timings")
        for line in TIMING_LINES:
            terminalreporter.write_line(line)
