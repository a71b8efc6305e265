"""The ``media-bridge`` command: the composition root.

No other module of ``consumer/`` imports ``adapters/``, so the core never depends on a
transport; what it opens from the settings is ``adapters/openers.py``.

Each subcommand has one ``_add_<name>(subparsers)`` function that declares its arguments and
sets ``handler``; the handler returns the process exit code.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
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
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"reject bodies larger than this (default {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--max-depth",
        type=_positive_int,
        default=DEFAULT_MAX_DEPTH,
        help=f"reject JSON nested deeper than this (default {DEFAULT_MAX_DEPTH})",
    )
    parser.add_argument(
        "--with-handles",
        action="store_true",
        help="print {event, event_handle} objects instead of bare events",
    )
    parser.set_defaults(handler=_run_normalize)


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (a limit of 0 or less would reject all)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run_normalize(args: argparse.Namespace) -> int:
    from consumer.commands.normalize import main_normalize

    limits = Limits(max_body_bytes=args.max_body_bytes, max_depth=args.max_depth)
    return main_normalize(args.inputs, limits, args.with_handles)


def _add_run(subparsers: Subcommands) -> None:
    from consumer.settings import CONFIG_ENV
    from consumer.settings.listing import settings_epilog

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
            "exit status: 0 stopped by a signal after draining; 69 a broker or the CMQ/VOD "
            "endpoint is unreachable at start-up; 78 bad settings, refused credentials, missing queue or "
            "status port in use; 64 bad usage."
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
    from prometheus_client import CollectorRegistry

    from adapters.openers import amqp_section, sink_opener, source_opener
    from consumer.commands.run import main_run

    config = _config_file(args)
    registry = CollectorRegistry()  # served on /metrics; the source may add its counters
    amqp = amqp_section(config)
    return main_run(
        config, source_opener(registry, amqp), sink_opener(amqp, registry), registry=registry
    )


def _add_borrowed(
    subparsers: Subcommands,
    name: str,
    parent: argparse.ArgumentParser,
    handler: Callable[[argparse.Namespace], int],
    *,
    help: str,  # argparse's own name for it
    description: str,
) -> None:
    """A subcommand whose arguments come from a tool's own parser (the emulators and their
    clients also run standalone as ``python -m``). ``description`` is shown as written."""
    subparsers.add_parser(
        name,
        # Only its arguments are borrowed; the class of the parent parser does not matter.
        parents=[parent],  # type: ignore[list-item]
        add_help=False,  # the parent parser brings -h/--help
        epilog=parent.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the epilog's tables
        help=help,
        description=description,
    ).set_defaults(handler=handler)


def _add_cmq_emulator(subparsers: Subcommands) -> None:
    from emulators.cmq.cli import build_parser

    _add_borrowed(
        subparsers,
        "cmq-emulator",
        build_parser("media-bridge cmq-emulator"),
        _run_cmq_emulator,
        help="run the local CMQ / TDMQ-CMQ emulator (for development and tests)",
        description=(
            "A local CMQ (API 2.0 data plane) server with queues in memory, signature checks,\n"
            "leases, long polling and fault injection; see emulators/cmq/README.md."
        ),
    )


def _run_cmq_emulator(args: argparse.Namespace) -> int:
    from emulators.cmq.cli import run

    return run(args)


def _add_vod_emulator(subparsers: Subcommands) -> None:
    from emulators.vod.cli import build_parser

    _add_borrowed(
        subparsers,
        "vod-emulator",
        build_parser("media-bridge vod-emulator"),
        _run_vod_emulator,
        help="run the local VOD API 3.0 emulator (PullEvents / ConfirmEvents)",
        description=(
            "A local VOD API 3.0 server for PullEvents and ConfirmEvents: TC3-HMAC-SHA256\n"
            "verification, 30 s confirm windows, long polls, events per SubAppId, event\n"
            "injection and fault injection; see emulators/vod/README.md."
        ),
    )


def _run_vod_emulator(args: argparse.Namespace) -> int:
    from emulators.vod.cli import run

    return run(args)


def _add_vod_inject(subparsers: Subcommands) -> None:
    from emulators.vod.inject import build_inject_parser

    inject = build_inject_parser("media-bridge vod-inject")
    _add_borrowed(
        subparsers,
        "vod-inject",
        inject,
        _run_vod_inject,
        help="load sample files into a running VOD emulator, as VOD generating events",
        description=textwrap.fill(inject.description or "", width=88),
    )


def _run_vod_inject(args: argparse.Namespace) -> int:
    from emulators.vod.inject import run_inject

    return run_inject(args)


def _add_parked(subparsers: Subcommands) -> None:
    from consumer.parked_arguments import add_common_arguments, positive_count

    parser = subparsers.add_parser(
        "parked",
        help="show parked messages (body, headers, counts per reason) without removing any",
        description=(
            "Show the messages in the parking queue (or --queue): reason, detail, source, "
            "when parked, replay count, every header and the body; then the counts per "
            "reason. Nothing is removed or reordered: each message is looked at unacked and "
            "all are requeued to their places at the end (also if this command dies)."
        ),
        epilog="exit status: 0 shown; 69 the broker is unreachable; 78 bad settings or no such "
        "queue; 64 bad usage.",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--limit",
        type=positive_count,
        default=100,
        metavar="N",
        help="show at most N matching messages (default 100; the counts cover all looked at)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document, whole bodies")
    parser.add_argument("--full-body", action="store_true", help="do not shorten long bodies")
    parser.set_defaults(handler=_run_parked)


def _run_parked(args: argparse.Namespace) -> int:
    from adapters.openers import open_parked
    from consumer.commands.parked import ParkedRequest, main_parked
    from consumer.parked_arguments import selection

    request = ParkedRequest(
        config=_config_file(args),
        queue=args.queue,
        select=selection(args),
        limit=args.limit,
        scan_limit=args.scan,
        as_json=args.json,
        full_body=args.full_body,
    )
    return main_parked(request, open_parked)


def _add_replay(subparsers: Subcommands) -> None:
    from consumer.parked_arguments import add_common_arguments, positive_count

    parser = subparsers.add_parser(
        "replay",
        help="relay parked (or unrouted) messages again with today's parsers",
        description=(
            "Normalize each matching parked message again; publish its events with confirms, "
            "and only then remove it. A message that still fails is parked again with its new "
            "reason and x-replay-count + 1 (confirmed), then the old one is removed; messages "
            "that don't match stay in place, in order. Killed at any point, nothing is lost "
            "(at worst events are published twice, with the same ids). Safe beside a running "
            "bridge. Messages parked as too_many_deliveries are left alone unless --reason "
            "too_many_deliveries is given."
        ),
        epilog="exit status: 0 every matching message delivered; 1 some are still parked; 69 "
        "the broker is unreachable or went away (the rest stays parked); 78 bad settings or "
        "no such queue; 64 bad usage.",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--limit", type=positive_count, metavar="N", help="replay at most N matching messages"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would happen; publish and remove nothing"
    )
    parser.set_defaults(handler=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    from adapters.openers import amqp_section, open_parked, sink_opener
    from consumer.commands.replay import ReplayRequest, main_replay
    from consumer.parked_arguments import selection

    config = _config_file(args)
    request = ReplayRequest(
        config=config,
        queue=args.queue,
        select=selection(args),
        limit=args.limit,
        scan_limit=args.scan,
        dry_run=args.dry_run,
    )
    return main_replay(request, open_parked, sink_opener(amqp_section(config)))


def _config_file(args: argparse.Namespace) -> Path | None:
    import os

    from consumer.settings import CONFIG_ENV

    configured: Path | None = args.config
    return configured or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)


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
    _add_cmq_emulator(subparsers)
    _add_vod_emulator(subparsers)
    _add_vod_inject(subparsers)
    _add_parked(subparsers)
    _add_replay(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
