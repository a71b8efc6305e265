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
from pathlib import Path
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

    from consumer.ports import Sink, Source
    from consumer.settings import SinkSettings, SourceSettings


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


def _add_run(subparsers: Subcommands) -> None:
    from consumer.settings import CONFIG_ENV
    from consumer.settings_help import settings_epilog

    parser = subparsers.add_parser(
        "run",
        help="relay notifications to the events exchange until SIGTERM/SIGINT",
        description=(
            "Consume Tencent media notifications from the source queue, publish each as "
            "CloudEvents to the events exchange, and ack the source message only after the "
            "broker confirmed every event (bodies that can't be relayed are parked, then "
            "acked). Serves /metrics, /healthz and /readyz. SIGTERM/SIGINT drains in-flight "
            "deliveries within the grace period and exits 0."
        ),
        epilog=(
            "settings (environment variables; in a TOML file the same names as [section] key "
            "= value; the environment wins):\n"
            f"{settings_epilog()}\n\n"
            "exit status: 0 stopped by a signal after draining; 69 a broker is unreachable at "
            "start-up; 78 bad settings, refused credentials or status port in use; 64 bad usage."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help=f"TOML settings file (default: ${CONFIG_ENV}, else none)",
    )
    parser.set_defaults(handler=_run_run)


def _run_run(args: argparse.Namespace) -> int:
    import os

    from consumer.run_command import main_run
    from consumer.settings import CONFIG_ENV

    config = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    return main_run(config, _open_source, _open_sink)


async def _open_source(settings: SourceSettings, prefetch: int) -> Source:
    # One case per source kind (settings.kind); CMQ adds its branch here.
    from adapters.rabbitmq import RabbitSource, RabbitSourceOptions

    options = RabbitSourceOptions(
        url=settings.url.get_secret_value(), queue=settings.queue, prefetch=prefetch
    )
    return await RabbitSource.connect(options)


async def _open_sink(settings: SinkSettings) -> Sink:
    from adapters.rabbitmq import RabbitSink, RabbitSinkOptions

    options = RabbitSinkOptions(
        url=settings.url.get_secret_value(),
        events_exchange=settings.events_exchange,
        parking_exchange=settings.parking_exchange,
        parking_queue=settings.parking_queue,
        confirm_timeout_s=settings.confirm_timeout_s,
    )
    return await RabbitSink.connect(options)


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
    _add_run(subparsers)
    _add_schema(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
