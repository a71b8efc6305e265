"""The real ``media-bridge run`` process with ``kind=cmq``, configured through the environment."""

from __future__ import annotations

import os
import signal
import sys

import anyio
import httpx
import orjson
import pytest

from tests.cmq.helpers import SECRET_ID, SECRET_KEY, emulator
from tests.e2e_cmq.support import (
    broker_tap,
    expected_event_ids,
    free_port,
    output,
    send_with_sdk,
    sink_env,
)
from tests.samples import REPO_ROOT, sample_files

pytestmark = pytest.mark.rabbitmq

WRONG_KEY = "wrong-cmq-key-Xq81nVb2"  # must never be printed, at any log level


def cmq_env(endpoint: str, queue: str, key: str, **extra: str) -> dict[str, str]:
    base = {n: v for n, v in os.environ.items() if not n.startswith("MEDIA_BRIDGE_")}
    return {
        **base,
        "MEDIA_BRIDGE_SOURCE__KIND": "cmq",
        "MEDIA_BRIDGE_SOURCE__ENDPOINT": endpoint,
        "MEDIA_BRIDGE_SOURCE__SECRET_ID": SECRET_ID,
        "MEDIA_BRIDGE_SOURCE__SECRET_KEY": key,
        "MEDIA_BRIDGE_SOURCE__QUEUES": queue,
        "MEDIA_BRIDGE_SOURCE__POLLING_WAIT_SECONDS": "1",
        **extra,
    }


async def test_run_relays_cmq_messages_exports_cmq_metrics_and_exits_0() -> None:
    """media-bridge run (kind=cmq) relays and deletes; /metrics shows CMQ counters; SIGTERM -> 0."""
    bodies = [path.read_text(encoding="utf-8") for path in sample_files()[-6:]] + ["<not json>"]
    expected = expected_event_ids(body.encode() for body in bodies)
    port = free_port()
    async with emulator("vod-events") as running, broker_tap() as tap:
        await send_with_sdk(running.url, "vod-events", bodies)
        env = cmq_env(running.url, "vod-events", SECRET_KEY, **sink_env(tap.names))
        env |= {"MEDIA_BRIDGE_HTTP__PORT": str(port), "MEDIA_BRIDGE_LOG__LEVEL": "WARNING"}
        command = [sys.executable, "-m", "consumer", "run"]
        async with await anyio.open_process(command, env=env, cwd=REPO_ROOT) as process:
            try:
                with anyio.fail_after(20):
                    while (
                        tap.event_ids().total() < expected.total()
                        or running.queue("vod-events").counts()["stored"] > 0
                    ):
                        await anyio.sleep(0.05)
                        await tap.collect()
                async with httpx.AsyncClient() as http:
                    metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            finally:
                process.send_signal(signal.SIGTERM)
                with anyio.fail_after(20):
                    await process.wait()
            _, err = await output(process)
        await tap.collect()
    assert process.returncode == 0, err
    assert tap.event_ids() == expected
    assert [m.body for m in tap.parked] == [b"<not json>"]
    assert f"media_bridge_cmq_deleted_total {float(len(bodies))}" in metrics
    for name in ("late_deletes", "invalid_handles", "empty_polls", "receive_retries", "throttled"):
        assert f"media_bridge_cmq_{name}_total " in metrics


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_wrong_secret_key_fails_start_up_in_one_line_without_the_key(level: str) -> None:
    """A refused SecretKey: exit 78, one plain stderr line naming code 4100, the key nowhere."""
    async with emulator("vod-events") as running, broker_tap() as tap:
        env = cmq_env(running.url, "vod-events", WRONG_KEY, **sink_env(tap.names))
        env |= {"MEDIA_BRIDGE_HTTP__PORT": "0", "MEDIA_BRIDGE_LOG__LEVEL": level}
        command = [sys.executable, "-m", "consumer", "run"]
        async with await anyio.open_process(command, env=env, cwd=REPO_ROOT) as process:
            with anyio.fail_after(20):
                await process.wait()
            out, err = await output(process)
    # Log records are JSON objects; the failure itself is the one line that is not.
    plain = [line for line in err.splitlines() if not _is_log_record(line)]
    assert process.returncode == 78, err
    assert len(plain) == 1, err
    assert plain[0].startswith("media-bridge run: CMQ rejected the credentials (code 4100")
    assert "Traceback" not in err
    assert WRONG_KEY not in out + err


def _is_log_record(line: str) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False
