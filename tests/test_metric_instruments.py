"""The relay's plain-number instruments read back through a Prometheus registry."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from consumer.metric_instruments import InstrumentsCollector, PlainHistogram
from consumer.metrics import Metrics


def test_histogram_bucket_bounds_are_inclusive_and_exported_cumulative() -> None:
    registry = CollectorRegistry()
    hot = InstrumentsCollector()
    stages = hot.histogram("demo_seconds", "demo", "stage", ["a"], [0.01, 0.1, 1.0])
    registry.register(hot)
    for value in (0.01, 0.05, 0.1, 0.5, 7.0):
        stages["a"].observe(value)

    def bucket(le: str) -> float | None:
        return registry.get_sample_value("demo_seconds_bucket", {"stage": "a", "le": le})

    assert [bucket(le) for le in ("0.01", "0.1", "1.0", "+Inf")] == [1.0, 3.0, 4.0, 5.0]
    assert registry.get_sample_value("demo_seconds_count", {"stage": "a"}) == 5.0
    assert registry.get_sample_value("demo_seconds_sum", {"stage": "a"}) == pytest.approx(7.66)


def test_relay_metrics_export_counters_gauge_and_histograms_under_their_names() -> None:
    metrics = Metrics()
    metrics.received.inc(3)
    metrics.published_to["events"].inc()
    metrics.confirmed_to["parking"].inc(2)
    metrics.acked_as["relayed"].inc()
    metrics.in_flight.inc()
    metrics.in_flight.inc()
    metrics.in_flight.dec()
    metrics.stage["total"].observe(0.002)
    value = metrics.registry.get_sample_value

    assert value("media_bridge_deliveries_received_total") == 3.0
    assert value("media_bridge_messages_published_total", {"destination": "events"}) == 1.0
    assert value("media_bridge_messages_confirmed_total", {"destination": "parking"}) == 2.0
    assert value("media_bridge_deliveries_acked_total", {"outcome": "relayed"}) == 1.0
    assert value("media_bridge_deliveries_acked_total", {"outcome": "parked"}) == 0.0
    assert value("media_bridge_in_flight") == 1.0
    assert value("media_bridge_stage_seconds_bucket", {"stage": "total", "le": "0.0025"}) == 1.0
    assert value("media_bridge_stage_seconds_bucket", {"stage": "total", "le": "0.001"}) == 0.0


def test_a_second_collector_with_the_same_names_is_refused() -> None:
    metrics = Metrics()
    duplicate = InstrumentsCollector()
    duplicate.counter("media_bridge_deliveries_received", "again")
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        metrics.registry.register(duplicate)


def test_histogram_without_observations_exports_zero_everywhere() -> None:
    histogram = PlainHistogram([0.5, 0.1])
    assert histogram.bounds == (0.1, 0.5)
    assert histogram.cumulative() == [("0.1", 0.0), ("0.5", 0.0), ("+Inf", 0.0)]
