"""``python -m emulators.vod`` and the inject client: arguments, loading samples, serving."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
import httpx
import pytest

from emulators.vod import Credential, FaultKind, FaultRule
from emulators.vod.cli import (
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    build_parser,
    config_from_args,
    run,
)
from emulators.vod.inject import build_inject_parser, run_inject
from tests.samples import REPO_ROOT, SAMPLES_DIR
from tests.vod_emulator.helpers import RawVod, emulator, raw_client


def _sample_files() -> list[Path]:
    files = [
        path
        for pattern in ("vod__*.json", "vodlegacy__*.json", "api3__*.json")
        for path in sorted(SAMPLES_DIR.glob(pattern))
    ]
    assert len(files) > 30, f"samples missing from {SAMPLES_DIR}"
    return files


def _expected_events(path: Path) -> list[dict[str, Any]]:
    """What a file should contribute, worked out independently of the emulator's code."""
    document = json.loads(path.read_bytes())
    response = document.get("Response") if isinstance(document, dict) else None
    if isinstance(response, dict) and "EventSet" in response:
        document = response["EventSet"] or []
    items = document if isinstance(document, list) else [document]
    return [{k: v for k, v in item.items() if k != "EventHandle"} for item in items]


def test_defaults_and_every_option_documents_its_default() -> None:
    """The defaults match the README, and --help names each option's default."""
    parser = build_parser()
    config = config_from_args(parser.parse_args([]))
    assert parser.parse_args([]).port == 9912
    assert (config.main_app_id, config.confirm_window_s, config.empty_hold_s) == (
        1500000001,
        30.0,
        5.0,
    )
    assert config.rate_limit is None
    assert config.faults.rules == ()
    assert config.credentials[0].secret_id.startswith("AKID")
    undocumented = [
        action.dest
        for action in parser._actions
        if action.dest != "help" and "default" not in (action.help or "")
    ]
    assert undocumented == []
    text = parser.format_help()
    for shown in ("(default: 9912)", "(default: 30.0)", "(default: 5.0)", "1500000001"):
        assert shown in text
    for kind in FaultKind:
        assert kind.value in text
    assert DEFAULT_SECRET_KEY not in text


