"""The emulator's queues by name, with auto-creation and per-queue QPS limits (4440, 4420)."""

from __future__ import annotations

import dataclasses
import time

from emulators.cmq.config import QUEUE_NAME, EmulatorConfig
from emulators.cmq.errors import CmqApiError, invalid_param, no_such_queue
from emulators.cmq.queue import EmulatedQueue


class QueueRegistry:
    """Looks queues up for the action handlers."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self.max_batch_body_bytes = config.max_batch_body_bytes
        self._queues = {spec.name: EmulatedQueue(spec) for spec in config.queues}
        self._window: dict[str, tuple[int, int]] = {}  # queue -> (second, requests in it)

    def get(self, name: str) -> EmulatedQueue:
        """The queue called ``name``; 4000 for an invalid name, 4440 for an unknown one."""
        queue = self._queues.get(name)
        if queue is None:
            if not QUEUE_NAME.fullmatch(name):
                raise invalid_param("queueName must start with a letter, <= 64 chars")
            if not self._config.auto_create:
                raise no_such_queue(name)
            spec = dataclasses.replace(self._config.default_queue, name=name)
            queue = self._queues[name] = EmulatedQueue(spec)
        self._throttle(queue)
        return queue

    def lookup(self, name: str) -> EmulatedQueue:
        """The queue called ``name``, unthrottled, for inspection; KeyError if unknown."""
        return self._queues[name]

    def all(self) -> list[EmulatedQueue]:
        """Every queue, configured or auto-created."""
        return list(self._queues.values())

    def _throttle(self, queue: EmulatedQueue) -> None:
        limit = queue.spec.qps_limit
        if limit is None:
            return
        second = int(time.monotonic())
        start, count = self._window.get(queue.spec.name, (second, 0))
        count = count + 1 if start == second else 1
        self._window[queue.spec.name] = (second, count)
        if count > limit:
            raise CmqApiError(4420, "(10250)qps limit exceeded")
