"""Peer check: Tencent's own Python SDK (tencentcloud-sdk-python) works against the emulator.

Both the synchronous ``vod_client.VodClient`` and the asynchronous
``vod_client_async.VodClient`` sign with their own TC3 implementation, so a pass here checks the
emulator's independent verifier and its reply format (exact ``application/json``, without which
the SDK would silently swallow errors). The sync client runs in a worker thread, as it blocks.

The events are made of fields the SDK's models know: it warns about unknown ones, and the test
configuration turns warnings into errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import pytest
from tencentcloud.common.credential import Credential as SdkCredential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client, vod_client_async

from emulators.vod import Credential, FaultKind, FaultRule, FaultSettings
from tests.vod_emulator.helpers import SECRET_ID, SECRET_KEY, emulator, event

SUB_APP = 1500012345
TOKEN = "temporary-session-token-0b7e"


def _profile(endpoint: str) -> ClientProfile:
    return ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint, reqTimeout=10))


@contextmanager
def sync_client(
    endpoint: str, key: str = SECRET_KEY, token: str | None = None
) -> Iterator[vod_client.VodClient]:
    client = vod_client.VodClient(SdkCredential(SECRET_ID, key, token), "", _profile(endpoint))
    try:
        yield client
    finally:
        # The SDK never closes its requests.Session; an unclosed socket would warn at GC.
        client.request.conn._session.close()


def async_client(
    endpoint: str, key: str = SECRET_KEY, token: str | None = None
) -> vod_client_async.VodClient:
    return vod_client_async.VodClient(SdkCredential(SECRET_ID, key, token), "", _profile(endpoint))


def pull_request(sub_app_id: int = SUB_APP) -> models.PullEventsRequest:
    request = models.PullEventsRequest()
    request.SubAppId = sub_app_id
    return request


def confirm_request(handles: list[str], sub_app_id: int = SUB_APP) -> models.ConfirmEventsRequest:
    request = models.ConfirmEventsRequest()
    request.SubAppId = sub_app_id
    request.EventHandles = handles
    return request


def error_code(call: Callable[..., Any], *args: Any) -> str | None:
    """The code of the TencentCloudSDKException ``call(*args)`` raises (None if it succeeds)."""
    try:
        call(*args)
    except TencentCloudSDKException as exc:
        return str(exc.get_code())
    return None


async def test_sync_sdk_pulls_and_confirms() -> None:
    """PullEvents returns the injected events as models; ConfirmEvents removes them."""
    async with emulator(window=10) as running:
        running.inject(SUB_APP, [event(1), event(2), {"EventType": "NewFileUpload"}])

        def scenario() -> tuple[list[tuple[str, Any]], str, Any, Any]:
            with sync_client(running.endpoint) as client:
                pulled = client.PullEvents(pull_request())
                handles = [e.EventHandle for e in pulled.EventSet]
                confirmed = client.ConfirmEvents(confirm_request(handles))
                again = client.PullEvents(pull_request())  # held, then empty
                dead = error_code(client.ConfirmEvents, confirm_request(["no-such-handle"]))
            kinds = [
                (e.EventType, e.FileDeleteEvent.FileIdSet if e.FileDeleteEvent else None)
                for e in pulled.EventSet
            ]
            return kinds, confirmed.RequestId, again.EventSet, dead

        kinds, request_id, empty, dead = await anyio.to_thread.run_sync(scenario)
        counts = running.counts(SUB_APP)
    assert kinds == [("FileDeleted", ["1"]), ("FileDeleted", ["2"]), ("NewFileUpload", None)]
    assert request_id
    assert empty == []
    assert dead == "InvalidParameterValue"
    assert (counts.confirmed, counts.leased, counts.pullable) == (3, 0, 0)


async def test_sync_sdk_sees_auth_and_throttling_errors() -> None:
    """A wrong SecretKey, an injected throttle and an unknown SecretId raise with their codes."""
    async with emulator(hold=0) as running:

        def scenario() -> list[str | None]:
            codes = []
            with sync_client(running.endpoint, key="not-the-key") as client:
                codes.append(error_code(client.PullEvents, pull_request()))
            running.set_faults(FaultSettings(rules=(FaultRule(FaultKind.REQUEST_LIMIT, 1.0),)))
            with sync_client(running.endpoint) as client:
                codes.append(error_code(client.PullEvents, pull_request()))
            return codes

        codes = await anyio.to_thread.run_sync(scenario)
    assert codes == ["AuthFailure.SignatureFailure", "RequestLimitExceeded"]


async def test_sync_sdk_with_temporary_credentials() -> None:
    """Credential(id, key, token) works; a wrong token gets AuthFailure.TokenFailure."""
    creds = (Credential(SECRET_ID, SECRET_KEY, TOKEN),)
    async with emulator(credentials=creds, hold=0) as running:
        running.inject(SUB_APP, event(1))

        def scenario() -> tuple[int, str | None, str | None]:
            with sync_client(running.endpoint, token=TOKEN) as client:
                pulled = client.PullEvents(pull_request())
            with sync_client(running.endpoint, token="some-other-token") as client:
                wrong = error_code(client.PullEvents, pull_request())
            with sync_client(running.endpoint) as client:
                missing = error_code(client.PullEvents, pull_request())
            return len(pulled.EventSet), wrong, missing

        count, wrong, missing = await anyio.to_thread.run_sync(scenario)
    assert count == 1
    assert wrong == "AuthFailure.TokenFailure"
    assert missing == "AuthFailure.TokenFailure"


async def test_async_sdk_pulls_and_confirms() -> None:
    """The asyncio client shares the emulator's event loop: pull, confirm, pull nothing."""
    async with emulator(window=10) as running:
        running.inject(SUB_APP, [event(n) for n in range(20)])
        async with async_client(running.endpoint) as client:
            first = await client.PullEvents(pull_request())
            second = await client.PullEvents(pull_request())
            for batch in (first, second):
                handles = [e.EventHandle for e in batch.EventSet]
                await client.ConfirmEvents(confirm_request(handles))
            empty = await client.PullEvents(pull_request())
        counts = running.counts(SUB_APP)
    ids = [e.FileDeleteEvent.FileIdSet[0] for b in (first, second) for e in b.EventSet]
    assert (len(first.EventSet), len(second.EventSet)) == (16, 4)
    assert ids == [str(n) for n in range(20)]
    assert empty.EventSet == []
    assert (counts.confirmed, counts.pullable, counts.leased) == (20, 0, 0)


async def test_async_sdk_errors() -> None:
    """Wrong key → SignatureFailure; wrong token → TokenFailure; stale handle → parameter error."""
    creds = (Credential(SECRET_ID, SECRET_KEY, TOKEN),)
    async with emulator(credentials=creds, window=0.3) as running:
        running.inject(SUB_APP, event(1))
        codes = []
        for key, token in (("not-the-key", TOKEN), (SECRET_KEY, "some-other-token")):
            async with async_client(running.endpoint, key, token) as client:
                with pytest.raises(TencentCloudSDKException) as caught:
                    await client.PullEvents(pull_request())
                codes.append(caught.value.get_code())
        async with async_client(running.endpoint, token=TOKEN) as client:
            pulled = await client.PullEvents(pull_request())
            running.expire_leases(SUB_APP)
            with pytest.raises(TencentCloudSDKException) as stale:
                await client.ConfirmEvents(confirm_request([pulled.EventSet[0].EventHandle]))
    assert codes == ["AuthFailure.SignatureFailure", "AuthFailure.TokenFailure"]
    assert stale.value.get_code() == "InvalidParameterValue"
