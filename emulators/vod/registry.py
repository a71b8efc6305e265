"""The emulator's events by SubAppId, each SubAppId's store created on first use."""

from __future__ import annotations

import itertools
import random

from emulators.vod.events import SubAppEvents


class EventRegistry:
    """Looks SubAppId stores up; issues handles unique across all of them."""

    def __init__(self) -> None:
        self._apps: dict[int, SubAppEvents] = {}
        self._closed = False
        # A random base, so handles from an earlier emulator run are unknown to this one.
        self._handle_ids = itertools.count(random.randrange(2**60, 2**63))

    def get(self, sub_app_id: int) -> SubAppEvents:
        """The store for ``sub_app_id``, created empty if it is new."""
        events = self._apps.get(sub_app_id)
        if events is None:
            events = self._apps[sub_app_id] = SubAppEvents(sub_app_id, self._new_handle)
            if self._closed:
                events.close()
        return events

    def all(self) -> dict[int, SubAppEvents]:
        """Every store so far, by SubAppId."""
        return dict(self._apps)

    def close(self) -> None:
        """Release every held poll, now and later (server shutdown)."""
        self._closed = True
        for events in self._apps.values():
            events.close()

    def _new_handle(self) -> str:
        return f"{next(self._handle_ids):016x}"
