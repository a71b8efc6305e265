"""The real ``media-bridge run`` process with ``kind=vod``, configured through the environment."""

from __future__ import annotations

import signal
import sys

import anyio
import httpx
import orjson
import pytest

from consumer.normalize import normalize
from tests.e2e_cmq.support import broker_tap, free_port, output, sink_env
from tests.e2e_vod.support import events_of, vod_env, vod_sample_files
from tests.relay_support import wait_until
from tests.samples import REPO_ROOT
from tests.vod_emulator.helpers import MAIN_APP, SECRET_KEY, emulator

pytestmark = pytest.mark.rabbitmq

OTHER_APP = 1500000888
WRONG_KEY = "wrong-vod-key-Pk27sQe4"  # must never be printed, at any log level


async def test_run_pulls_two_sub_apps_exports_per_sub_app_metrics_and_exits_0() -> None:
    """One process polls two sub-apps; every event is relayed and confirmed under its own
    SubAppId; /metrics counts per sub-app; SIGTERM drains and exits 0."""
    files = vod_sample_files()
    first, second = files[::2], files[1::2]
    events = {
        MAIN_APP: [e for path in first for e in events_of(path)],
        OTHER_APP: [e for path in second for e in events_of(path)],
    }
    expected = sorted(item.event.id for path in files for item in normalize(path.read_bytes()))
    port = free_port()
    async with emulator(window=10.0, hold=0.5) as running, broker_tap() as tap:
        for app, items in events.items():
            running.inject(app, items)
        env = vod_env(running, SECRET_KEY, MAIN_APP, OTHER_APP, **sink_env(tap.names))
        env |= {
            "MEDIA_BRIDGE_SOURCE__CONFIRM_WINDOW_S": "10",
            "MEDIA_BRIDGE_HTTP__PORT": str(port),
            "MEDIA_BRIDGE_LOG__LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "consumer", "run"]
        async with await anyio.open_process(command, env=env, cwd=REPO_ROOT) as process:
            try:
                await wait_until(
                    lambda: all(
                        running.counts(app).confirmed >= len(items) for app, items in events.items()
                    ),
                    timeout_s=30,
                )
                async with httpx.AsyncClient() as http:
                    metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            finally:
                process.send_signal(signal.SIGTERM)
                with anyio.fail_after(20):
                    await process.wait()
            _, err = await output(process)
        await tap.collect()
    assert process.returncode == 0, err
    assert sorted(tap.event_ids().elements()) == expected
    for app, items in events.items():
        line = f'media_bridge_vod_confirmed_total{{sub_app_id="{app}"}} {float(len(items))}'
        assert line in metrics
    for name in ("pulls", "empty_pulls", "late_confirms", "retries", "throttles"):
        assert f'media_bridge_vod_{name}_total{{sub_app_id="{OTHER_APP}"}}' in metrics


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_wrong_secret_key_fails_start_up_in_one_line_without_the_key(level: str) -> None:
    """A refused SecretKey: exit 78, one plain stderr line naming the auth failure, no key."""
    async with emulator() as running, broker_tap() as tap:
        env = vod_env(running, WRONG_KEY, MAIN_APP, **sink_env(tap.names))
        env |= {"MEDIA_BRIDGE_HTTP__PORT": "0", "MEDIA_BRIDGE_LOG__LEVEL": level}
        command = [sys.executable, "-m", "consumer", "run"]
        async with await anyio.open_process(command, env=env, cwd=REPO_ROOT) as process:
            with anyio.fail_after(20):
                await process.wait()
            out, err = await output(process)
    plain = [line for line in err.splitlines() if not _is_log_record(line)]
    assert process.returncode == 78, err
    assert len(plain) == 1, err
    assert plain[0].startswith(
        "media-bridge run: VOD rejected the credentials (AuthFailure.SignatureFailure"
    )
    assert "Traceback" not in err
    assert WRONG_KEY not in out + err


def _is_log_record(line: str) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False
