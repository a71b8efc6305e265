"""The benchmark's HTTP load: ``wrk`` at saturation, a paced client for latency at a fixed rate.

* ``saturate``: ``wrk`` (the Debian package: ``apt-get install -y wrk``) with a Lua script that
  POSTs the prepared bodies in turn; without ``wrk``, a closed loop of ``connections``
  keep-alive connections of ``bench._http_client`` (one request at a time each) stands in.
  wrk is preferred: in C, it costs the machine far less per request than any Python client,
  and on 2 cores whatever the load generator burns is taken from the bridge or the broker.
* ``paced``: requests started on a fixed schedule (``rate`` per second), each timed from the
  moment it was *due*, so a slow answer shows in the latencies instead of delaying the
  following requests (no coordinated omission); at most ``max_connections`` open at once.
  wrk has no fixed-rate mode (that is wrk2, which Debian does not ship).
* ``paced_wrk``: the same rate from wrk, as a cross-check of the paced client (a Python client
  on a loaded 2-core machine adds its own stalls): a Lua ``delay()`` keeps one schedule for all
  of wrk's connections (LuaJIT's ffi reads the monotonic clock). wrk times each request from
  when it was sent, not from when it was due, so a stall shows less in its numbers than in
  ``paced``'s; the two agreeing means the tail is the bridge's (or the broker's).
"""

from __future__ import annotations

import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from bench._http_client import ConnectionLost, HttpConnection

# POST the bodies of the file named by the script's argument (one per line), in turn.
_WRK_SCRIPT = """
local bodies, n = {}, 0
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end
function request()
  n = n % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[n])
end
"""
# The same POSTs, each sent at its slot of one schedule (``rate`` per second, args[2]) shared
# by every connection of the (single) thread: delay() is asked before each request.
_WRK_PACED_SCRIPT = (
    _WRK_SCRIPT
    + """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *now);
]]
local clock, interval_ms, next_due = ffi.new("bench_timespec"), nil, nil
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local load_bodies = init
function init(args)
  load_bodies(args)
  interval_ms = 1000 / tonumber(args[2])
end
function delay()
  local now = now_ms()
  next_due = (next_due or now) + interval_ms
  return math.max(0, math.floor(next_due - interval_ms - now))
end
"""
)
_PERCENTILE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_LATENCY_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(ms|s|m)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0}


@dataclass
class Load:
    generator: str
    requests: int = 0
    seconds: float = 0.0
    not_ok: int = 0  # answered, but not 200
    errors: int = 0  # no answer (socket errors, timeouts)
    cpu_s: float = float("nan")  # the load generator's own user+sys CPU (wrk's)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


async def saturate(url: str, bodies: Sequence[bytes], connections: int, seconds: float) -> Load:
    """Requests as fast as ``connections`` connections get answers, for ``seconds``."""
    wrk = wrk_path()
    if wrk is None:
        return await _closed_loop(url, bodies, connections, seconds)
    with tempfile.TemporaryDirectory() as scratch:
        script, lines = _wrk_files(Path(scratch), bodies)
        command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url,
                   "--", str(lines)]  # fmt: skip
        before = _children_cpu_s()
        done = await anyio.run_process(command, stderr=subprocess.STDOUT, check=False)
    load = _parse_wrk(done.stdout.decode())
    load.cpu_s = _children_cpu_s() - before  # wrk is the only child that ended meanwhile
    return load


