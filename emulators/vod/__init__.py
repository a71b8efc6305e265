"""A protocol-faithful local Tencent Cloud VOD API 3.0 emulator (PullEvents / ConfirmEvents).

Typical test use::

    config = VodEmulatorConfig(credentials=(Credential(secret_id, secret_key),))
    async with run_vod_emulator(config) as emulator:
        emulator.inject(None, {"EventType": "NewFileUpload", ...})
        ...  # point a client at emulator.endpoint ("127.0.0.1:PORT") or emulator.url

See README.md.
"""

from emulators.vod.cli import main
from emulators.vod.config import (
    Credential,
    FaultKind,
    FaultRule,
    FaultSettings,
    VodEmulatorConfig,
)
from emulators.vod.documents import InjectionError
from emulators.vod.events import EventCounts
from emulators.vod.server import RunningVodEmulator, run_vod_emulator

__all__ = [
    "Credential",
    "EventCounts",
    "FaultKind",
    "FaultRule",
    "FaultSettings",
    "InjectionError",
    "RunningVodEmulator",
    "VodEmulatorConfig",
    "main",
    "run_vod_emulator",
]
