"""What ``media-bridge run`` does to the garbage collector once it is connected."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from consumer.commands.run import GC_THRESHOLDS, tune_garbage_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_heap_is_frozen_and_the_young_generation_waits_longer() -> None:
    """Start-up objects leave the collector's passes; gen 0 waits for 20,000 net allocations."""
    built_at_start_up = [{"n": n} for n in range(1000)]
    tune_garbage_collector()
    assert gc.get_freeze_count() >= len(built_at_start_up)
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700  # CPython's default, which cost the relay ~8% of its CPU
