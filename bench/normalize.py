"""Benchmark: normalize() throughput on one core, for three representative bodies.

    .venv/bin/python -m bench.normalize [--seconds 3]

Prints events/s and µs/event for (1) a ~4 KB VOD ProcedureStateChanged push body (v3), (2) the
relay benchmarks' ~4.3 KB body (``bench._payload``: the same event, padded), (3) a VOD PullEvents
response with 16 events, (4) a legacy VOD v2 ProcedureStateChanged callback, (5) an MPS
WorkflowTask CMQ message body. Target for (1): >= 20,000 events/s. Numbers are printed, never
asserted (speed is not a unit-test property).

The clock is the process's CPU time, and each case is timed in ``--rounds`` rounds of which the
median is printed: on a shared machine wall-clock time also counts the time other processes
had the core.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from bench._payload import PayloadFactory
from consumer.normalize import normalize

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"


def _pullevents_batch_of_16() -> bytes:
    """A PullEvents response of 16 distinct ProcedureStateChanged events (distinct handles/ids)."""
    response = orjson.loads(
        (SAMPLES / "vod__ProcedureStateChanged__pullevents-response-v3.json").read_bytes()
    )
    template = response["Response"]["EventSet"][0]
    events = []
    for index in range(16):
        event = copy.deepcopy(template)
        event["EventHandle"] = f"handle-{index}"
        event["ProcedureStateChangeEvent"]["TaskId"] = f"1256768367-Procedure-bench{index:04d}t1"
        events.append(event)
    return orjson.dumps({"Response": {"EventSet": events, "RequestId": "bench"}})


def measure(body: bytes, seconds: float, rounds: int) -> tuple[int, float]:
    """(events per call, events/s of CPU time): the median of ``rounds`` rounds, ``seconds`` in all."""
    per_call = len(normalize(body))
    for _ in range(200):  # warm caches and pydantic's validators before timing
        normalize(body)
    rates = []
    for _ in range(rounds):
        calls = 0
        start = time.process_time()
        deadline = start + seconds / rounds
        while time.process_time() < deadline:
            for _ in range(50):
                normalize(body)
            calls += 50
        rates.append(calls * per_call / (time.process_time() - start))
    return per_call, statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU time per case (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per case (median)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    cases: list[tuple[str, Callable[[], bytes]]] = [
        (
            "VOD ProcedureStateChanged push body",
            lambda: (
                SAMPLES / "vod__ProcedureStateChanged__push-body-v3-ai-content-review.json"
            ).read_bytes(),
        ),
        ("VOD v3, relay benchmark body", lambda: PayloadFactory().body(0, "normalize")),
        ("VOD PullEvents batch of 16", _pullevents_batch_of_16),
        (
            "VOD v2 ProcedureStateChanged callback",
            lambda: (SAMPLES / "vodlegacy__ProcedureStateChanged__v2-callback.json").read_bytes(),
        ),
        (
            "MPS WorkflowTask (CMQ msgBody)",
            lambda: (
                SAMPLES / "mps__WorkflowTask__cmq-msgbody-doc-with-failed-subtask.json"
            ).read_bytes(),
        ),
    ]
    print(f"normalize() on one core, CPU time, median of {args.rounds} rounds - "
          f"Python {platform.python_version()}, {platform.machine()}")
    print(f"{'case':40} {'bytes':>7} {'ev/call':>7} {'events/s':>10} {'us/event':>9}")
    for name, make_body in cases:
        body = make_body()
        per_call, rate = measure(body, args.seconds, args.rounds)
        print(f"{name:40} {len(body):>7} {per_call:>7} {rate:>10,.0f} {1e6 / rate:>9.1f}")
    print("target: >= 20,000 events/s for the single ~4 KB ProcedureStateChanged")


if __name__ == "__main__":
    main()
