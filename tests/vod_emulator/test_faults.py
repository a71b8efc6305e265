"""Injected faults: reproducible from a seed, each kind does what it says; the rate limit."""

from __future__ import annotations

import time

import httpx
import pytest

from emulators.vod import Credential, FaultKind, FaultRule, FaultSettings
from tests.vod_emulator.helpers import (
    SECRET_ID,
    SECRET_KEY,
    emulator,
    event,
    file_id,
    raw_client,
)


async def _outcomes(seed: int) -> list[object]:
    faults = FaultSettings(
        rules=(
            FaultRule(FaultKind.REQUEST_LIMIT, 0.3, "PullEvents"),
            FaultRule(FaultKind.INTERNAL, 0.2, "ConfirmEvents"),
            FaultRule(FaultKind.HTTP_5XX, 0.2),
        ),
        seed=seed,
    )
    outcomes: list[object] = []
    async with emulator(hold=0, faults=faults) as running, raw_client(running) as vod:
        for n in range(40):
            action = "PullEvents" if n % 2 else "ConfirmEvents"
            params = {"EventHandles": ["h"]} if n % 2 == 0 else {}
            response = await vod.send(action, params)
            if response.status_code != 200:
                outcomes.append(response.status_code)
            else:
                outcomes.append(response.json()["Response"].get("Error", {}).get("Code", "ok"))
    return outcomes


async def test_same_seed_replays_the_same_faults() -> None:
    """Two runs with one seed fail the same requests the same way; another seed differs."""
    first, again, other = await _outcomes(7), await _outcomes(7), await _outcomes(8)
    assert first == again
    assert first != other
    assert {"ok", "RequestLimitExceeded", "InternalError", 503} <= set(first)


@pytest.mark.parametrize("kind", [FaultKind.REQUEST_LIMIT, FaultKind.INTERNAL])
async def test_error_faults_do_not_perform_the_action(kind: FaultKind) -> None:
    """RequestLimitExceeded / InternalError: that code, and the event stays pullable."""
    faults = FaultSettings(rules=(FaultRule(kind, 1.0, "PullEvents"),))
    async with emulator(faults=faults) as running, raw_client(running) as vod:
        running.inject(None, event(1))
        reply = await vod.call("PullEvents", {})
        counts = running.counts()
        injected = dict(running.app.faults.injected)
    assert reply.error_code == kind.value
    assert (counts.pullable, counts.pulled) == (1, 0)
    assert injected == {("PullEvents", kind): 1}


async def test_http_5xx_answers_503_and_does_not_perform_the_action() -> None:
    """http-5xx: HTTP 503, nothing leased."""
    faults = FaultSettings(rules=(FaultRule(FaultKind.HTTP_5XX, 1.0),))
    async with emulator(faults=faults) as running, raw_client(running) as vod:
        running.inject(None, event(1))
        response = await vod.send("PullEvents", {})
        pullable = running.counts().pullable
    assert response.status_code == 503
    assert pullable == 1


async def test_timeout_holds_then_drops_without_acting() -> None:
    """timeout: the request hangs for timeout_hold_s, then the connection drops; not pulled."""
    faults = FaultSettings(rules=(FaultRule(FaultKind.TIMEOUT, 1.0),), timeout_hold_s=0.4)
    async with emulator(faults=faults) as running, raw_client(running) as vod:
        running.inject(None, event(1))
        started = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):
            await vod.send("PullEvents", {})
        held = time.monotonic() - started
        pullable = running.counts().pullable
    assert held >= 0.4
    assert pullable == 1


