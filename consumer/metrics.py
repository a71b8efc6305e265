"""Prometheus metrics of the relay, registered in a registry the caller owns.

Every series is prefixed ``media_bridge_``. Counters (exported with ``_total``):

* ``deliveries_received``: deliveries taken from the source;
* ``messages_published{destination}`` / ``messages_confirmed{destination}``: publishes started
  and confirmed by the broker (``events`` or ``parking``);
* ``deliveries_acked{outcome}``: source messages acked after a confirm (``relayed`` | ``parked``);
* ``deliveries_parked{reason}``: bodies sent to parking (PayloadReason value, ``unroutable`` or
  ``internal_error``);
* ``deliveries_retried{cause}``: left unacked for redelivery (``sink_unavailable`` |
  ``confirm_timeout``);
* ``ack_failures`` / ``nack_failures`` / ``receive_failures``: source round-trips that failed.

Gauges: ``in_flight`` (deliveries being relayed), ``sink_healthy`` / ``source_healthy`` (1 while
that side is connected and the relay is not backing off from it; read from the adapters at
each scrape by ``consumer.relay``, so a closed link shows at once and a restored one comes
back without waiting for a message).
Histogram ``stage_seconds{stage}``: ``normalize``, ``publish_confirm``, ``ack``, ``total``.

The delivery ledger per source kind (``consumer.metric_instruments.DeliveryLedger``):
``ledger_received``, ``ledger_normalized`` (events), ``ledger_published`` (confirmed
publishes), ``ledger_acked``, ``ledger_acked_without_publish`` (must stay 0) and the gauge
``ledger_published_unacked`` (the duplicate window), all labelled ``source``.

``unrouted_waiting{queue}`` (gauge, with ``sink.unroutable = keep``): the messages in the
unrouted queue as the sink last read it (every few seconds). It is the queue's depth, not a
count of this process's publishes: the broker confirms an event routed to the alternate
exchange like any other and tells the publisher nothing, so no per-publish count exists. It
covers every publisher, and goes down when a replay delivers them.

A source adapter's own counters (e.g. CMQ's late deletes or empty polls) are exported by
:func:`register_source_counters` from a callback the composition root provides, read at each
scrape, as ``media_bridge_<source>_<name>_total``; this module never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from consumer.metric_instruments import DeliveryLedger, InstrumentsCollector

PREFIX = "media_bridge"
STAGES = ("normalize", "publish_confirm", "ack", "total")
DESTINATIONS = ("events", "parking")
OUTCOMES = ("relayed", "parked")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The relay's instruments. Pass a fresh registry per process (or per test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # The per-message instruments are plain numbers exported at scrape time (see
        # consumer.metric_instruments); the rarely-updated ones below are prometheus_client's own.
        hot = InstrumentsCollector()
        self.received = hot.counter(f"{PREFIX}_deliveries_received", "Deliveries received")
        self.published_to = hot.labelled_counters(
            f"{PREFIX}_messages_published", "Publishes started", "destination", DESTINATIONS
        )
        self.confirmed_to = hot.labelled_counters(
            f"{PREFIX}_messages_confirmed", "Publishes confirmed", "destination", DESTINATIONS
        )
        self.acked_as = hot.labelled_counters(
            f"{PREFIX}_deliveries_acked", "Source messages acked", "outcome", OUTCOMES
        )
        self.in_flight = hot.gauge(f"{PREFIX}_in_flight", "Deliveries being relayed")
        self.stage = hot.histogram(
            f"{PREFIX}_stage_seconds", "Time spent per relay stage", "stage", STAGES, LATENCY_BUCKETS
        )
        r.register(hot)
        self.ledger = DeliveryLedger(PREFIX)
        r.register(self.ledger)
        self.parked = Counter(
            f"{PREFIX}_deliveries_parked", "Bodies parked", ["reason"], registry=r
        )
        self.retried = Counter(
            f"{PREFIX}_deliveries_retried", "Deliveries left for redelivery", ["cause"], registry=r
        )
        self.ack_failures = Counter(f"{PREFIX}_ack_failures", "Acks that failed", registry=r)
        self.nack_failures = Counter(f"{PREFIX}_nack_failures", "Nacks that failed", registry=r)
        self.receive_failures = Counter(
            f"{PREFIX}_receive_failures", "Receives that failed", registry=r
        )
        self.sink_healthy = Gauge(
            f"{PREFIX}_sink_healthy",
            "1 while the sink is connected and confirms, 0 while down or backing off",
            registry=r,
        )
        self.sink_healthy.set(1)
        self.source_healthy = Gauge(
            f"{PREFIX}_source_healthy",
            "1 while the source is connected and can be read, 0 while down or backing off",
            registry=r,
        )
        self.source_healthy.set(1)


@dataclass(frozen=True, slots=True)
class SourceCounter:
    """One monotonic counter an adapter keeps (``name`` without prefix or ``_total``).

    ``labels`` tell apart the series of one name, e.g. ``(("sub_app_id", "1500000001"),)`` for
    each VOD sub-app; every counter of one name must use the same label names.
    """

    name: str
    help: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


class SourceCountersCollector(Collector):
    """Exports whatever ``read()`` returns at scrape time, so the adapter keeps plain ints."""

    def __init__(self, source: str, read: Callable[[], Iterable[SourceCounter]]) -> None:
        self._prefix = f"{PREFIX}_{source}"
        self._read = read

    def collect(self) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily] = {}
        for counter in self._read():
            family = families.get(counter.name)
            if family is None:
                family = families[counter.name] = CounterMetricFamily(
                    f"{self._prefix}_{counter.name}",
                    counter.help,
                    labels=[name for name, _ in counter.labels],
                )
            family.add_metric([value for _, value in counter.labels], counter.value)
        yield from families.values()

    def describe(self) -> Iterator[Metric]:
        # Registering must not call read(): the adapter may not exist yet.
        return iter(())


class UnroutedGauge(Collector):
    """``unrouted_waiting{queue}`` from ``read()`` at scrape time; nothing while it is None."""

    def __init__(self, queue: str, read: Callable[[], int | None]) -> None:
        self._queue = queue
        self._read = read

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            f"{PREFIX}_unrouted_waiting",
            "Messages in the unrouted queue (alternate exchange), as last read",
            labels=["queue"],
        )
        depth = self._read()
        if depth is not None:
            family.add_metric([self._queue], depth)
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


def register_unrouted_gauge(
    registry: CollectorRegistry, queue: str, read: Callable[[], int | None]
) -> UnroutedGauge:
    """Export the unrouted queue's depth (see the module docstring)."""
    collector = UnroutedGauge(queue, read)
    registry.register(collector)
    return collector


def register_source_counters(
    registry: CollectorRegistry, source: str, read: Callable[[], Iterable[SourceCounter]]
) -> SourceCountersCollector:
    """Export a source adapter's counters as ``media_bridge_<source>_<name>_total``."""
    collector = SourceCountersCollector(source, read)
    registry.register(collector)
    return collector
