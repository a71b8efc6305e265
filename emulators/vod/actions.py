"""PullEvents and ConfirmEvents: request parameters in, reply fields out (or VodApiError).

A handler returns the reply's fields as JSON bytes ending in a comma (or nothing), which the
app completes with ``"RequestId"``. Building the bytes directly keeps the stored events from
being parsed and re-serialised on every pull.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from emulators.vod import errors
from emulators.vod.config import MAX_EVENTS_PER_CALL, VodEmulatorConfig
from emulators.vod.registry import EventRegistry

Params = dict[str, Any]
Handler = Callable[[Params], Awaitable[bytes]]

PULL_PARAMETERS = frozenset({"SubAppId", "ExtInfo"})
CONFIRM_PARAMETERS = frozenset({"EventHandles", "SubAppId", "ExtInfo"})


@dataclass(slots=True)
class PollSettings:
    """The timings of pulls and leases; tests may change them while the emulator runs."""

    main_app_id: int
    confirm_window_s: float
    empty_hold_s: float
    empty_event_set_null: bool
    confirmed_handle_ttl_s: float

    @classmethod
    def from_config(cls, config: VodEmulatorConfig) -> PollSettings:
        return cls(
            main_app_id=config.main_app_id,
            confirm_window_s=config.confirm_window_s,
            empty_hold_s=config.empty_hold_s,
            empty_event_set_null=config.empty_event_set_null,
            confirmed_handle_ttl_s=config.confirmed_handle_ttl_s,
        )


def _check_known(params: Params, allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise errors.unknown_parameter(name)


def _check_ext_info(params: Params) -> None:
    # Reserved by Tencent and ignored here, but it must at least be a string.
    if "ExtInfo" in params and not isinstance(params["ExtInfo"], str):
        raise errors.invalid_parameter_value("ExtInfo must be a string")


def _handles(params: Params) -> list[str]:
    if "EventHandles" not in params:
        raise errors.missing_parameter("EventHandles")
    handles = params["EventHandles"]
    if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
        raise errors.invalid_parameter_value("EventHandles must be an array of strings")
    if not 1 <= len(handles) <= MAX_EVENTS_PER_CALL:
        raise errors.invalid_parameter_value(
            f"EventHandles must hold 1 to {MAX_EVENTS_PER_CALL} handles, not {len(handles)}"
        )
    return handles


class VodActions:
    """The actions by name, working on the registry's events."""

    def __init__(self, registry: EventRegistry, settings: PollSettings) -> None:
        self.registry = registry
        self.settings = settings
        self._handlers: dict[str, Handler] = {
            "PullEvents": self.pull_events,
            "ConfirmEvents": self.confirm_events,
        }

    def lookup(self, action: str) -> Handler | None:
        """The handler for ``action``, or None if the emulator does not serve it."""
        return self._handlers.get(action)

    async def pull_events(self, params: Params) -> bytes:
        """Lease up to 16 events; hold an empty poll up to ``empty_hold_s``."""
        _check_known(params, PULL_PARAMETERS)
        _check_ext_info(params)
        events = self.registry.get(self._sub_app_id(params))
        settings = self.settings
        leased = await events.pull(
            MAX_EVENTS_PER_CALL, settings.confirm_window_s, settings.empty_hold_s
        )
        if leased:
            return b'"EventSet":[' + b",".join(e.with_handle() for e in leased) + b"],"
        return b'"EventSet":null,' if settings.empty_event_set_null else b'"EventSet":[],'

    async def confirm_events(self, params: Params) -> bytes:
        """Confirm all the handles or none (see README: "ConfirmEvents semantics")."""
        _check_known(params, CONFIRM_PARAMETERS)
        handles = _handles(params)
        _check_ext_info(params)
        events = self.registry.get(self._sub_app_id(params))
        invalid = events.invalid_handles(handles)
        if invalid:
            raise errors.invalid_parameter_value(
                f"{invalid} of {len(handles)} EventHandles are invalid or expired; "
                "no event was confirmed"
            )
        events.confirm(handles, self.settings.confirmed_handle_ttl_s)
        return b""

    def _sub_app_id(self, params: Params) -> int:
        if "SubAppId" not in params:
            return self.settings.main_app_id
        value = params["SubAppId"]
        # bool is an int subclass, but true is no application id.
        if type(value) is not int or value < 1:
            raise errors.invalid_parameter_value("SubAppId must be a positive integer")
        return value
