"""The arguments ``media-bridge parked`` and ``media-bridge replay`` share (argparse)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from consumer.parked_filter import ParkedFilter, parse_instant
from consumer.settings import CONFIG_ENV

DEFAULT_SCAN = 10_000


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--queue``, the filters and ``--scan``."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help=f"TOML settings file, as for run (default: ${CONFIG_ENV}, else none)",
    )
    parser.add_argument(
        "--queue",
        metavar="NAME",
        help="the queue to read (default: sink.parking_queue); e.g. a queue of unrouted events",
    )
    parser.add_argument(
        "--reason",
        action="append",
        default=[],
        metavar="REASON",
        help="only messages parked for this reason (not_json, unknown_format, unroutable, "
        "internal_error, too_many_deliveries, ...); repeat for several",
    )
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="SOURCE",
        help="only bodies from this source: 'cmq' (any CMQ queue) or 'cmq:mps-events'; repeatable",
    )
    parser.add_argument(
        "--since",
        type=instant,
        metavar="WHEN",
        help="only messages first parked at or after WHEN: 30m, 2h, 1d ago, or an ISO 8601 "
        "date/time (UTC unless it says otherwise)",
    )
    parser.add_argument(
        "--until", type=instant, metavar="WHEN", help="only messages first parked before WHEN"
    )
    parser.add_argument(
        "--task-id",
        metavar="ID",
        help="only messages about this task: the task id or subject of the events the body "
        "normalizes to today, or else the id found as text in the body (the output says which)",
    )
    parser.add_argument(
        "--scan",
        type=positive_count,
        default=DEFAULT_SCAN,
        metavar="N",
        help=f"look at most at N messages from the head of the queue (default {DEFAULT_SCAN})",
    )


def selection(args: argparse.Namespace) -> ParkedFilter:
    """The filter the arguments describe."""
    return ParkedFilter(
        reasons=frozenset(args.reason),
        sources=tuple(args.source),
        since=args.since,
        until=args.until,
        task_id=args.task_id,
    )


def instant(text: str) -> datetime:
    """argparse type for ``--since`` / ``--until``."""
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_count(text: str) -> int:
    """argparse type for ``--scan`` and ``--limit``: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value

