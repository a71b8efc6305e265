"""The adapters behind ``media-bridge``: one opener per source kind, the sink, the parking queue.

``consumer/cli.py`` (the subcommands, the composition root: the one module of ``consumer/``
that imports ``adapters/``) calls these. Each adapter is imported inside the opener that needs
it, so a subcommand loads only its own transport.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from adapters.cmq import CmqSource
    from adapters.http_source import HttpSource
    from adapters.rabbitmq import RabbitSink
    from adapters.vod import VodSource
    from consumer.commands.run import OpenSink, OpenSource
    from consumer.metrics import SourceCounter
    from consumer.parked import ParkedQueue
    from consumer.ports import Sink, Source
    from consumer.settings import AmqpSettings, CmqSourceSettings, SinkSettings, SourceSettings
    from consumer.settings.sources import HttpSourceSettings, VodSourceSettings


def amqp_section(config: Path | None) -> Callable[[], AmqpSettings]:
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
            queue_type=settings.queue_type,
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


UNROUTED_POLL_S = 5.0  # how often `run` reads the unrouted queue's depth for /metrics


def sink_opener(
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
        queue_type=settings.queue_type,
    )
    return await RabbitSink.connect(options)


async def open_parked(settings: SinkSettings, queue: str) -> ParkedQueue:
    from adapters.rabbitmq_parked import RabbitParkedQueue

    return await RabbitParkedQueue.connect(settings.url.get_secret_value(), queue)
