"""Running the emulator: in-process for tests (``run_vod_emulator``) or as a blocking server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from emulators.serving import ResponseDropped, serve_blocking, serve_in_background
from emulators.vod.app import VodEmulatorApp
from emulators.vod.config import FaultSettings, VodEmulatorConfig
from emulators.vod.events import EventCounts


@dataclass(frozen=True, slots=True)
class RunningVodEmulator:
    """A started emulator: where it listens, plus in-process access to its state for tests."""

    app: VodEmulatorApp
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        """``host:port``, what Tencent's SDK takes as ``HttpProfile(endpoint=...)``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The API URL, e.g. ``http://127.0.0.1:40123/`` (API 3.0 requests go to ``/``)."""
        return f"http://{self.endpoint}/"

    @property
    def admin_url(self) -> str:
        """The base of the unsigned admin routes, ``http://host:port/_admin``."""
        return f"http://{self.endpoint}/_admin"

    @property
    def main_app_id(self) -> int:
        """The SubAppId used by requests that name none."""
        return self.app.settings.main_app_id

    def inject(
        self, sub_app_id: int | None, events: Mapping[str, Any] | Iterable[Mapping[str, Any]]
    ) -> int:
        """Make events pullable (see ``VodEmulatorApp.inject``); how many were added."""
        return self.app.inject(sub_app_id, events)

    def counts(self, sub_app_id: int | None = None) -> EventCounts:
        """pullable / leased / confirmed / redelivered / injected / pulled for one SubAppId."""
        return self.app.counts(sub_app_id)

    def expire_leases(self, sub_app_id: int | None = None) -> int:
        """End leases now, as if the confirm window ran out (None: every SubAppId)."""
        return self.app.expire_leases(sub_app_id)

    def set_faults(self, settings: FaultSettings) -> None:
        """Change the injected faults while running (restarts the seeded sequence)."""
        self.app.set_faults(settings)

    def set_confirm_window(self, seconds: float) -> None:
        """The lease length of events pulled from now on."""
        if seconds <= 0:
            raise ValueError("the confirm window must be positive")
        self.app.settings.confirm_window_s = seconds

    def set_empty_hold(self, seconds: float) -> None:
        """How long empty polls started from now on are held."""
        if seconds < 0:
            raise ValueError("the hold must not be negative")
        self.app.settings.empty_hold_s = seconds

    def set_rate_limit(self, per_second: int | None) -> None:
        """Requests per second per SecretId before RequestLimitExceeded (None: unlimited)."""
        if per_second is not None and per_second < 1:
            raise ValueError("the rate limit must be at least 1 request per second")
        self.app.rate_limiter.limit = per_second


@contextlib.asynccontextmanager
async def run_vod_emulator(
    config: VodEmulatorConfig, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningVodEmulator]:
    """Serve the emulator on ``host:port`` (0: any free port) for the duration of the block."""
    app = VodEmulatorApp(config)
    async with serve_in_background(
        app, host=host, port=port, dropped=ResponseDropped, name="VOD emulator"
    ) as bound_port:
        yield RunningVodEmulator(app, host, bound_port)


def serve_forever(
    config: VodEmulatorConfig,
    *,
    host: str,
    port: int,
    preload: Iterable[tuple[int | None, list[Mapping[str, Any]]]] = (),
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (the standalone command), with ``preload`` injected first.

    ``on_listening`` gets the bound port once the socket is bound (e.g. to print a banner).
    """
    app = VodEmulatorApp(config)
    for sub_app_id, events in preload:
        app.inject(sub_app_id, events)
    serve_blocking(app, host=host, port=port, dropped=ResponseDropped, on_listening=on_listening)
