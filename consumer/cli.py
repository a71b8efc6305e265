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

    from prometheus_client import CollectorRegistry

    from adapters.cmq import CmqSource
    from adapters.vod import VodSource
    from consumer.metrics import SourceCounter
    from consumer.ports import Sink, Source
    from consumer.run_command import OpenSource
    from consumer.settings import CmqSourceSettings, SinkSettings, SourceSettings
    from consumer.settings_source import VodSourceSettings


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
    import os

    from prometheus_client import CollectorRegistry

    from consumer.run_command import main_run
    from consumer.settings import CONFIG_ENV

    config = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    registry = CollectorRegistry()  # served on /metrics; the source may add its counters
    return main_run(config, source_opener(registry), _open_sink, registry=registry)


def source_opener(registry: CollectorRegistry) -> OpenSource:
    """The source factory for ``run``: one case per source kind (``settings.kind``)."""

    async def open_source(settings: SourceSettings, prefetch: int) -> Source:
        from consumer.metrics import register_source_counters

        if settings.kind == "cmq":
            source = await _open_cmq(settings)
            register_source_counters(registry, "cmq", lambda: _cmq_counters(source))
            return source
        if settings.kind == "vod":
            vod = await _open_vod(settings)
            register_source_counters(registry, "vod", lambda: _vod_counters(vod))
            return vod
        from adapters.rabbitmq import RabbitSource, RabbitSourceOptions

        options = RabbitSourceOptions(
            url=settings.url.get_secret_value(), queue=settings.queue, prefetch=prefetch
        )
        return await RabbitSource.connect(options)

    return open_source


async def _open_cmq(settings: CmqSourceSettings) -> CmqSource:
    from adapters.cmq import CmqSource, CmqSourceOptions
    from adapters.cmq_signing import SignatureMethod

    token = settings.token.get_secret_value() if settings.token is not None else None
    options = CmqSourceOptions(
        endpoint=settings.endpoint,
        secret_id=settings.secret_id,
        secret_key=settings.secret_key.get_secret_value(),
        token=token,
        queues=tuple(settings.queues),
        batch_size=settings.batch_size,
        polling_wait_seconds=settings.polling_wait_seconds,
        signature_method=SignatureMethod(settings.signature_method),
        http_timeout=settings.http_timeout_s,
        retry_initial_backoff=settings.retry_initial_backoff_s,
        retry_max_backoff=max(settings.retry_max_backoff_s, settings.retry_initial_backoff_s),
        receive_retry_attempts=settings.receive_retry_attempts,
        delete_coalesce_window=settings.delete_coalesce_window_s,
    )
    return await CmqSource.connect(options)


async def _open_vod(settings: VodSourceSettings) -> VodSource:
    from adapters.vod import VodSource, VodSourceOptions

    token = settings.token.get_secret_value() if settings.token is not None else None
    options = VodSourceOptions(
        endpoint=settings.endpoint,
        secret_id=settings.secret_id,
        secret_key=settings.secret_key.get_secret_value(),
        token=token,
        sub_app_ids=tuple(settings.sub_app_ids),
        requests_per_second=settings.requests_per_second,
        concurrent_pulls=settings.concurrent_pulls,
        http_timeout=settings.http_timeout_s,
        confirm_window=settings.confirm_window_s,
        retry_initial_backoff=settings.retry_initial_backoff_s,
        retry_max_backoff=max(settings.retry_max_backoff_s, settings.retry_initial_backoff_s),
        receive_retry_attempts=settings.receive_retry_attempts,
        confirm_coalesce_window=settings.confirm_coalesce_window_s,
    )
    return await VodSource.connect(options)


# What each VodStats counter means, for the /metrics HELP lines (one series per sub-app).
_VOD_COUNTERS = {
    "pulls": "VOD PullEvents calls answered",
    "empty_pulls": "VOD PullEvents answered with no event",
    "events_pulled": "VOD events received from PullEvents",
    "confirmed": "VOD event handles confirmed by ConfirmEvents",
    "late_confirms": "VOD acks not sent: the confirm window had passed (the event comes again)",
    "expired_handles": "VOD confirms answered InvalidParameterValue: the handle was dead",
    "expired_in_buffer": "VOD events whose window ran out before the relay took them",
    "retries": "VOD PullEvents/ConfirmEvents calls retried (InternalError, 5xx, network)",
    "throttles": "VOD RequestLimitExceeded replies, either action",
    "confirm_failures": "VOD acks that gave up (the event comes again)",
}


