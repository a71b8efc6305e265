"""The ``media-bridge`` command: the composition root.

This is the only module of ``consumer/`` that may import ``adapters/`` (lazily, inside the
subcommand that needs them), so the core never depends on a transport.

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

    from prometheus_client import CollectorRegistry

    from adapters.cmq import CmqSource
    from adapters.http_source import HttpSource
    from adapters.rabbitmq import RabbitSink
    from adapters.vod import VodSource
    from consumer.metrics import SourceCounter
    from consumer.parked import ParkedQueue
    from consumer.ports import Sink, Source
    from consumer.run_command import OpenSink, OpenSource
    from consumer.settings import AmqpSettings, CmqSourceSettings, SinkSettings, SourceSettings
    from consumer.settings_source import HttpSourceSettings, VodSourceSettings


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
    amqp = _amqp_section(config)
    return main_run(
        config, source_opener(registry, amqp), _sink_opener(amqp, registry), registry=registry
    )


def _amqp_section(config: Path | None) -> Callable[[], AmqpSettings]:
    """The ``[amqp]`` settings, for the RabbitMQ adapters. ``main_run`` gives each opener only
    its own section, once it loaded and validated them all, so this reads them again then."""

    def read() -> AmqpSettings:
        from consumer.settings import load_settings

        return load_settings(config).amqp

    return read


def source_opener(
    registry: CollectorRegistry, amqp: Callable[[], AmqpSettings] | None = None
) -> OpenSource:
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
        if settings.kind == "http":
            return await _open_http(settings, registry)
        from adapters.rabbitmq import RabbitSource, RabbitSourceOptions

        options = RabbitSourceOptions(
            url=settings.url.get_secret_value(),
            queue=settings.queue,
            prefetch=prefetch,
            fast_path=amqp().fast_path if amqp else True,
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


async def _open_http(settings: HttpSourceSettings, registry: CollectorRegistry) -> HttpSource:
    """The HTTP push receiver, listening when this returns; its metrics join ``registry``."""
    from adapters.http_source import (
        Endpoint,
        HttpMetricsCollector,
        HttpSource,
        HttpSourceOptions,
        Scheme,
    )

    schemes = {"vod": Scheme.VOD, "mps": Scheme.MPS}  # vod_v2 and cmq have no signature
    endpoints = tuple(
        Endpoint(
            path=table.path,
            scheme=schemes.get(name, Scheme.NONE) if table.keys else Scheme.NONE,
            keys=tuple(key.get_secret_value() for key in table.keys),
            tokens=tuple(token.get_secret_value() for token in table.tokens),
            allow_from=tuple(table.allow_from),
            unauthenticated=table.unauthenticated,
        )
        for name, table in settings.paths().items()
    )
    options = HttpSourceOptions(
        host=settings.host,
        port=settings.port,
        endpoints=endpoints,
        max_body_bytes=settings.max_body_bytes,
        content_types=tuple(settings.content_types),
        max_in_progress=settings.max_in_progress,
        max_connections=settings.max_connections,
        request_timeout=settings.request_timeout_s,
        header_timeout=settings.header_timeout_s,
        body_timeout=settings.body_timeout_s,
        keep_alive_timeout=settings.keep_alive_s,
        retry_after=settings.retry_after_s,
        max_clock_skew=settings.max_clock_skew_s,
        trusted_proxies=tuple(str(network) for network in settings.trusted_proxies),
    )
    source = await HttpSource.open(options)
    registry.register(HttpMetricsCollector(source.metrics))
    return source


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


UNROUTED_POLL_S = 5.0  # how often `run` reads the unrouted queue's depth for /metrics


def _sink_opener(
    amqp: Callable[[], AmqpSettings], registry: CollectorRegistry | None = None
) -> OpenSink:
    """Opens the sink; with ``registry`` (``run``, not ``replay``) it also exports the depth of
    the unrouted queue, which the sink reads every ``UNROUTED_POLL_S``."""

    async def open_sink(settings: SinkSettings) -> Sink:
        from consumer.metrics import register_unrouted_gauge

        sink = await _open_sink(settings, fast_path=amqp().fast_path)
        if registry is not None and sink.keeps_unrouted:
            sink.watch_unrouted(UNROUTED_POLL_S)
            register_unrouted_gauge(registry, settings.unrouted_queue, lambda: sink.unrouted_depth)
        return sink

    return open_sink


async def _open_sink(settings: SinkSettings, *, fast_path: bool = True) -> RabbitSink:
    from adapters.rabbitmq import RabbitSink, RabbitSinkOptions
    from adapters.rabbitmq_topology import Unrouted

    options = RabbitSinkOptions(
        url=settings.url.get_secret_value(),
        events_exchange=settings.events_exchange,
        parking_exchange=settings.parking_exchange,
        parking_queue=settings.parking_queue,
        confirm_timeout_s=settings.confirm_timeout_s,
        fast_path=fast_path,
        unrouted=(
            Unrouted(settings.unrouted_exchange, settings.unrouted_queue)
            if settings.unroutable == "keep"
            else None
        ),
    )
    return await RabbitSink.connect(options)


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
        "--limit", type=positive_count, default=100, metavar="N",
        help="show at most N matching messages (default 100; the counts cover all looked at)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document, whole bodies")
    parser.add_argument("--full-body", action="store_true", help="do not shorten long bodies")
    parser.set_defaults(handler=_run_parked)


def _run_parked(args: argparse.Namespace) -> int:
    from consumer.parked_arguments import selection
    from consumer.parked_command import ParkedRequest, main_parked

    request = ParkedRequest(
        config=_config_file(args),
        queue=args.queue,
        select=selection(args),
        limit=args.limit,
        scan_limit=args.scan,
        as_json=args.json,
        full_body=args.full_body,
    )
    return main_parked(request, _open_parked)


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
    from consumer.parked_arguments import selection
    from consumer.replay_command import ReplayRequest, main_replay

    config = _config_file(args)
    request = ReplayRequest(
        config=config,
        queue=args.queue,
        select=selection(args),
        limit=args.limit,
        scan_limit=args.scan,
        dry_run=args.dry_run,
    )
    return main_replay(request, _open_parked, _sink_opener(_amqp_section(config)))


def _config_file(args: argparse.Namespace) -> Path | None:
    import os

    from consumer.settings import CONFIG_ENV

    configured: Path | None = args.config
    return configured or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)


async def _open_parked(settings: SinkSettings, queue: str) -> ParkedQueue:
    from adapters.rabbitmq_parked import RabbitParkedQueue

    return await RabbitParkedQueue.connect(settings.url.get_secret_value(), queue)


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
