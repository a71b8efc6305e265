"""VodSource against the VOD emulator: batching, windows, errors, sub-apps, budget, secrets."""

from __future__ import annotations

import logging
import time
from contextlib import aclosing

import anyio
import orjson
import pytest

from adapters import vod_api
from adapters.vod import VodDelivery, VodSource
from consumer.errors import ConfigurationError
from emulators.vod import Credential, FaultKind, FaultRule, FaultSettings
from tests.relay_support import wait_until
from tests.vod.helpers import source_options
from tests.vod_emulator.helpers import MAIN_APP, SECRET_ID, WINDOW_S, emulator, event

OTHER_APP = 1500000777
TOKEN = "vod-test-sts-token-3fa1c9"  # a test fixture token


async def receive_all(source: VodSource, count: int, timeout_s: float = 5.0) -> list[VodDelivery]:
    with anyio.fail_after(timeout_s):
        return [await source.receive() for _ in range(count)]


async def test_acks_are_confirmed_in_batches_of_at_most_16_and_nothing_comes_again() -> None:
    """40 acks at once cost a few ConfirmEvents calls, and VOD holds none of the events any more."""
    async with emulator() as running:
        running.inject(MAIN_APP, [event(n) for n in range(40)])
        async with aclosing(await VodSource.connect(source_options(running))) as source:
            for delivery in await receive_all(source, 40):
                await delivery.ack()  # queued: returns before VOD answered
            stats = source.stats[MAIN_APP]
            await wait_until(lambda: stats.confirmed == 40)
        counts = running.counts(MAIN_APP)
        confirms = running.app.requests["ConfirmEvents"]
    assert (counts.confirmed, counts.pullable, counts.leased) == (40, 0, 0)
    assert stats.confirmed == 40
    assert 3 <= confirms <= 6  # ceil(40 / 16) = 3; the coalescing window may split a little


async def test_body_is_the_event_without_its_handle_and_the_deadline_is_the_window() -> None:
    """The relay sees the EventContent as VOD stored it; the handle only confirms."""
    injected = {"EventType": "FileDeleted", "FileDeleteEvent": {"FileIdSet": ["7"]}}
    async with emulator() as running:
        running.inject(MAIN_APP, injected)
        before = time.time()
        async with aclosing(await VodSource.connect(source_options(running))) as source:
            (delivery,) = await receive_all(source, 1)
            await delivery.ack()
    assert orjson.loads(delivery.body) == injected
    assert delivery.decoded == injected  # parsed once, with the reply: the relay takes it as is
    assert b"EventHandle" not in delivery.body
    assert delivery.info.source == f"vod:{MAIN_APP}"
    assert delivery.info.delivery_id  # the handle
    assert delivery.info.deadline is not None
    assert before + WINDOW_S <= delivery.info.deadline.timestamp() + 0.05
    assert delivery.info.deadline.timestamp() <= time.time() + WINDOW_S


async def test_ack_after_the_window_is_not_sent_and_the_event_comes_again() -> None:
    """A confirm with a dead handle is not sent blindly: counted late, the event redelivered."""
    async with emulator() as running:
        running.inject(MAIN_APP, event(1))
        async with aclosing(await VodSource.connect(source_options(running))) as source:
            (first,) = await receive_all(source, 1)
            await wait_until(lambda: first.expired, timeout_s=WINDOW_S + 1)
            await first.ack()
            assert source.stats[MAIN_APP].late_confirms == 1
            assert running.app.requests["ConfirmEvents"] == 0
            (again,) = await receive_all(source, 1, timeout_s=WINDOW_S + 3)
            await again.ack()
        assert running.counts(MAIN_APP).confirmed == 1
    assert again.body == first.body
    assert again.info.delivery_count == first.info.delivery_count + 1


async def test_dead_handles_on_confirm_are_counted_not_fatal() -> None:
    """VOD ended the leases early (InvalidParameterValue): the batch is split, each dead handle
    counted, and the acks return normally; the events come again."""
    async with emulator() as running:
        running.inject(MAIN_APP, [event(1), event(2)])
        options = source_options(running, confirm_window=10.0)  # we think they are alive
        async with aclosing(await VodSource.connect(options)) as source:
            deliveries = await receive_all(source, 2)
            running.expire_leases(MAIN_APP)
            for delivery in deliveries:
                await delivery.ack()
            stats = source.stats[MAIN_APP]
            await wait_until(lambda: stats.expired_handles == 2)
    assert stats.expired_handles == 2
    assert stats.confirmed == 0


async def test_throttling_is_retried_with_backoff_and_counted() -> None:
    """RequestLimitExceeded on every pull for a while: the source waits it out, then delivers."""
    async with emulator() as running:
        running.inject(MAIN_APP, event(1))
        async with aclosing(await VodSource.connect(source_options(running))) as source:
            (first,) = await receive_all(source, 1)
            await first.ack()
            running.set_faults(
                FaultSettings(rules=(FaultRule(FaultKind.REQUEST_LIMIT, 1.0, "PullEvents"),))
            )
            await wait_until(lambda: source.stats[MAIN_APP].throttles >= 3)
            running.inject(MAIN_APP, event(2))
            running.set_faults(FaultSettings())
            (second,) = await receive_all(source, 1)
            await second.ack()
            stats = source.stats[MAIN_APP]
    assert orjson.loads(second.body) == event(2)
    assert stats.retries >= 3