def test_arguments_become_the_configuration() -> None:
    """Faults, timings, credentials and the rate limit come from the options."""
    args = build_parser().parse_args(
        ["--secret-id", "AKIDcli", "--secret-key", "k", "--token", "t", "--main-app-id", "42",
         "--confirm-window", "2.5", "--hold", "0.5", "--empty-event-set", "null",
         "--fault", "drop-response:0.1:ConfirmEvents", "--fault", "RequestLimitExceeded:0.5",
         "--seed", "9", "--latency-ms", "20", "--timeout-hold", "3", "--rate-limit", "100"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.credentials == (Credential("AKIDcli", "k", "t"),)
    assert (config.main_app_id, config.confirm_window_s, config.empty_hold_s) == (42, 2.5, 0.5)
    assert config.empty_event_set_null is True
    assert config.faults.rules == (
        FaultRule(FaultKind.DROP_RESPONSE, 0.1, "ConfirmEvents"),
        FaultRule(FaultKind.REQUEST_LIMIT, 0.5),
    )
    assert (config.faults.seed, config.faults.latency_s, config.faults.timeout_hold_s) == (
        9,
        0.02,
        3.0,
    )
    assert config.rate_limit == 100


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--port", "99999"], "--port: 99999 is not in 0-65535"),
        (["--port", "http"], "--port: 'http' is not a port number"),
        (["--fault", "explode:0.5"], "--fault"),
        (["--fault", "timeout:2"], "--fault"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An out-of-range port or a bad fault spec: exit 2 with a single line on stderr."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert needle in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_settings_and_unloadable_files_exit_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SecretId without AKID → 64; a missing or non-JSON --load file → 66; one line each."""
    not_json = tmp_path / "x.json"
    not_json.write_text("{oops")
    parser = build_parser()
    codes = [
        run(parser.parse_args(["--secret-id", "nope"])),
        run(parser.parse_args(["--load", str(tmp_path / "missing.json")])),
        run(parser.parse_args(["--load", str(not_json)])),
    ]
    lines = capsys.readouterr().err.splitlines()
    assert codes == [64, 66, 66]
    assert len(lines) == 3
    assert all(line.startswith("vod-emulator: error: ") for line in lines)


async def _banner_port(process: anyio.abc.Process) -> tuple[int, str]:
    assert process.stderr is not None
    text = b""
    with anyio.fail_after(15):
        while b"\n" not in text:
            text += await process.stderr.receive()
    line = text.decode().splitlines()[0]
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    assert match, line
    return int(match.group(1)), line


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
async def test_module_loads_samples_serves_them_and_stops_on_a_signal(stop: signal.Signals) -> None:
    """--load of every VOD sample: pulled back in order, exactly; exit 0 on SIGTERM/SIGINT."""
    files = _sample_files() if stop is signal.SIGTERM else _sample_files()[:2]
    command = [sys.executable, "-m", "emulators.vod", "--port", "0", "--hold", "0.2"]
    command += ["--sub-app-id", "42"]
    for path in files:
        command += ["--load", str(path)]
    expected = [e for path in files for e in _expected_events(path)]
    async with await anyio.open_process(command, cwd=REPO_ROOT, stderr=subprocess.PIPE) as process:
        try:
            port, banner = await _banner_port(process)
            pulled = await _drain(port, 42)
            process.send_signal(stop)
            with anyio.fail_after(10):
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
    assert code == 0
    assert f"SecretId: {DEFAULT_SECRET_ID}" in banner
    assert "main app id: 1500000001" in banner
    assert f"loaded: {len(expected)} events" in banner
    assert DEFAULT_SECRET_KEY not in banner
    assert [{k: v for k, v in e.items() if k != "EventHandle"} for e in pulled] == expected
    assert [[k for k in e if k != "EventHandle"] for e in pulled] == [list(e) for e in expected]


async def _drain(port: int, sub_app_id: int) -> list[dict[str, Any]]:
    """Pull and confirm everything from a standalone emulator on ``port``."""
    pulled: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as http:
        vod = RawVod(
            f"127.0.0.1:{port}", http, secret_id=DEFAULT_SECRET_ID, secret_key=DEFAULT_SECRET_KEY
        )
        while batch := await vod.pull(sub_app_id):
            pulled.extend(batch)
            reply = await vod.confirm([e["EventHandle"] for e in batch], sub_app_id)
            assert reply.error_code is None
    return pulled


async def test_inject_client_posts_sample_files(capsys: pytest.CaptureFixture[str]) -> None:
    """The inject client sends each file to the admin route and reports the counts."""
    files = [SAMPLES_DIR / "vod__PullEvents__api-doc-response.json",
             SAMPLES_DIR / "vod__NewFileUpload__push-body-v3.json"]  # fmt: skip
    expected = [e for path in files for e in _expected_events(path)]
    async with emulator(hold=0) as running, raw_client(running) as vod:
        argv = [f"http://{running.endpoint}", *map(str, files), "--sub-app-id", "5"]
        code = await anyio.to_thread.run_sync(run_inject, build_inject_parser().parse_args(argv))
        pulled = await vod.pull(5)
    out = capsys.readouterr().out
    assert code == 0
    assert f"{len(expected)} events injected" in out.splitlines()[-1]
    assert "into SubAppId 5" in out
    assert [{k: v for k, v in e.items() if k != "EventHandle"} for e in pulled] == expected


async def test_inject_client_rejects_bad_files_before_sending_any(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreadable or non-JSON file: one stderr line, exit 2, nothing injected."""
    good = SAMPLES_DIR / "vod__NewFileUpload__push-body-v3.json"
    not_json = tmp_path / "bad.json"
    not_json.write_text("not json")
    scalars = tmp_path / "scalars.json"
    scalars.write_text("[1, 2]")
    async with emulator(hold=0) as running:
        codes = []
        for bad in (tmp_path / "missing.json", not_json, scalars):
            args = build_inject_parser().parse_args(
                [f"http://{running.endpoint}", str(good), str(bad)]
            )
            codes.append(await anyio.to_thread.run_sync(run_inject, args))
        injected = running.counts().injected
    lines = capsys.readouterr().err.splitlines()
    assert codes == [2, 2, 2]
    assert len(lines) == 3
    assert all(line.startswith("vod-inject: error: ") for line in lines)
    assert injected == 0


def test_inject_client_reports_an_unreachable_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    """No emulator listening: exit 69 with one line."""
    good = SAMPLES_DIR / "vod__NewFileUpload__push-body-v3.json"
    args = build_inject_parser().parse_args(["http://127.0.0.1:9", str(good), "--timeout", "2"])
    assert run_inject(args) == 69
    assert capsys.readouterr().err.count("\n") == 1
