"""Instruments for the relay's per-message path: plain numbers, turned into metrics at scrape time.

``prometheus_client``'s Counter/Gauge/Histogram take a lock on every update (they are built
for threaded servers) and a Histogram walks its buckets in Python: about 20 µs per relayed
message across the seven updates the relay makes, a tenth of the engine's own cost. The
relay runs in one event loop thread and ``/metrics`` is served from that same loop, so these
instruments keep plain ints and floats, and :class:`InstrumentsCollector` reports them in the
usual Prometheus shapes (``_total`` counters, cumulative ``_bucket``/``_count``/``_sum``) when
the registry is scraped. Reading them from another thread is still safe under the GIL; such a
reader could see a histogram's count and sum one observation apart, never a torn number.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from itertools import accumulate

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector


class PlainCounter:
    """A monotonic count (``inc`` only), exported as ``<name>_total``."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class PlainGauge:
    """A value that goes up and down (``inc``/``dec``)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class PlainHistogram:
    """Observations counted per bucket; ``bounds`` are the finite upper bounds (``le``)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(sorted(bounds))
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # Prometheus buckets are inclusive: the first bound >= value takes it.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, count of observations <= le)`` pairs, ending with ``+Inf``, as exported."""
        labels = [_le(bound) for bound in self.bounds] + ["+Inf"]
        return list(zip(labels, (float(n) for n in accumulate(self.counts)), strict=True))


class InstrumentsCollector(Collector):
    """Exports labelled families of plain instruments; registered once per registry."""

    def __init__(self) -> None:
        self._counters: list[tuple[str, str, str, Mapping[str, PlainCounter]]] = []
        self._gauges: list[tuple[str, str, PlainGauge]] = []
        self._histograms: list[tuple[str, str, str, Mapping[str, PlainHistogram]]] = []

    def counter(self, name: str, help: str) -> PlainCounter:
        """One unlabelled counter."""
        counter = PlainCounter()
        self._counters.append((name, help, "", {"": counter}))
        return counter

    def labelled_counters(
        self, name: str, help: str, label: str, values: Sequence[str]
    ) -> dict[str, PlainCounter]:
        """One counter per value of ``label`` (the values are fixed up front)."""
        children = {value: PlainCounter() for value in values}
        self._counters.append((name, help, label, children))
        return children

    def gauge(self, name: str, help: str) -> PlainGauge:
        gauge = PlainGauge()
        self._gauges.append((name, help, gauge))
        return gauge

    def histogram(
        self, name: str, help: str, label: str, values: Sequence[str], bounds: Sequence[float]
    ) -> dict[str, PlainHistogram]:
        children = {value: PlainHistogram(bounds) for value in values}
        self._histograms.append((name, help, label, children))
        return children

    def describe(self) -> Iterator[Metric]:
        # Lets the registry refuse a second collector exporting the same names.
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        for name, help, label, counters in self._counters:
            family = CounterMetricFamily(name, help, labels=[label] if label else [])
            for value, counter in counters.items():
                family.add_metric([value] if label else [], counter.value)
            yield family
        for name, help, gauge in self._gauges:
            yield GaugeMetricFamily(name, help, value=gauge.value)
        for name, help, label, histograms in self._histograms:
            histogram_family = HistogramMetricFamily(name, help, labels=[label])
            for value, histogram in histograms.items():
                histogram_family.add_metric([value], histogram.cumulative(), histogram.sum)
            yield histogram_family


class LedgerEntry:
    """One source's delivery ledger: plain ints, bumped in place by the relay.

    Deliveries received → events normalized → messages published (confirmed: events and parked
    bodies) → deliveries acked; ``published_unacked`` deliveries are confirmed but not yet
    acked (the window in which a crash makes duplicates); ``acked_without_publish`` counts
    deliveries acked with no confirmed publish, which the relay's ordering makes impossible:
    anything but 0 is a bug.
    """

    __slots__ = (
        "acked",
        "acked_without_publish",
        "normalized",
        "published",
        "published_unacked",
        "received",
    )

    def __init__(self) -> None:
        self.received = 0
        self.normalized = 0
        self.published = 0
        self.acked = 0
        self.published_unacked = 0
        self.acked_without_publish = 0


# (attribute, metric name without prefix, help); the gauge is the one without ``_total``.
_LEDGER_COUNTERS = (
    ("received", "ledger_received", "Deliveries received, per source"),
    ("normalized", "ledger_normalized", "Events normalized from them"),
    ("published", "ledger_published", "Publishes confirmed for them (events and parked bodies)"),
    ("acked", "ledger_acked", "Deliveries acked after their confirms"),
    ("acked_without_publish", "ledger_acked_without_publish",
     "Deliveries acked without any confirmed publish: must stay 0"),
)
MAX_SOURCE_STRINGS = 1024  # full DeliveryInfo.source strings remembered for the fast lookup


class DeliveryLedger(Collector):
    """The ledger per source *kind*: the ``DeliveryInfo.source`` part before ``:`` (``rabbitmq``,
    ``cmq``, ``vod``, ``http``), so queue or sub-app names never multiply the series."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._by_source: dict[str, LedgerEntry] = {}  # "cmq:mps-events" → the "cmq" entry
        self._by_label: dict[str, LedgerEntry] = {}

    def of(self, source: str) -> LedgerEntry:
        """The entry of a delivery's ``info.source``: one dict lookup on the hot path."""
        entry = self._by_source.get(source)
        if entry is None:
            label = source.partition(":")[0] or "unknown"
            entry = self._by_label.get(label)
            if entry is None:
                entry = self._by_label[label] = LedgerEntry()
            if len(self._by_source) < MAX_SOURCE_STRINGS:
                self._by_source[source] = entry
        return entry

    def describe(self) -> Iterator[Metric]:
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        entries = sorted(self._by_label.items())
        for attribute, name, help in _LEDGER_COUNTERS:
            family = CounterMetricFamily(f"{self._prefix}_{name}", help, labels=["source"])
            for label, entry in entries:
                family.add_metric([label], getattr(entry, attribute))
            yield family
        gauge = GaugeMetricFamily(
            f"{self._prefix}_ledger_published_unacked",
            "Deliveries confirmed but not yet acked (a crash now makes duplicates)",
            labels=["source"],
        )
        for label, entry in entries:
            gauge.add_metric([label], entry.published_unacked)
        yield gauge


def _le(bound: float) -> str:
    # The text prometheus_client's own Histogram writes for a bound (e.g. "0.005", "1.0").
    return repr(float(bound))
