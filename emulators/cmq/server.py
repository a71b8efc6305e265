"""Running the emulator: in-process for tests (``run_cmq_emulator``) or as a blocking server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from adapters.cmq_signing import CMQ_PATH
from emulators.cmq.app import CmqEmulatorApp
from emulators.cmq.config import EmulatorConfig, FaultSettings
from emulators.cmq.queue import EmulatedQueue
from emulators.serving import ResponseDropped, serve_blocking, serve_in_background


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A started emulator: its base URL plus in-process access to its state for tests."""

    app: CmqEmulatorApp
    host: str
    port: int

    @property
    def url(self) -> str:
        """The endpoint to give a CMQ client, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def index_url(self) -> str:
        """The full API URL (``/v2/index.php``)."""
        return self.url + CMQ_PATH

    def queue(self, name: str) -> EmulatedQueue:
        """A queue by name, to seed or inspect it directly (KeyError if it does not exist)."""
        return self.app.queues.lookup(name)

    def set_faults(self, settings: FaultSettings) -> None:
        """Change the injected faults while running."""
        self.app.set_faults(settings)


@contextlib.asynccontextmanager
async def run_cmq_emulator(
    config: EmulatorConfig, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningEmulator]:
    """Serve the emulator on ``host:port`` (0: any free port) for the duration of the block."""
    app = CmqEmulatorApp(config)
    async with serve_in_background(
        app, host=host, port=port, dropped=ResponseDropped, name="CMQ emulator"
    ) as bound_port:
        yield RunningEmulator(app, host, bound_port)


def serve_forever(config: EmulatorConfig, *, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM (the standalone command)."""
    serve_blocking(CmqEmulatorApp(config), host=host, port=port, dropped=ResponseDropped)
