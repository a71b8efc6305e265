"""How fast this machine is today, read in the unit the benchmarks' first numbers were taken in.

The same code measured several times apart on different days of this machine kind: ``normalize``
of the 4.2 KB ProcedureStateChanged sample took 37.5 µs on 2026-11-30 and 171 µs on 2026-12-02
(a shared virtual machine; the speed moves with its neighbours). A throughput target in events/s
says as much about the machine as about the bridge, so the source benchmarks print this reading
beside their rows: it tells a slow day from a slow bridge.
"""

from __future__ import annotations

from bench._payload import SAMPLE  # the sample bench.normalize's first case reads
from bench.normalize import measure

REFERENCE_DAY = "2026-11-30"
REFERENCE_US = 37.5  # bench.normalize on that day (README, "Benchmarks")


def normalize_us(seconds: float = 1.5) -> float:
    """CPU µs per event of ``normalize`` on the sample, in this process (median of 3 rounds)."""
    _, rate = measure(SAMPLE.read_bytes(), seconds, rounds=3)
    return 1e6 / rate


def describe(before_us: float, after_us: float) -> str:
    """One line: today's readings beside the reference day's."""
    ratio = (before_us + after_us) / 2 / REFERENCE_US
    return (
        f"machine speed: normalize() of the 4.2 KB sample took {before_us:.1f} µs/event before "
        f"the phases and {after_us:.1f} after ({REFERENCE_US} on {REFERENCE_DAY}: today's CPU "
        f"time is {ratio:.1f}x that day's)"
    )
