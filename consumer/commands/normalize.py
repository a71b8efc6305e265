"""``media-bridge normalize``: print the CloudEvents made from notification files, one per line.

Each line is the event exactly as the relay publishes it (``consumer.outbound.structured_json``):
one serialization, so what this prints is what subscribers receive.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

import orjson

from consumer.errors import PayloadError
from consumer.events import NormalizedEvent
from consumer.normalize import Limits, normalize
from consumer.outbound import structured_json

EXIT_OK = 0
EXIT_SOME_REJECTED = 1  # at least one input could not be normalized (named on stderr)
EXIT_UNREADABLE = 2  # an input file could not be read at all (missing, a directory, no access)


def run_normalize(
    inputs: Sequence[str],
    limits: Limits,
    *,
    with_handles: bool,
    stdin: BinaryIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Normalize every input; events go to ``stdout`` as JSON Lines, problems to ``stderr``."""
    status = EXIT_OK
    for name in inputs or ["-"]:
        try:
            body = stdin.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            print(f"{name}: cannot read: {exc.strerror or exc}", file=stderr)
            status = max(status, EXIT_UNREADABLE)
            continue
        try:
            events = normalize(body, limits)
        except PayloadError as exc:
            print(f"{name}: {exc.reason.value}: {exc.detail}", file=stderr)
            status = max(status, EXIT_SOME_REJECTED)
            continue
        for item in events:
            line = with_handle(item) if with_handles else structured_json(item.event)
            stdout.write(line.decode() + "\n")
    stdout.flush()
    return status


def with_handle(item: NormalizedEvent) -> bytes:
    """``{"event": <the published event>, "event_handle": <handle or null>}``."""
    handle = orjson.dumps(item.event_handle)
    return b'{"event":' + structured_json(item.event) + b',"event_handle":' + handle + b"}"


def main_normalize(inputs: Sequence[str], limits: Limits, with_handles: bool) -> int:
    return run_normalize(
        inputs,
        limits,
        with_handles=with_handles,
        stdin=sys.stdin.buffer,
        stdout=sys.stdout,
        stderr=sys.stderr,
    )
