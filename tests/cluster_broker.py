"""A three-node RabbitMQ cluster on this machine, for scale-out and failover tests (issue #12).

Each node is a private node as ``tests/private_broker.py`` makes one (own name, AMQP and
distribution ports, data/log dirs, config files, no plugins, ``rabbitmqctl`` that can only
reach it); the three share one Erlang cookie (one ``HOME``) and one private epmd, which is
what lets them cluster and what keeps every ``rabbitmqctl`` call made here away from the
machine's shared node (``rabbit@localhost`` on 5672). Nodes 2 and 3 join node 1 with
``rabbitmqctl join_cluster``.

Two ways to use it:

* tests: ``with cluster() as nodes:`` starts a cluster on free ports in a temporary dir, owned
  by this process (its nodes and epmd get SIGTERM should this process die without its
  teardown), and stops it and removes its files on the way out;
* by hand: ``scripts/rabbitmq-cluster start|stop|status|urls|kill N|stop-node N|start-node N|
  restart N`` (``python -m tests.cluster_broker``). Its nodes outlive the command; the layout
  (names, ports, dirs) is kept in ``$MEDIA_BRIDGE_TEST_CLUSTER_DIR/cluster.json`` for the next one.

Nodes are numbered 1-3 everywhere (as in ``mb-cluster-1@localhost``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.private_broker import (
    STOP_TIMEOUT_S,
    PrivateBroker,
    PrivateBrokerError,
    await_startup,
    end_process,
    find_epmd,
    find_script,
    free_ports,
    node_environment,
    run_cli,
    start_epmd,
    start_server,
    write_home,
)

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
_CONFIG_LINES = ("raft.wal_max_size_bytes = 64000000",)
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


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the node binds it: a port a stopped node left in TIME_WAIT is free for it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(variable: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = os.environ.get(variable)
    if not value:
        return default
    return tuple(int(part) for part in value.split(","))


class Cluster:
    """Three nodes of one layout. ``owned``: started by (and ended with) this process."""

    def __init__(self, layout: Layout, *, owned: bool) -> None:
        layout.check()
        self.layout = layout
        self.owned = owned
        self.base = Path(layout.base)
        self._home = self.base / "home"
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._epmd: subprocess.Popen[bytes] | None = None
        self._rabbitmqctl = find_script("rabbitmqctl")
        self._queues_cli = find_script("rabbitmq-queues")
        self.nodes = [self._node(n) for n in range(1, SIZE + 1)]

    def _node(self, n: int) -> PrivateBroker:
        base = self.base / f"node{n}"
        base.mkdir(parents=True, exist_ok=True)
        env = node_environment(
            base, self.layout.names[n - 1], self.layout.amqp_ports[n - 1],
            self.layout.dist_ports[n - 1], self.layout.epmd_port, home=self._home,
            config_lines=_CONFIG_LINES,
        )
        return PrivateBroker(
            self.layout.names[n - 1], self.layout.amqp_ports[n - 1], base, env, self._rabbitmqctl
        )

    # -- what clients and tests read -------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        """Every node's AMQP URL, node 1 first."""
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The URLs comma-separated, as ``MEDIA_BRIDGE_SOURCE__URL``/``SINK__URL`` take them."""
        return ",".join(self.urls)

    def node(self, n: int) -> PrivateBroker:
        if not 1 <= n <= SIZE:
            raise ClusterError(f"nodes are numbered 1-{SIZE}, not {n}")
        return self.nodes[n - 1]

    def ctl(self, n: int, *args: str, timeout_s: float = 60.0) -> str:
        """``rabbitmqctl -n NODE_n -q ARGS``; its stdout."""
        return self.node(n).ctl(*args, timeout_s=timeout_s)

    def queues_ctl(self, n: int, *args: str, timeout_s: float = 60.0) -> str:
        """``rabbitmq-queues -n NODE_n -q ARGS``; its stdout."""
        node = self.node(n)
        return run_cli(self._queues_cli, node.node, node.env, *args, timeout_s=timeout_s)

    def beam_pid(self, n: int) -> int | None:
        """The node's Erlang VM while it runs (from its pid file, checked against /proc)."""
        self._reap(n)
        try:
            pid = int((self.node(n).base / "rabbitmq.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._is_beam(n, pid) else None

    def _is_beam(self, n: int, pid: int) -> bool:
        """Whether ``pid`` is node ``n``'s VM and still runs (not a zombie, not a new process
        that got the number)."""
        self._reap(n)
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
            # The node name is not on the VM's command line; it is in the environment it got.
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return False
        ours = f"RABBITMQ_NODENAME={self.node(n).node}".encode() in environ
        return state not in ("Z", "X") and ours

    def running(self, n: int) -> bool:
        return self.beam_pid(n) is not None

    def running_nodes(self, n: int = 1, timeout_s: float = 30.0) -> set[str]:
        """The cluster's running nodes, as node ``n`` sees them."""
        status = json.loads(self.ctl(n, "cluster_status", "--formatter", "json", timeout_s=timeout_s))
        return set(status.get("running_nodes", []))

    # -- the whole cluster -----------------------------------------------------------------

    def start(self) -> None:
        """Start the cluster: a new one is created and joined; an existing stopped one has all
        its nodes started at once (a node that was not the last to stop waits at boot for the
        others, so they must boot together)."""
        find_epmd()
        find_script("rabbitmq-server")
        created = not (self._home / ".erlang.cookie").exists()
        if created:
            write_home(self._home)
            self.layout.save()
        self._ensure_epmd()
        stopped = [n for n in range(1, SIZE + 1) if not self.running(n)]
        busy = [
            port for n in stopped
            for port in (self.layout.amqp_ports[n - 1], self.layout.dist_ports[n - 1])
            if not _port_free(port)
        ]
        if busy:
            raise ClusterError(f"ports {busy} are in use by another process")
        for n in stopped:
            self._spawn(n)
        for n in stopped:
            self._await(n)
        if created:
            for n in range(2, SIZE + 1):
                self.ctl(n, "stop_app")
                self.ctl(n, "join_cluster", self.layout.names[0])
                self.ctl(n, "start_app")
        self.wait_clustered()

    def wait_clustered(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Until every node runs and each counts all of them as running cluster members."""
        deadline = time.monotonic() + timeout_s
        want = set(self.layout.names)
        while True:
            problem = ""
            for n in range(1, SIZE + 1):
                try:
                    seen = self.running_nodes(n, timeout_s=15)
                except (PrivateBrokerError, ValueError) as exc:
                    problem = f"node {n}: {exc}"
                    break
                if seen != want:
                    problem = f"node {n} sees {sorted(seen)} running"
                    break
            if not problem:
                return
            if time.monotonic() >= deadline:
                raise ClusterError(f"the cluster did not form in {timeout_s:.0f} s: {problem}")
            time.sleep(0.5)  # a retry pause: the next cluster_status re-checks

    def destroy(self) -> None:
        """Stop every node (gracefully, then by force) and epmd, and remove the files."""
        try:
            for n in range(SIZE, 0, -1):
                with suppress(PrivateBrokerError):
                    self.stop_node(n)
                if self.running(n):  # a stop that failed: don't leave the node behind
                    self.kill(n)
        finally:
            self._stop_epmd()
            shutil.rmtree(self.base, ignore_errors=True)

    def status(self) -> str:
        lines = []
        for n, node in enumerate(self.nodes, start=1):
            pid = self.beam_pid(n)
            state = f"running (beam pid {pid})" if pid else "stopped"
            lines.append(f"{n} {node.node} {node.url} {state}")
        up = [n for n in range(1, SIZE + 1) if self.running(n)]
        if up:
            try:
                members = sorted(self.running_nodes(up[0], timeout_s=15))
                lines.append(f"running cluster members (seen by node {up[0]}): {', '.join(members)}")
            except PrivateBrokerError as exc:
                lines.append(f"cluster_status on node {up[0]} failed: {exc}")
        return "\n".join(lines)

    # -- one node --------------------------------------------------------------------------

    def start_node(self, n: int) -> None:
        """Start node ``n`` (it rejoins the cluster by itself) and wait until it runs."""
        self.node(n)
        if self.running(n):
            return
        self._ensure_epmd()
        self._spawn(n)
        self._await(n)

    def stop_node(self, n: int) -> None:
        """Stop node ``n`` gracefully (``rabbitmqctl stop``) and wait until its VM is gone."""
        pid = self.beam_pid(n)
        if pid is None:
            return
        try:
            self.ctl(n, "stop", timeout_s=STOP_TIMEOUT_S)
        except PrivateBrokerError:
            # A stop that hangs or fails: SIGTERM to the VM is a clean shutdown too.
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if not self._gone(n, pid, STOP_TIMEOUT_S):
            raise ClusterError(f"node {n} did not stop within {STOP_TIMEOUT_S:.0f} s")

    def kill(self, n: int) -> None:
        """SIGKILL node ``n``'s Erlang VM (a crash: no clean shutdown) and wait until it's gone."""
        pid = self.beam_pid(n)
        if pid is None:
            return
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not self._gone(n, pid, 10):
            raise ClusterError(f"node {n} (pid {pid}) still runs after SIGKILL")

    def restart(self, n: int) -> None:
        """A graceful restart of node ``n``, ending when it has rejoined the cluster."""
        self.stop_node(n)
        self.start_node(n)
        self.wait_clustered()

    def wait_not_quorum_critical(self, n: int, timeout_s: float = 240.0) -> None:
        """Until stopping node ``n`` would leave every quorum queue a majority (its members
        elsewhere caught up): the check to pass before each step of a rolling restart."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                # rabbitmq-queues boots an Elixir VM: 20 s and more on 2 busy cores.
                self.queues_ctl(n, "check_if_node_is_quorum_critical", timeout_s=90)
                return
            except PrivateBrokerError as exc:
                if time.monotonic() >= deadline:
                    raise ClusterError(f"node {n} stays quorum-critical: {exc}") from None
            time.sleep(0.5)  # a retry pause: the next check re-reads the queues' members

    # -- processes ---------------------------------------------------------------------------

    def _spawn(self, n: int) -> None:
        node = self.node(n)
        (node.base / "rabbitmq.pid").unlink(missing_ok=True)  # a killed node's stale pid
        self._processes[n] = start_server(node, owned=self.owned)

    def _await(self, n: int) -> None:
        try:
            await_startup(self.node(n), self._processes[n], timeout_s=START_TIMEOUT_S)
        except PrivateBrokerError as exc:
            raise ClusterError(f"node {n}: {exc}") from None

    def _reap(self, n: int) -> None:
        process = self._processes.get(n)
        if process is not None and process.poll() is not None:
            del self._processes[n]

    def _gone(self, n: int, pid: int, timeout_s: float) -> bool:
        """Until VM ``pid`` of node ``n`` has exited (the node removes its pid file before it
        is done shutting down: the file can't tell)."""
        deadline = time.monotonic() + timeout_s
        while self._is_beam(n, pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        process = self._processes.pop(n, None)
        if process is not None:  # the rabbitmq-server wrapper ends with its VM
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                end_process(process)
        return True

    def _epmd_pid_file(self) -> Path:
        return self.base / "epmd.pid"

    def _ensure_epmd(self) -> None:
        if self._epmd is not None and self._epmd.poll() is None:
            return
        if self._saved_epmd() is not None:
            return
        self._epmd = start_epmd(self.layout.epmd_port, self.nodes[0].env, owned=self.owned)
        self._epmd_pid_file().write_text(f"{self._epmd.pid}\n")

    def _saved_epmd(self) -> int | None:
        """The epmd a previous command started, while it still runs."""
        try:
            pid = int(self._epmd_pid_file().read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if str(self.layout.epmd_port).encode() in cmdline else None

    def _stop_epmd(self) -> None:
        if self._epmd is not None:
            end_process(self._epmd)
            self._epmd = None
        elif (pid := self._saved_epmd()) is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._epmd_pid_file().unlink(missing_ok=True)


@contextmanager
def cluster(layout: Layout | None = None) -> Iterator[Cluster]:
    """A running cluster owned by this process (free ports, a temporary dir by default);
    stopped and its files removed on the way out, also when starting it failed."""
    nodes = Cluster(layout or Layout.temporary(), owned=True)
    try:
        started = time.monotonic()
        nodes.start()
        print(f"cluster of {SIZE} started in {time.monotonic() - started:.1f} s: {nodes.url}",
              file=sys.stderr)
        yield nodes
    finally:
        nodes.destroy()


# -- the command line (scripts/rabbitmq-cluster) ---------------------------------------------

USAGE = """\
scripts/rabbitmq-cluster COMMAND [N]

  start         start the 3-node cluster (create and join it if new); prints the AMQP URLs
  stop          stop every node and epmd, and remove the cluster's files
  status        each node's state, and the running cluster members
  urls          the AMQP URLs, comma-separated (for MEDIA_BRIDGE_SOURCE__URL / SINK__URL)
  kill N        SIGKILL node N's Erlang VM (a crash)
  stop-node N   stop node N gracefully
  start-node N  start node N (it rejoins by itself)
  restart N     stop-node N, start-node N, wait until it has rejoined

Environment (read when the cluster is created; later commands read DIR/cluster.json):
  MEDIA_BRIDGE_TEST_CLUSTER_DIR         base dir of data, logs, config (default /tmp/mb-rabbitmq-cluster)
  MEDIA_BRIDGE_TEST_CLUSTER_NAME        node name prefix: NAME-1@localhost ... (default mb-cluster)
  MEDIA_BRIDGE_TEST_CLUSTER_AMQP_PORTS  comma-separated, one per node (default 5701,5702,5703)
  MEDIA_BRIDGE_TEST_CLUSTER_DIST_PORTS  Erlang distribution ports (default 25701,25702,25703)
  MEDIA_BRIDGE_TEST_CLUSTER_EPMD_PORT   the cluster's own epmd (default 4379)
The shared broker (rabbit@localhost, 5672/25672, epmd 4369) is never used or touched.
"""


def _hand_cluster(command: str) -> Cluster | None:
    """The cluster at ``$MEDIA_BRIDGE_TEST_CLUSTER_DIR``; None when there is none and ``command``
    is not ``start`` (nothing is created for a ``status``)."""
    wanted = Layout.from_environment()
    saved = Layout.load(wanted.base)
    if saved is None and command != "start":
        return None
    return Cluster(saved or wanted, owned=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/rabbitmq-cluster", usage=USAGE, add_help=True,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        choices=["start", "stop", "status", "urls", "kill", "stop-node", "start-node", "restart"],
    )
    parser.add_argument("n", nargs="?", type=int)
    args = parser.parse_args(argv)
    try:
        nodes = _hand_cluster(args.command)
        if nodes is None:
            where = Layout.from_environment().base
            print(f"rabbitmq-cluster: no cluster in {where} (run start)", file=sys.stderr)
            return 0 if args.command == "stop" else 1
        if args.command in ("kill", "stop-node", "start-node", "restart"):
            if args.n is None:
                parser.error(f"{args.command} needs a node number 1-{SIZE}")
            nodes.node(args.n)
            {"kill": nodes.kill, "stop-node": nodes.stop_node, "start-node": nodes.start_node,
             "restart": nodes.restart}[args.command](args.n)
            print(nodes.status())
        elif args.command == "start":
            nodes.start()
            print(nodes.url)
        elif args.command == "stop":
            nodes.destroy()
        elif args.command == "status":
            print(nodes.status())
        else:
            print(nodes.url)
    except PrivateBrokerError as exc:
        print(f"rabbitmq-cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
