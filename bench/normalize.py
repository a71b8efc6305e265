"""Benchmark: normalize() throughput on one core, for three representative bodies.

    .venv/bin/python -m bench.normalize [--seconds 3]

Prints events/s and µs/event for (1) a ~4 KB VOD ProcedureStateChanged push body, (2) a VOD
PullEvents response with 16 events, (3) an MPS WorkflowTask CMQ message body. Target for (1):
>= 20,000 events/s. Numbers are printed, never asserted (speed is not a unit-test property).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import orjson

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


def _measure(body: bytes, seconds: float) -> tuple[int, float]:
    """(events per call, events/s) over about ``seconds`` of repeated normalize() calls."""
    per_call = len(normalize(body))
    for _ in range(200):  # warm caches and pydantic's validators before timing
        normalize(body)
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            normalize(body)
        calls += 100
    elapsed = time.perf_counter() - start
    return per_call, calls * per_call / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="time per case (default 3)")
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
        ("VOD PullEvents batch of 16", _pullevents_batch_of_16),
        (
            "MPS WorkflowTask (CMQ msgBody)",
            lambda: (
                SAMPLES / "mps__WorkflowTask__cmq-msgbody-doc-with-failed-subtask.json"
            ).read_bytes(),
        ),
    ]
    print(f"normalize() on one core - Python {platform.python_version()}, {platform.machine()}")
    print(f"{'case':40} {'bytes':>7} {'ev/call':>7} {'events/s':>10} {'us/event':>9}")
    for name, make_body in cases:
        body = make_body()
        per_call, rate = _measure(body, args.seconds)
        print(f"{name:40} {len(body):>7} {per_call:>7} {rate:>10,.0f} {1e6 / rate:>9.1f}")
    print("target: >= 20,000 events/s for the single ~4 KB ProcedureStateChanged")


if __name__ == "__main__":
    main()
