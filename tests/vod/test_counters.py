"""Every counter the VOD source keeps is exported on /metrics with a help text."""

from __future__ import annotations

from adapters import openers
from adapters.vod_stats import VodStats


def test_every_vod_counter_has_a_metric_help_text() -> None:
    assert set(openers._VOD_COUNTERS) == set(VodStats.names())