def _children_cpu_s() -> float:
    """User + system CPU of this process's children that have ended (and been waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class WrkPaced:
    rate: float
    load: Load
    p50_ms: float
    p99_ms: float


async def paced_wrk(
    url: str, bodies: Sequence[bytes], rate: float, seconds: float, connections: int = 16
) -> WrkPaced | None:
    """``rate`` requests per second from wrk for ``seconds`` (see the module docstring); None
    without wrk. ``connections`` must cover rate x latency, or wrk falls behind the schedule."""
    wrk = wrk_path()
    if wrk is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        script, lines = _wrk_files(Path(scratch), bodies, _WRK_PACED_SCRIPT)
        command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s",
                   str(script), url, "--", str(lines), f"{rate:g}"]  # fmt: skip
        done = await anyio.run_process(command, stderr=subprocess.STDOUT, check=False)
    output = done.stdout.decode()
    cuts = {int(n): float(value) * _LATENCY_UNIT_MS[unit] for n, value, unit in
            _PERCENTILE.findall(output)}  # fmt: skip
    if set(cuts) != {50, 99}:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return WrkPaced(rate, _parse_wrk(output), cuts[50], cuts[99])


def _wrk_files(
    scratch: Path, bodies: Sequence[bytes], script_text: str = _WRK_SCRIPT
) -> tuple[Path, Path]:
    """The Lua script and the file of bodies it reads (small: written before wrk starts)."""
    script, lines = scratch / "post.lua", scratch / "bodies.jsonl"
    script.write_text(script_text)
    lines.write_bytes(b"\n".join(bodies) + b"\n")
    return script, lines


def _parse_wrk(output: str) -> Load:
    found = _REQUESTS.search(output)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    load = Load("wrk", int(found[1]), float(found[2]) * _UNIT_S[found[3]])
    if (non_2xx := _NON_2XX.search(output)) is not None:
        load.not_ok = int(non_2xx[1])
    if (errors := _SOCKET_ERRORS.search(output)) is not None:
        load.errors = sum(int(n) for n in errors.groups())
    return load


async def _closed_loop(url: str, bodies: Sequence[bytes], connections: int, seconds: float) -> Load:
    host, port, path = _split(url)
    load = Load("bounded async client (wrk not installed: apt-get install -y wrk)")
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(offset: int) -> None:
        connection = HttpConnection(host, port)
        n = offset
        try:
            while time.perf_counter() < deadline:
                n += connections
                try:
                    answer = await connection.request("POST", path, bodies[n % len(bodies)], _JSON)
                except ConnectionLost:
                    load.errors += 1
                    continue
                load.requests += 1
                load.not_ok += answer.status != 200
        finally:
            await connection.aclose()

    async with anyio.create_task_group() as group:
        for offset in range(connections):
            group.start_soon(worker, offset)
    load.seconds = time.perf_counter() - started
    return load


@dataclass
class Paced:
    rate: float
    latencies_ms: list[float] = field(default_factory=list)
    answers: Counter[int | str] = field(default_factory=Counter)

    def percentiles(self) -> tuple[float, float]:
        if len(self.latencies_ms) < 2:
            return float("nan"), float("nan")
        cuts = statistics.quantiles(self.latencies_ms, n=100)
        return cuts[49], cuts[98]


async def paced(
    url: str, bodies: Sequence[bytes], rate: float, seconds: float, max_connections: int = 64
) -> Paced:
    """``rate`` requests per second for ``seconds``; each timed from when it was due."""
    host, port, path = _split(url)
    result = Paced(rate)
    idle: list[HttpConnection] = []
    limiter = anyio.Semaphore(max_connections)

    async def one(n: int, due: float) -> None:
        async with limiter:
            connection = idle.pop() if idle else HttpConnection(host, port)
            try:
                answer: int | str = (
                    await connection.request("POST", path, bodies[n % len(bodies)], _JSON)
                ).status
            except ConnectionLost:
                answer = "no answer"
            result.latencies_ms.append((time.perf_counter() - due) * 1000)
            result.answers[answer] += 1
            idle.append(connection)

    total = int(rate * seconds)
    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for n in range(total):
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await anyio.sleep(delay)
            group.start_soon(one, n, due)
    for connection in idle:
        await connection.aclose()
    return result


_JSON = {"content-type": "application/json"}


def _split(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("http://")
    address, _, path = rest.partition("/")
    host, _, port = address.partition(":")
    return host, int(port), "/" + path
