"""The HTTP receiver's instruments: plain numbers, exported as Prometheus metrics at scrape time.

Like the relay's (``consumer.metric_instruments``), they are updated from the one event loop thread
and turned into metric families only when ``/metrics`` is read, so a request costs a few dict
updates, not a lock per instrument. The ``path`` label is one of the configured paths, or
``unmatched`` for every other path (so a scan can't grow the series without bound).

* ``media_bridge_http_requests_total{path,status}``: answered requests;
* ``media_bridge_http_auth_failures_total{path,reason}``: refused as not Tencent's
  (``adapters.http_auth.AuthFailure``: the ``signature_*`` reasons, tokens, addresses);
* ``media_bridge_http_request_seconds{path}``: from the request head to the response;
* ``media_bridge_http_in_progress``: requests admitted and not answered yet;
* ``media_bridge_http_listening``: 1 while the receiver accepts connections;
* ``media_bridge_http_header_timeouts_total``: connections closed for a head that came too slowly;
* ``media_bridge_http_late_confirms_total``: confirmed after the request had been answered 503
  (its events are on the exchange; the sender's retry publishes them again, same ids).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from consumer.metric_instruments import PlainHistogram
from consumer.metrics import LATENCY_BUCKETS, PREFIX

UNMATCHED = "unmatched"
_NAME = f"{PREFIX}_http"


class HttpMetrics:
    """Counters of one receiver since it was created."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.auth_failures: Counter[tuple[str, str]] = Counter()
        self.latency = {path: PlainHistogram(LATENCY_BUCKETS) for path in (*paths, UNMATCHED)}
        self.in_progress = 0
        self.listening = False
        self.header_timeouts = 0
        self.late_confirms = 0

    def answered(self, path: str, status: int, seconds: float) -> None:
        """Count one response; ``path`` is a configured path or UNMATCHED."""
        self.requests[path, status] += 1
        self.latency[path].observe(seconds)


class HttpMetricsCollector(Collector):
    """Exports one :class:`HttpMetrics`; register it in the registry ``/metrics`` serves."""

    def __init__(self, metrics: HttpMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[Metric]:
        # Lets the registry refuse a second receiver exporting the same names.
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        requests = CounterMetricFamily(
            f"{_NAME}_requests", "HTTP requests answered", labels=["path", "status"]
        )
        for (path, status), count in sorted(m.requests.items()):
            requests.add_metric([path, str(status)], count)
        yield requests
        failures = CounterMetricFamily(
            f"{_NAME}_auth_failures",
            "HTTP requests refused as not Tencent's (signature, token, address)",
            labels=["path", "reason"],
        )
        for (path, reason), count in sorted(m.auth_failures.items()):
            failures.add_metric([path, reason], count)
        yield failures
        latency = HistogramMetricFamily(
            f"{_NAME}_request_seconds", "HTTP request head to response", labels=["path"]
        )
        for path, histogram in m.latency.items():
            latency.add_metric([path], histogram.cumulative(), histogram.sum)
        yield latency
        yield GaugeMetricFamily(
            f"{_NAME}_in_progress", "HTTP requests admitted and not answered", value=m.in_progress
        )
        yield GaugeMetricFamily(
            f"{_NAME}_listening", "1 while the HTTP receiver accepts connections",
            value=int(m.listening),
        )  # fmt: skip
        yield CounterMetricFamily(
            f"{_NAME}_header_timeouts",
            "HTTP connections closed because the request head came too slowly",
            value=m.header_timeouts,
        )
        yield CounterMetricFamily(
            f"{_NAME}_late_confirms",
            "HTTP requests confirmed after they were answered 503 (the retry repeats them)",
            value=m.late_confirms,
        )