def _vod_counters(source: VodSource) -> list[SourceCounter]:
    from consumer.metrics import SourceCounter

    return [
        SourceCounter(name, text, getattr(stats, name), (("sub_app_id", str(app)),))
        for name, text in _VOD_COUNTERS.items()
        for app, stats in source.stats.items()
    ]


# What each CmqStats counter means, for the /metrics HELP lines.
_CMQ_COUNTERS = {
    "received": "CMQ messages leased by BatchReceiveMessage",
    "deleted": "CMQ messages CMQ confirmed deleted",
    "late_deletes": "CMQ acks skipped because the lease had run out (message comes again)",
    "invalid_handles": "CMQ deletes answered 4430: lease lost or already deleted",
    "expired_in_buffer": "CMQ leases that ran out before the relay took the message",
    "empty_polls": "CMQ long polls that ended with no message (code 7000)",
    "receive_retries": "CMQ BatchReceiveMessage calls retried (throttling, 6000, 5xx, network)",
    "delete_retries": "CMQ BatchDeleteMessage calls retried",
    "delete_failures": "CMQ acks that gave up (the message comes again)",
    "throttled": "CMQ replies 4420/4480 (throttled), any action",
}


def _cmq_counters(source: CmqSource) -> list[SourceCounter]:
    from consumer.metrics import SourceCounter

    stats = source.stats
    return [SourceCounter(name, text, getattr(stats, name)) for name, text in _CMQ_COUNTERS.items()]


def _add_cmq_emulator(subparsers: Subcommands) -> None:
    from emulators.cmq.cli import build_parser

    emulator = build_parser("media-bridge cmq-emulator")
    subparsers.add_parser(
        "cmq-emulator",
        # Only its arguments are borrowed; the class of the parent parser does not matter.
        parents=[emulator],  # type: ignore[list-item]
        add_help=False,  # the parent parser brings -h/--help
        epilog=emulator.epilog,
        help="run the local CMQ / TDMQ-CMQ emulator (for development and tests)",
        description=(
            "A local CMQ (API 2.0 data plane) server with queues in memory, signature checks, "
            "leases, long polling and fault injection; see emulators/cmq/README.md."
        ),
    ).set_defaults(handler=_run_cmq_emulator)


def _run_cmq_emulator(args: argparse.Namespace) -> int:
    from emulators.cmq.cli import run

    return run(args)


def _add_vod_emulator(subparsers: Subcommands) -> None:
    from emulators.vod.cli import build_parser

    emulator = build_parser("media-bridge vod-emulator")
    subparsers.add_parser(
        "vod-emulator",
        parents=[emulator],  # type: ignore[list-item]
        add_help=False,
        epilog=emulator.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="run the local VOD API 3.0 emulator (PullEvents / ConfirmEvents)",
        description=(
            "A local VOD API 3.0 server for PullEvents and ConfirmEvents: TC3-HMAC-SHA256\n"
            "verification, 30 s confirm windows, long polls, events per SubAppId, event\n"
            "injection and fault injection; see emulators/vod/README.md."
        ),
    ).set_defaults(handler=_run_vod_emulator)


def _run_vod_emulator(args: argparse.Namespace) -> int:
    from emulators.vod.cli import run

    return run(args)


def _add_vod_inject(subparsers: Subcommands) -> None:
    from emulators.vod.inject import build_inject_parser

    inject = build_inject_parser("media-bridge vod-inject")
    subparsers.add_parser(
        "vod-inject",
        parents=[inject],  # type: ignore[list-item]
        add_help=False,
        epilog=inject.epilog,
        help="load sample files into a running VOD emulator, as VOD generating events",
        description=inject.description,
    ).set_defaults(handler=_run_vod_inject)


def _run_vod_inject(args: argparse.Namespace) -> int:
    from emulators.vod.inject import run_inject

    return run_inject(args)


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
    _add_cmq_emulator(subparsers)
    _add_vod_emulator(subparsers)
    _add_vod_inject(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
