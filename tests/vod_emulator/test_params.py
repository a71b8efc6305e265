"""Parameter checks of PullEvents and ConfirmEvents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.vod_emulator.helpers import emulator, raw_client


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        ("PullEvents", {"SubAppId": "1500000001"}, "InvalidParameterValue"),
        ("PullEvents", {"SubAppId": True}, "InvalidParameterValue"),
        ("PullEvents", {"SubAppId": 0}, "InvalidParameterValue"),
        ("PullEvents", {"SubAppId": 1.5}, "InvalidParameterValue"),
        ("PullEvents", {"ExtInfo": 3}, "InvalidParameterValue"),
        ("PullEvents", {"Limit": 16}, "UnknownParameter"),
        ("PullEvents", b"[]", "InvalidParameter"),
        ("PullEvents", b"not json", "InvalidParameter"),
        ("ConfirmEvents", {}, "MissingParameter"),
        ("ConfirmEvents", {"EventHandles": "h1"}, "InvalidParameterValue"),
        ("ConfirmEvents", {"EventHandles": [1, 2]}, "InvalidParameterValue"),
        ("ConfirmEvents", {"EventHandles": []}, "InvalidParameterValue"),
        ("ConfirmEvents", {"EventHandles": [f"h{n}" for n in range(17)]}, "InvalidParameterValue"),
        ("ConfirmEvents", {"EventHandles": ["h"], "SubAppId": "x"}, "InvalidParameterValue"),
        ("ConfirmEvents", {"EventHandles": ["h"], "Handles": ["h"]}, "UnknownParameter"),
    ],
)
async def test_bad_parameters(action: str, params: Any, code: str) -> None:
    """Wrong types, counts or names get the matching API 3.0 code."""
    async with emulator(hold=0) as running, raw_client(running) as vod:
        reply = await vod.call(action, params)
    assert reply.error_code == code, reply.response


async def test_unknown_parameter_is_named() -> None:
    """The message names the parameter the action does not take."""
    async with emulator(hold=0) as running, raw_client(running) as vod:
        reply = await vod.call("PullEvents", {"SubAppId": 7, "Offset": 0})
    assert "Offset" in reply.response["Error"]["Message"]


async def test_ext_info_string_is_accepted_and_ignored() -> None:
    """ExtInfo is reserved: a string is fine for both actions."""
    async with emulator(hold=0) as running, raw_client(running) as vod:
        running.inject(None, {"EventType": "NewFileUpload"})
        pulled = await vod.call("PullEvents", {"ExtInfo": ""})
        handle = pulled.events[0]["EventHandle"]
        confirmed = await vod.call("ConfirmEvents", {"EventHandles": [handle], "ExtInfo": "x"})
    assert confirmed.error_code is None
