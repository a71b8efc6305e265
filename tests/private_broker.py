"""A RabbitMQ node of the tests' own, for tests that change broker-wide state.

The machine's broker is shared: a memory alarm, a watermark change, ``stop_app`` or a killed
connection there hits everybody using it. Tests that need such things get this node instead:
its own node name, AMQP/distribution/epmd ports, data and log dirs, config files (the shared
node's ``/etc/rabbitmq`` files would make it bind 5672 or take the shared node's name), no
plugins (management would try the shared node's port 15672), and its own Erlang cookie and
epmd, so that no ``rabbitmqctl`` call made here can reach the shared node. Every fact used
here was measured with the Debian package RabbitMQ 3.10.8 / Erlang 25 (the team's reference
note "private-rabbitmq-node.md").

A node costs ~150 MB and 3-12 s to start on 2 busy cores: start one per test session, not
per test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

# The Debian package's /usr/sbin/rabbitmq* wrappers `su rabbitmq` when run as root, which
# resets HOME to /var/lib/rabbitmq - the shared node's cookie. The scripts they wrap don't.
_REAL_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
SBIN_VARIABLE = "MEDIA_BRIDGE_TEST_RABBITMQ_SBIN"  # a directory holding rabbitmq-server & co.
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
# rabbitmqctl's exit status when it cannot reach the node (EX_UNAVAILABLE) or timed out
# (EX_TEMPFAIL). Its short-lived distribution ports (35672-35682) are shared with every other
# rabbitmqctl on the machine, so such a failure can be a collision and is worth a retry.
_RETRYABLE = {69, 75}


class PrivateBrokerError(RuntimeError):
    """The private node could not be started (or a ``rabbitmqctl`` call for it failed)."""


@dataclass(frozen=True)
class PrivateBroker:
    """A running private node: its AMQP URL and ``ctl`` for ``rabbitmqctl -n NODE``."""

    node: str
    amqp_port: int
    base: Path
    env: Mapping[str, str]
    rabbitmqctl: str

    vhost = "/"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    def ctl(self, *args: str, timeout_s: float = 60.0) -> str:
        """``rabbitmqctl -n NODE -q ARGS`` in the node's own environment; its stdout.

        Retried until ``timeout_s`` while the node is unreachable (see ``_RETRYABLE``).
        """
        return run_cli(self.rabbitmqctl, self.node, self.env, *args, timeout_s=timeout_s)


def run_cli(
    tool: str, node: str, env: Mapping[str, str], *args: str, timeout_s: float = 60.0
) -> str:
    """``TOOL -n NODE -q ARGS`` (rabbitmqctl, rabbitmq-queues...) in ``env``; its stdout.

    Retried until ``timeout_s`` while the node is unreachable (see ``_RETRYABLE``).
    """
    command = [tool, "-n", node, "-q", *args]
    deadline = time.monotonic() + timeout_s
    while True:
        left = max(deadline - time.monotonic(), 1.0)
        try:
            done = subprocess.run(
                command, env=dict(env), capture_output=True, text=True,
                timeout=left, stdin=subprocess.DEVNULL, check=False,
            )
        except subprocess.TimeoutExpired:
            raise PrivateBrokerError(f"{' '.join(args)}: no answer in {timeout_s:.0f} s") from None
        if done.returncode == 0:
            return done.stdout
        if done.returncode not in _RETRYABLE or time.monotonic() >= deadline:
            raise PrivateBrokerError(
                f"{Path(tool).name} {' '.join(args)} for {node} exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()}"
            )
        time.sleep(0.2)  # a retry pause, not synchronisation: the next call re-checks


def find_script(name: str) -> str:
    """The path of RabbitMQ's ``name`` script (rabbitmq-server, rabbitmqctl, rabbitmq-queues)."""
    override = os.environ.get(SBIN_VARIABLE)
    if override:  # only there: a wrong override must not quietly fall back
        candidates = [Path(override) / name]
    else:
        found = shutil.which(name)
        candidates = [_REAL_SCRIPTS / name, *([Path(found)] if found else [])]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise PrivateBrokerError(
        f"{name} is not installed{f' in {override}' if override else ''}: tests that change "
        f"broker-wide state run on a private RabbitMQ node and fail without it (install the "
        f"rabbitmq-server package, or point {SBIN_VARIABLE} at its sbin directory)"
    )


def find_epmd() -> str:
    epmd_binary = shutil.which("epmd")
    if epmd_binary is None:
        raise PrivateBrokerError("epmd (Erlang) is not on PATH: the private node needs its own")
    return epmd_binary


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now (bound to port 0 together)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def wait_listening(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PrivateBrokerError(f"{what} exited {process.returncode} at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise PrivateBrokerError(f"{what} did not listen on 127.0.0.1:{port} within 10 s")


def write_home(home: Path) -> Path:
    """A ``HOME`` holding a fresh Erlang cookie (nodes sharing it can cluster); ``home``."""
    home.mkdir(parents=True)
    cookie = home / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(20))
    cookie.chmod(0o400)
    return home


def node_environment(
    base: Path,
    node: str,
    amqp: int,
    dist: int,
    epmd: int,
    *,
    home: Path,
    erl_args: str = "",
    config_lines: tuple[str, ...] = (),
) -> dict[str, str]:
    """The environment of node ``node`` (and of its rabbitmqctl), its own config files written
    under ``base``: nothing inherited that names a node. ``erl_args``: more emulator flags;
    ``config_lines``: more rabbitmq.conf lines."""
    config = base / "rabbitmq.conf"
    config.write_text(
        "".join(f"{line}\n" for line in (f"listeners.tcp.default = 127.0.0.1:{amqp}", *config_lines))
    )
    (base / "rabbitmq-env.conf").write_text("")
    (base / "enabled_plugins").write_text("[].\n")
    inherited = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("RABBITMQ_", "ERL_"))
    }
    return {
        **inherited,
        "HOME": str(home),
        "ERL_EPMD_PORT": str(epmd),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "RABBITMQ_CONFIG_FILE": str(config),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),  # absent on purpose
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
            f"-kernel inet_dist_use_interface {{127,0,0,1}} {erl_args}".strip()
        ),
    }


