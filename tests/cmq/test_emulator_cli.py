"""``python -m emulators.cmq``: arguments, and a real start/serve/stop of the process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import anyio
import httpx
import pytest

from adapters.cmq_signing import SignatureMethod, signed_params
from consumer.cli import main
from emulators.cmq import FaultKind, FaultRule
from emulators.cmq.cli import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, build_parser, config_from_args


def test_arguments_become_queues_faults_and_credentials() -> None:
    """Repeated --queue and --fault options build the emulator's configuration."""
    args = build_parser().parse_args(
        ["--queue", "a", "--queue", "b", "--visibility-timeout", "5", "--seed", "9",
         "--fault", "drop-response:0.1:BatchDeleteMessage", "--fault", "4420:0.5",
         "--secret-id", "AKIDcli", "--secret-key", "k"]
    )  # fmt: skip
    config = config_from_args(args)
    assert [(q.name, q.visibility_timeout) for q in config.queues] == [("a", 5.0), ("b", 5.0)]
    assert config.faults.seed == 9
    assert config.faults.rules == (
        FaultRule(FaultKind.DROP_RESPONSE, 0.1, "BatchDeleteMessage"),
        FaultRule(FaultKind.THROTTLED, 0.5),
    )
    assert [(c.secret_id, c.secret_key) for c in config.credentials] == [("AKIDcli", "k")]


def test_bad_fault_spec_is_a_usage_error() -> None:
    """An unknown fault kind is rejected by the argument parser."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--queue", "a", "--fault", "explode:0.5"])


def test_help_gives_every_option_a_text_with_its_default() -> None:
    """--help explains each option, says its default, and what each fault kind does."""
    helps = {action.dest: action.help or "" for action in build_parser()._actions}
    del helps["help"]
    assert [dest for dest, text in helps.items() if "default" not in text] == []
    assert "BatchReceiveMessage" in helps["fault"]  # ACTION is a CMQ action name
    assert "(default: any action)" in helps["fault"]
    for kind in FaultKind:
        assert f"{kind.value} (" in helps["fault"]  # each kind with its effect


def test_help_never_shows_a_secret_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key and token may come from the environment: --help names the variable only."""
    monkeypatch.setenv("CMQ_EMULATOR_SECRET_KEY", "env-key-7f3a")
    monkeypatch.setenv("CMQ_EMULATOR_TOKEN", "env-token-7f3a")
    text = build_parser().format_help()
    assert "$CMQ_EMULATOR_SECRET_KEY" in text
    assert "7f3a" not in text
    assert DEFAULT_SECRET_KEY not in text


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_port_out_of_range_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A port outside 1-65535 is refused by the parser with a clear line, not a traceback."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--queue", "a", "--port", port])
    assert exited.value.code == 2  # argparse's own usage status
    assert "error: argument --port: " in capsys.readouterr().err


def test_port_out_of_range_exits_64_under_media_bridge(capsys: pytest.CaptureFixture[str]) -> None:
    """media-bridge cmq-emulator exits with EX_USAGE, like every media-bridge usage error."""
    with pytest.raises(SystemExit) as exited:
        main(["cmq-emulator", "--queue", "a", "--port", "99999"])
    assert exited.value.code == 64
    assert "argument --port: 99999 is not a TCP port (1-65535)" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _post_when_up(port: int, form: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        with anyio.fail_after(10):
            while True:
                try:
                    return await http.post(f"http://127.0.0.1:{port}/v2/index.php", data=form)
                except httpx.ConnectError:
                    await anyio.sleep(0.05)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
async def test_module_serves_until_stopped(stop: signal.Signals) -> None:
    """The standalone server answers signed requests and exits 0 on SIGINT or SIGTERM."""
    port = _free_port()
    command = [sys.executable, "-m", "emulators.cmq", "--port", str(port), "--queue", "mps-events"]
    form = signed_params(
        {"Action": "SendMessage", "queueName": "mps-events", "msgBody": "hi"},
        host=f"127.0.0.1:{port}",
        secret_id=DEFAULT_SECRET_ID,
        secret_key=DEFAULT_SECRET_KEY,
        signature_method=SignatureMethod.HMAC_SHA1,
    )
    async with await anyio.open_process(command, stdout=None, stderr=subprocess.PIPE) as process:
        try:
            reply = await _post_when_up(port, form)
            process.send_signal(stop)
            with anyio.fail_after(10):
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
        assert process.stderr is not None
        stderr = b"".join([chunk async for chunk in process.stderr])
    assert reply.json()["code"] == 0
    assert code == 0
    assert b"CMQ emulator on" in stderr
    assert DEFAULT_SECRET_KEY.encode() not in stderr
