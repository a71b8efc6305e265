"""RequestSigner: a repeated request is the SDK's own, reused only within the second it was for."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from adapters import vod_api
from adapters.request_budget import RequestBudget
from adapters.vod_options import VodSourceOptions
from adapters.vod_signed import RequestSigner, SigningStep
from tests.vod_emulator.helpers import MAIN_APP, SECRET_ID, SECRET_KEY

NOW = 1_796_000_000.25


class CountingStep:
    """The SDK's signing step, counting the actions it signed."""

    def __init__(self) -> None:
        options = VodSourceOptions(
            endpoint="http://127.0.0.1:9", secret_id=SECRET_ID, secret_key=SECRET_KEY,
            sub_app_ids=(MAIN_APP,), token="sts-token",
        )  # fmt: skip
        client = vod_api.VodApi(options, RequestBudget(0))._client
        self.sdk: SigningStep = getattr(client, vod_api._SIGNING_STEP)
        self.signed: list[str] = []

    def __call__(
        self, action: str, params: dict[str, Any], headers: dict[str, str], opts: dict[str, Any]
    ) -> httpx.Request:
        self.signed.append(action)
        return self.sdk(action, params, headers, opts)


def test_a_repeated_pull_is_signed_once_per_second_and_is_the_sdks_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step = CountingStep()
    signer = RequestSigner(step)
    monkeypatch.setattr(time, "time", lambda: NOW)
    first = signer.sign("PullEvents", {"SubAppId": MAIN_APP})
    assert signer.sign("PullEvents", {"SubAppId": MAIN_APP}) is first
    assert step.signed == ["PullEvents"]
    fresh = step.sdk("PullEvents", {"SubAppId": MAIN_APP}, {}, {})  # the SDK, this second
    assert (first.headers, first.body) == (list(fresh.headers.raw), fresh.content)
    assert first.timestamp == int(NOW)

    monkeypatch.setattr(time, "time", lambda: NOW + 1)
    later = signer.sign("PullEvents", {"SubAppId": MAIN_APP})
    assert later.timestamp == int(NOW) + 1
    assert step.signed == ["PullEvents", "PullEvents"]


def test_other_sub_apps_and_list_parameters_are_signed_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step = CountingStep()
    signer = RequestSigner(step)
    monkeypatch.setattr(time, "time", lambda: NOW)
    signer.sign("PullEvents", {"SubAppId": MAIN_APP})
    other = signer.sign("PullEvents", {"SubAppId": MAIN_APP + 1})
    assert str(MAIN_APP + 1).encode() in other.body
    handles = {"EventHandles": ["a"], "SubAppId": MAIN_APP}
    signer.sign("ConfirmEvents", handles)
    signer.sign("ConfirmEvents", handles)
    assert step.signed == ["PullEvents", "PullEvents", "ConfirmEvents", "ConfirmEvents"]
