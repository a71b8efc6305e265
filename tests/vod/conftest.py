"""Every VOD source test runs on both call paths: the fast path (SDK-signed requests over the
lean HTTP client) and the plain path (the SDK's public client), so an SDK upgrade that disables
the fast path changes speed, never behaviour."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.vod import helpers


@pytest.fixture(params=[True, False], ids=["fast-path", "plain-path"], autouse=True)
def vod_call_path(request: pytest.FixtureRequest) -> Iterator[bool]:
    previous = helpers.FAST_PATH
    helpers.FAST_PATH = request.param
    yield request.param
    helpers.FAST_PATH = previous