def start_epmd(port: int, env: Mapping[str, str], *, owned: bool = True) -> subprocess.Popen[bytes]:
    """A private epmd on 127.0.0.1:``port``, listening when this returns. Start it before the
    nodes, so that neither a node nor rabbitmqctl starts (or finds) another one. ``owned``:
    it gets SIGTERM should this process die (see ``ended_with_us``)."""
    command = [find_epmd(), "-port", str(port), "-address", "127.0.0.1"]
    epmd = subprocess.Popen(
        ended_with_us(command) if owned else command, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    wait_listening(port, epmd, "the private epmd")
    return epmd


def start_server(broker: PrivateBroker, *, owned: bool = True) -> subprocess.Popen[bytes]:
    """``rabbitmq-server`` for ``broker``'s node (output to ``base/server.out``), not awaited.

    Not -detached, so its PID is ours; own session, so a Ctrl-C of pytest doesn't take it
    down before the teardown stops it in order. ``owned``: see ``ended_with_us``.
    """
    server = find_script("rabbitmq-server")
    with (broker.base / "server.out").open("ab") as out:
        return subprocess.Popen(
            ended_with_us([server]) if owned else [server], env=dict(broker.env), cwd=broker.base,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def private_broker() -> Iterator[PrivateBroker]:
    """Start a private node, yield it, then stop it and remove its files (also on errors)."""
    find_script("rabbitmq-server")
    rabbitmqctl = find_script("rabbitmqctl")
    find_epmd()
    base = Path(tempfile.mkdtemp(prefix="mb-private-rabbitmq-"))
    node = f"mbtest{os.getpid()}{secrets.token_hex(3)}@localhost"
    amqp, dist, epmd_port = free_ports(3)
    env = node_environment(base, node, amqp, dist, epmd_port, home=write_home(base / "home"))
    broker = PrivateBroker(node, amqp, base, env, rabbitmqctl)
    epmd: subprocess.Popen[bytes] | None = None
    process: subprocess.Popen[bytes] | None = None
    try:
        epmd = start_epmd(epmd_port, env)
        process = start_server(broker)
        await_startup(broker, process)
        yield broker
    finally:
        try:
            if process is not None:
                stop_server(broker, process)
        finally:
            if epmd is not None:
                end_process(epmd)
            shutil.rmtree(base, ignore_errors=True)


def ended_with_us(command: list[str]) -> list[str]:
    """``command`` made to get SIGTERM should this process die without its teardown (SIGKILL,
    a killed CI job): else the node and its epmd, in sessions of their own, would run on.
    SIGTERM to rabbitmq-server is a clean stop. Linux's ``setpriv``; without it, as is."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *command] if setpriv else command


def await_startup(
    broker: PrivateBroker, process: subprocess.Popen[bytes], timeout_s: float = START_TIMEOUT_S
) -> None:
    """Until ``broker``'s node (started as ``process``) runs; fails if the process exits."""
    # await_startup fails at once while the node has not registered with epmd: retry it.
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise PrivateBrokerError(
                f"the private node {broker.node} exited {process.returncode} while starting:\n"
                + tail(broker.base / "server.out")
            )
        try:
            broker.ctl("await_startup", "--timeout", "10", timeout_s=15)
            return
        except PrivateBrokerError as exc:
            if time.monotonic() >= deadline:
                raise PrivateBrokerError(
                    f"the private node {broker.node} did not start within {timeout_s:.0f} s "
                    f"({exc}):\n" + tail(broker.base / "server.out") + "\n" + _log_tail(broker)
                ) from None
            time.sleep(0.5)  # a retry pause: the next await_startup re-checks


def stop_server(broker: PrivateBroker, process: subprocess.Popen[bytes]) -> None:
    """A clean stop of the node ``process`` runs (escalating to SIGKILL if it hangs)."""
    if process.poll() is None:
        try:
            broker.ctl("stop", timeout_s=STOP_TIMEOUT_S)
        except PrivateBrokerError:
            # A stop that hangs or fails (node already going down): SIGTERM to the beam
            # process is a clean shutdown too.
            terminate_beam(broker.base / "rabbitmq.pid")
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        terminate_beam(broker.base / "rabbitmq.pid", signal.SIGKILL)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)


def terminate_beam(pid_file: Path, sig: signal.Signals = signal.SIGTERM) -> None:
    # No pid file yet, or the process is gone: nothing to stop.
    with suppress(OSError, ValueError):
        os.kill(int(pid_file.read_text().strip()), sig)


def end_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _log_tail(broker: PrivateBroker) -> str:
    """The end of the node's own log (where a boot that waits, e.g. for its cluster peers'
    tables, says so), without the feature-flag listing that fills it at every boot."""
    lines = []
    for log in sorted((broker.base / "log").glob("*.log")):
        lines += [
            line for line in tail(log, 200).splitlines() if "Feature flags" not in line
        ][-20:]
    return "\n".join(lines) or "(no node log)"


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"
