"""A protocol-faithful local CMQ / TDMQ-CMQ (API 2.0 data plane) emulator. See README.md.

Typical test use::

    config = EmulatorConfig(queues=(QueueSpec("mps-events"),), credentials=(Credential(id, key),))
    async with run_cmq_emulator(config) as emulator:
        ...  # point a client at emulator.url
"""

from emulators.cmq.cli import main
from emulators.cmq.config import (
    Credential,
    EmulatorConfig,
    FaultKind,
    FaultRule,
    FaultSettings,
    QueueSpec,
)
from emulators.cmq.server import RunningEmulator, run_cmq_emulator

__all__ = [
    "Credential",
    "EmulatorConfig",
    "FaultKind",
    "FaultRule",
    "FaultSettings",
    "QueueSpec",
    "RunningEmulator",
    "main",
    "run_cmq_emulator",
]
