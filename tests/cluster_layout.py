"""Where a test cluster lives (``tests.cluster_broker``): its node names, ports and dir, the
defaults of the hand-run one (``scripts/rabbitmq-cluster``) and the checks that keep it away
from the machine's shared node."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.private_broker import PrivateBrokerError, free_ports

SIZE = 3
# Three nodes booting at once on 2 busy cores take far longer than one.
START_TIMEOUT_S = 180.0
# Defaults of the hand-run cluster (environment variables override them).
DEFAULT_DIR = "/tmp/mb-rabbitmq-cluster"
DEFAULT_NAME = "mb-cluster"
DEFAULT_AMQP_PORTS = (5701, 5702, 5703)
DEFAULT_DIST_PORTS = (25701, 25702, 25703)
DEFAULT_EPMD_PORT = 4379
# The shared node's ports (AMQP, distribution, epmd, management): never ours.
_SHARED_PORTS = {5672, 25672, 4369, 15672}
# Every node keeps a smaller Raft write-ahead log in memory (512 MB by default) before it is
# flushed, so that three nodes fit in a few hundred MB under a 30,000-message test. (The
# schedulers' busy-waiting is off already: rabbitmq-defaults passes +sbwt none.)
CONFIG_LINES = ("raft.wal_max_size_bytes = 64000000",)
STATE_FILE = "cluster.json"


class ClusterError(PrivateBrokerError):
    """The cluster (or one of its nodes) could not be started, stopped or reached."""


@dataclass(frozen=True)
class Layout:
    """Where the cluster lives: its dir, node names, ports. Saved as ``base/cluster.json``."""

    base: str
    names: tuple[str, ...]
    amqp_ports: tuple[int, ...]
    dist_ports: tuple[int, ...]
    epmd_port: int

    @classmethod
    def from_environment(cls) -> Layout:
        """The hand-run cluster's layout: defaults, or ``MEDIA_BRIDGE_TEST_CLUSTER_*`` variables."""
        name = os.environ.get("MEDIA_BRIDGE_TEST_CLUSTER_NAME", DEFAULT_NAME)
        return cls(
            base=os.path.abspath(os.environ.get("MEDIA_BRIDGE_TEST_CLUSTER_DIR", DEFAULT_DIR)),
            names=tuple(f"{name}-{n}@localhost" for n in range(1, SIZE + 1)),
            amqp_ports=_ports("MEDIA_BRIDGE_TEST_CLUSTER_AMQP_PORTS", DEFAULT_AMQP_PORTS),
            dist_ports=_ports("MEDIA_BRIDGE_TEST_CLUSTER_DIST_PORTS", DEFAULT_DIST_PORTS),
            epmd_port=int(os.environ.get("MEDIA_BRIDGE_TEST_CLUSTER_EPMD_PORT", DEFAULT_EPMD_PORT)),
        )

    @classmethod
    def temporary(cls) -> Layout:
        """A test session's layout: a fresh temporary dir, free ports, names no other has."""
        base = tempfile.mkdtemp(prefix="mb-cluster-")
        token = f"mbc{os.getpid()}{secrets.token_hex(2)}"
        ports = free_ports(2 * SIZE + 1)
        return cls(
            base=base,
            names=tuple(f"{token}-{n}@localhost" for n in range(1, SIZE + 1)),
            amqp_ports=tuple(ports[:SIZE]),
            dist_ports=tuple(ports[SIZE : 2 * SIZE]),
            epmd_port=ports[-1],
        )

    @classmethod
    def load(cls, base: str) -> Layout | None:
        try:
            saved = json.loads((Path(base) / STATE_FILE).read_text())
        except FileNotFoundError:
            return None
        return cls(
            base=saved["base"], names=tuple(saved["names"]),
            amqp_ports=tuple(saved["amqp_ports"]), dist_ports=tuple(saved["dist_ports"]),
            epmd_port=int(saved["epmd_port"]),
        )

    def save(self) -> None:
        (Path(self.base) / STATE_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    def check(self) -> None:
        """Refuse a layout that could reach the shared node or that reuses a port."""
        ports = [*self.amqp_ports, *self.dist_ports, self.epmd_port]
        if len(self.names) != SIZE or len(self.amqp_ports) != SIZE or len(self.dist_ports) != SIZE:
            raise ClusterError(f"a cluster here has {SIZE} nodes: {self}")
        if shared := _SHARED_PORTS.intersection(ports):
            raise ClusterError(f"ports {sorted(shared)} belong to the shared RabbitMQ node")
        if len(set(ports)) != len(ports):
            raise ClusterError(f"ports must all differ: {ports}")
        if any(name.split("@")[0] == "rabbit" for name in self.names):
            raise ClusterError("rabbit@... is the shared node's name")


def _ports(variable: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = os.environ.get(variable)
    if not value:
        return default
    return tuple(int(part) for part in value.split(","))