async def test_dropped_pull_reply_leases_the_events_which_come_back_later() -> None:
    """drop-response on PullEvents: the reply is lost, the events are leased, then redelivered."""
    faults = FaultSettings(rules=(FaultRule(FaultKind.DROP_RESPONSE, 1.0, "PullEvents"),))
    async with emulator(window=0.4, hold=3, faults=faults) as running, raw_client(running) as vod:
        running.inject(None, [event(1), event(2)])
        with pytest.raises(httpx.RemoteProtocolError):
            await vod.send("PullEvents", {})
        leased = running.counts().leased
        running.set_faults(FaultSettings())
        redelivered = await vod.pull()  # held until the lost lease runs out
    assert leased == 2
    assert [file_id(e) for e in redelivered] == ["1", "2"]


async def test_dropped_confirm_reply_was_performed_and_the_retry_succeeds() -> None:
    """drop-response on ConfirmEvents: confirmed anyway; retrying the same handles succeeds."""
    faults = FaultSettings(rules=(FaultRule(FaultKind.DROP_RESPONSE, 1.0, "ConfirmEvents"),))
    async with emulator(window=10, faults=faults) as running, raw_client(running) as vod:
        running.inject(None, event(1))
        handles = [e["EventHandle"] for e in await vod.pull()]
        with pytest.raises(httpx.RemoteProtocolError):
            await vod.send("ConfirmEvents", {"EventHandles": handles})
        confirmed = running.counts().confirmed
        running.set_faults(FaultSettings())
        retry = await vod.confirm(handles)
    assert confirmed == 1
    assert retry.error_code is None


async def test_rules_match_their_action_and_latency_applies() -> None:
    """A ConfirmEvents rule leaves pulls alone; latency_s delays every reply."""
    faults = FaultSettings(
        rules=(FaultRule(FaultKind.INTERNAL, 1.0, "ConfirmEvents"),), latency_s=0.2
    )
    async with emulator(faults=faults) as running, raw_client(running) as vod:
        running.inject(None, event(1))
        started = time.monotonic()
        pulled = await vod.pull()
        elapsed = time.monotonic() - started
        confirm = await vod.confirm([pulled[0]["EventHandle"]])
        stats = running.app.stats()
    assert len(pulled) == 1
    assert elapsed >= 0.2
    assert confirm.error_code == "InternalError"
    assert stats["faults"] == {"ConfirmEvents:InternalError": 1}


def test_fault_rules_are_checked() -> None:
    """Rates outside [0, 1] and unknown actions are configuration errors."""
    with pytest.raises(ValueError, match="rate"):
        FaultRule(FaultKind.TIMEOUT, 1.5)
    with pytest.raises(ValueError, match="action"):
        FaultRule(FaultKind.TIMEOUT, 0.5, "DescribeMediaInfos")


async def test_rate_limit_counts_both_actions_per_secret_id() -> None:
    """Over N requests/s for one SecretId → RequestLimitExceeded; other ids are unaffected."""
    other_id = "AKIDTESTVOD00000000000000000000000002"
    creds = (Credential(SECRET_ID, SECRET_KEY), Credential(other_id, SECRET_KEY))
    async with (
        emulator(credentials=creds, hold=0, rate_limit=5) as running,
        raw_client(running) as vod,
        raw_client(running, secret_id=other_id) as other,
    ):
        codes = []
        for n in range(12):
            if n % 2:
                codes.append((await vod.call("PullEvents", {})).error_code)
            else:
                codes.append((await vod.confirm(["h"])).error_code)
        other_code = (await other.call("PullEvents", {})).error_code
        running.set_rate_limit(None)
        unlimited = [(await vod.call("PullEvents", {})).error_code for _ in range(12)]
    # 12 requests fit in at most two one-second windows, so at most 10 get through.
    assert codes.count("RequestLimitExceeded") >= 2
    assert set(codes) <= {None, "InvalidParameterValue", "RequestLimitExceeded"}
    assert other_code is None
    assert unlimited == [None] * 12


async def test_rate_limit_is_off_by_default() -> None:
    """Without rate_limit, a burst of requests is never throttled."""
    async with emulator(hold=0) as running, raw_client(running) as vod:
        codes = {(await vod.call("PullEvents", {})).error_code for _ in range(150)}
    assert codes == {None}
