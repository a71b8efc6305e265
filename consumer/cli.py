"""The ``media-bridge`` command: the composition root.

This is the only module of ``consumer/`` that may import ``adapters/`` (lazily, inside the
subcommand that needs them), so the core never depends on a transport.

Each subcommand has one ``_add_<name>(subparsers)`` function that declares its arguments and
sets ``handler``; the handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from consumer.normalize import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DEPTH, Limits


def _add_schema(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of the media event (version 1)",
        description="Print the JSON Schema generated from the event models (schema/media-event-v1.json).",
    )
    parser.set_defaults(handler=_run_schema)


def _run_schema(args: argparse.Namespace) -> int:
    from consumer.schema_export import render_schema

    sys.stdout.write(render_schema())
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 64 (EX_USAGE) on bad usage, not 2, so 2 stays ours."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(64)


if TYPE_CHECKING:  # argparse's action class is only subscriptable for the type checker
    Subcommands = argparse._SubParsersAction[_Parser]


def _add_normalize(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "normalize",
        help="print the CloudEvents made from notification files (JSON Lines)",
        description=(
            "Read Tencent media notifications (VOD v3 push bodies or PullEvents responses, VOD "
            "legacy v2, MPS / VTS task notifications, MPS live notifications, CMQ message "
            "bodies) and print one normalized CloudEvent per line on stdout. A file that can't "
            "be normalized gets one line on stderr naming the file and the reason."
        ),
        epilog=(
            "exit status: 0 every input was normalized; 1 at least one input was rejected "
            "(see stderr); 2 at least one input could not be read; 64 bad usage."
        ),
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="FILE", help="notification files; '-' or none reads stdin"
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"reject bodies larger than this (default {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--max-depth",
        type=int,
        default=DEFAULT_MAX_DEPTH,
        help=f"reject JSON nested deeper than this (default {DEFAULT_MAX_DEPTH})",
    )
    parser.add_argument(
        "--with-handles",
        action="store_true",
        help="print {event, event_handle} objects instead of bare events",
    )
    parser.set_defaults(handler=_run_normalize)


def _run_normalize(args: argparse.Namespace) -> int:
    from consumer.normalize_command import main_normalize

    limits = Limits(max_body_bytes=args.max_body_bytes, max_depth=args.max_depth)
    return main_normalize(args.inputs, limits, args.with_handles)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="media-bridge",
        description=(
            "media-event-bridge: Tencent Cloud media-processing notifications (MPS/VOD via CMQ, "
            "VOD PullEvents, RabbitMQ stand-in) normalized into one CloudEvents schema and "
            "republished to an internal RabbitMQ topic exchange, at least once."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_normalize(subparsers)
    _add_schema(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