async def test_confirm_failures_are_retried_within_the_window() -> None:
    """InternalError and 5xx on ConfirmEvents: retried until VOD takes the confirm."""
    faults = FaultSettings(
        rules=(
            FaultRule(FaultKind.INTERNAL, 0.4, "ConfirmEvents"),
            FaultRule(FaultKind.HTTP_5XX, 0.4, "ConfirmEvents"),
        ),
        seed=7,
    )
    async with emulator(window=5.0) as running:
        running.inject(MAIN_APP, [event(n) for n in range(20)])
        options = source_options(running, confirm_window=5.0, confirm_coalesce_window=0)
        async with aclosing(await VodSource.connect(options)) as source:
            running.set_faults(faults)
            for delivery in await receive_all(source, 20):
                await delivery.ack()
            stats = source.stats[MAIN_APP]
            await wait_until(lambda: stats.confirmed == 20, timeout_s=5)
        counts = running.counts(MAIN_APP)
    assert counts.confirmed == 20
    assert stats.retries > 0


@pytest.mark.parametrize("null_event_set", [False, True])
async def test_empty_or_absent_event_set_is_an_empty_poll(null_event_set: bool) -> None:
    """VOD documents EventSet as possibly null: either way the source just polls again."""
    async with (
        emulator(empty_event_set_null=null_event_set) as running,
        aclosing(await VodSource.connect(source_options(running))) as source,
    ):
        await wait_until(lambda: source.stats[MAIN_APP].empty_pulls >= 2)
        running.inject(MAIN_APP, event(1))
        (delivery,) = await receive_all(source, 1)
        await delivery.ack()
    assert orjson.loads(delivery.body) == event(1)


async def test_two_sub_apps_are_polled_independently_by_one_source() -> None:
    """Each sub-app's events are pulled and confirmed with its own SubAppId."""
    async with emulator() as running:
        running.inject(MAIN_APP, [event(n) for n in range(5)])
        running.inject(OTHER_APP, [event(n) for n in range(100, 107)])
        options = source_options(running, MAIN_APP, OTHER_APP)
        async with aclosing(await VodSource.connect(options)) as source:
            deliveries = await receive_all(source, 12)
            for delivery in deliveries:
                await delivery.ack()
            stats = source.stats
            await wait_until(lambda: stats[MAIN_APP].confirmed + stats[OTHER_APP].confirmed == 12)
        counts = {app: running.counts(app).confirmed for app in (MAIN_APP, OTHER_APP)}
    sources = sorted(d.info.source for d in deliveries)
    assert sources == [f"vod:{MAIN_APP}"] * 5 + [f"vod:{OTHER_APP}"] * 7
    assert counts == {MAIN_APP: 5, OTHER_APP: 7}
    assert (stats[MAIN_APP].confirmed, stats[OTHER_APP].confirmed) == (5, 7)


async def test_request_budget_caps_the_calls_per_second() -> None:
    """With a budget of 20 requests/s, empty long polls of two sub-apps stay under it."""
    async with emulator(hold=0) as running:  # empty polls answer at once: the budget paces
        options = source_options(
            running, MAIN_APP, OTHER_APP, requests_per_second=20, concurrent_pulls=2
        )
        async with aclosing(await VodSource.connect(options)):
            before = running.app.requests["PullEvents"]
            await anyio.sleep(1.0)  # measuring a rate: the interval is the point of the test
            during = running.app.requests["PullEvents"] - before
    assert 10 <= during <= 24  # 20/s, plus the burst allowance (2)


async def test_wrong_secret_key_fails_connect_with_the_auth_code_and_no_secret() -> None:
    async with emulator() as running:
        options = source_options(running, secret_key="not-the-key-Zq9r1")
        with pytest.raises(ConfigurationError) as caught:
            await VodSource.connect(options)
    message = str(caught.value)
    assert "AuthFailure.SignatureFailure" in message
    assert "not-the-key-Zq9r1" not in message
    assert SECRET_ID not in message  # only a prefix of the SecretId is shown


async def test_temporary_credentials_sign_with_the_token_and_never_log_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """X-TC-Token is sent (the emulator requires it); at DEBUG neither key nor token is logged."""
    key = "vod-temporary-secret-key-77c2"
    credentials = (Credential(SECRET_ID, key, token=TOKEN),)
    caplog.set_level(logging.DEBUG)
    async with emulator(credentials=credentials) as running:
        running.inject(MAIN_APP, event(1))
        options = source_options(running, secret_key=key, token=TOKEN)
        async with aclosing(await VodSource.connect(options)) as source:
            (delivery,) = await receive_all(source, 1)
            await delivery.ack()
        assert running.counts(MAIN_APP).confirmed == 1
        options_repr = repr(options)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert logged  # DEBUG records were captured at all
    for secret in (key, TOKEN):
        assert secret not in logged
        assert secret not in options_repr


async def test_wrong_token_is_an_auth_failure_at_connect() -> None:
    credentials = (Credential(SECRET_ID, "k-2", token=TOKEN),)
    async with emulator(credentials=credentials) as running:
        options = source_options(running, secret_key="k-2", token="stale-token")
        with pytest.raises(ConfigurationError, match=r"AuthFailure\.TokenFailure"):
            await VodSource.connect(options)


async def test_sdk_without_the_signing_step_falls_back_to_the_plain_path_in_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An SDK upgrade that moved the step the fast path relies on costs speed, not correctness:
    one WARNING names the SDK version, and events still flow through the SDK's public client."""
    monkeypatch.setattr(vod_api, "_SIGNING_STEP", "_build_req_with_tc3_signature_renamed")
    async with emulator() as running:
        running.inject(MAIN_APP, event(1))
        options = source_options(running, fast_path=True)
        async with aclosing(await VodSource.connect(options)) as source:
            (delivery,) = await receive_all(source, 1)
            await delivery.ack()
            await wait_until(lambda: running.counts(MAIN_APP).confirmed == 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("the request-signing step of tencentcloud-sdk-python 3.")
    assert "take the SDK's public client" in warnings[0]
