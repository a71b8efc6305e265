"""The unsigned admin routes and in-process injection: what may be injected, and the stats."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest

from emulators.vod import InjectionError
from tests.samples import sample
from tests.vod_emulator.helpers import MAIN_APP, emulator, event, file_id, raw_client


def _without_handle(pulled: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pulled.items() if k != "EventHandle"}


async def test_inject_object_array_and_pullevents_documents_over_http() -> None:
    """One object, an array, and both PullEvents forms; each element's EventHandle is dropped."""
    doc_response = sample("vod__PullEvents__api-doc-response.json")
    doc_events = json.loads(doc_response)["Response"]["EventSet"]
    async with emulator(hold=0) as running, raw_client(running) as vod:
        url = running.admin_url + "/events"
        one = await vod.http.post(url, content=orjson.dumps(event(1)))
        many = await vod.http.post(url, params={"SubAppId": "7"}, content=b"[{}, {}, {}]")
        full = await vod.http.post(url, params={"SubAppId": "8"}, content=doc_response)
        bare = await vod.http.post(
            url, params={"SubAppId": "9"}, content=orjson.dumps({"EventSet": [event(9)]})
        )
        from_main, from_7, from_8, from_9 = [await vod.pull(a) for a in (None, 7, 8, 9)]
    assert one.json() == {"injected": 1, "sub_app_id": MAIN_APP}
    assert one.headers["content-type"] == "application/json"
    assert many.json() == {"injected": 3, "sub_app_id": 7}
    assert full.json() == {"injected": len(doc_events), "sub_app_id": 8}
    assert bare.json() == {"injected": 1, "sub_app_id": 9}
    assert [file_id(e) for e in from_main] == ["1"]
    assert len(from_7) == 3
    assert [_without_handle(e) for e in from_8] == [_without_handle(e) for e in doc_events]
    assert all(e["EventHandle"] != "EventHandle1" for e in from_8)
    assert [file_id(e) for e in from_9] == ["9"]


@pytest.mark.parametrize(
    ("body", "query"),
    [
        (b"[{}, 1]", {}),
        (b"42", {}),
        (b'"text"', {}),
        (b"{not json", {}),
        (b'{"a": NaN}', {}),
        (b'{"EventSet": {"a": 1}}', {}),
        (b'{"Response": {"EventSet": [[]]}}', {}),
        (b"{}", {"SubAppId": "abc"}),
    ],
)
async def test_injecting_non_objects_is_a_400_and_injects_nothing(
    body: bytes, query: dict[str, str]
) -> None:
    """Anything but JSON objects (or a bad SubAppId) is refused whole."""
    async with emulator() as running, raw_client(running) as vod:
        response = await vod.http.post(running.admin_url + "/events", params=query, content=body)
        stats = running.app.stats()
    assert response.status_code == 400
    assert response.json()["error"]
    assert all(app["injected"] == 0 for app in stats["sub_apps"].values())


async def test_stats_and_expire_leases_routes() -> None:
    """GET stats shows counts per SubAppId and requests; expire-leases ends leases now."""
    async with emulator(window=30, hold=0) as running, raw_client(running) as vod:
        running.inject(7, [event(1), event(2)])
        (pulled, _) = await vod.pull(7)
        await vod.confirm([pulled["EventHandle"]], sub_app_id=7)
        stats = (await vod.http.get(running.admin_url + "/stats")).json()
        expired = await vod.http.post(running.admin_url + "/expire-leases", params={"SubAppId": 7})
        one_app = (await vod.http.get(running.admin_url + "/stats?SubAppId=7")).json()
    assert stats["sub_apps"]["7"] == {
        "pullable": 0,
        "leased": 1,
        "confirmed": 1,
        "redelivered": 0,
        "injected": 2,
        "pulled": 2,
    }
    assert stats["requests"] == {"PullEvents": 1, "ConfirmEvents": 1}
    assert expired.json() == {"expired": 1}
    assert one_app["sub_apps"]["7"]["pullable"] == 1
    assert one_app["sub_apps"]["7"]["redelivered"] == 1


async def test_admin_routes_methods_and_unknown_paths() -> None:
    """Wrong method → 405, unknown admin route → 404, both JSON."""
    async with emulator() as running, httpx.AsyncClient() as http:
        wrong_method = await http.get(running.admin_url + "/events")
        unknown = await http.post(running.admin_url + "/nothing")
    assert wrong_method.status_code == 405
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/json"


async def test_in_process_inject_takes_the_same_documents() -> None:
    """inject(): an event, a PullEvents document or a list; non-objects raise InjectionError."""
    async with emulator(hold=0) as running:
        assert running.inject(None, event(1)) == 1
        assert running.inject(None, {"Response": {"EventSet": [event(2), event(3)]}}) == 2
        assert running.inject(None, [event(4)]) == 1
        assert running.inject(None, {"Response": {"EventSet": None}}) == 0
        with pytest.raises(InjectionError):
            running.inject(None, [event(5), "not an object"])  # type: ignore[list-item]
        with pytest.raises(InjectionError):
            running.inject(None, [{"value": object()}])
        counts = running.counts()
    assert (counts.injected, counts.pullable) == (4, 4)
