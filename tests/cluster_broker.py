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
  restart N`` (``tests/cluster_cli.py``). Its nodes outlive the command; the layout
  (names, ports, dirs) is kept in ``$MEDIA_BRIDGE_TEST_CLUSTER_DIR/cluster.json`` for the next one.

Nodes are numbered 1-3 everywhere (as in ``mb-cluster-1@localhost``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.cluster_layout import (
    CONFIG_LINES,
    SIZE,
    START_TIMEOUT_S,
    ClusterError,
    Layout,
)
from tests.private_broker import (
    STOP_TIMEOUT_S,
    PrivateBroker,
    PrivateBrokerError,
    await_startup,
    end_process,
    find_epmd,
    find_script,
    node_environment,
    run_cli,
    start_epmd,
    start_server,
    write_home,
)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the node binds it: a port a stopped node left in TIME_WAIT is free for it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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
            config_lines=CONFIG_LINES,
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
        if self.spawn_node(n):
            self.await_node(n)

    def spawn_node(self, n: int) -> bool:
        """Start node ``n`` without waiting for it; False if it runs already. From the main
        thread only (see ``_spawn``)."""
        self.node(n)
        if self.running(n):
            return False
        self._ensure_epmd()
        self._spawn(n)
        return True

    def await_node(self, n: int) -> None:
        """Until node ``n``, spawned by :meth:`spawn_node`, runs (blocks: may run in a thread)."""
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
        """A graceful restart of node ``n``, ending when it has rejoined the cluster. Blocks
        the caller throughout; an async test runs the steps itself: ``stop_node`` and
        ``await_node`` in a thread, ``spawn_node`` on the main thread."""
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
        _on_the_main_thread("a node")
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
        _on_the_main_thread("epmd")
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


def _on_the_main_thread(what: str) -> None:
    """Refuse to start ``what`` from another thread. Its ``--pdeathsig`` (``ended_with_us``)
    is tied to the *thread* that started it: started from a worker thread (anyio.to_thread),
    it got SIGTERM when that idle thread exited, seconds after the call (a rolling-restart
    test saw all three restarted nodes vanish at its teardown)."""
    if threading.current_thread() is not threading.main_thread():
        raise ClusterError(f"start {what} from the main thread: its pdeathsig follows the thread")


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
