"""``media-bridge run``: help, start-up failures as one line, SIGTERM drains, end to end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest

from adapters.memory import MemorySink, MemorySource
from consumer.cli import main
from consumer.commands.run import EXIT_CONFIG, EXIT_UNAVAILABLE, main_run
from consumer.normalize import normalize
from consumer.ports import Sink, Source
from consumer.service import run_service
from consumer.settings import SinkSettings, SourceSettings, load_settings
from consumer.settings.listing import setting_docs
from consumer.status_server import bind
from tests.integration.broker import unique
from tests.relay_support import NEW_FILE_UPLOAD, wait_until
from tests.samples import REPO_ROOT

AMQP_URL = os.environ.get("MEDIA_BRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets reaches the settings; the status port never collides."""
    for name in [n for n in os.environ if n.startswith("MEDIA_BRIDGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MEDIA_BRIDGE_HTTP__PORT", "0")


def test_run_help_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    """--help names every setting's environment variable and default."""
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert "--config FILE" in out
    for doc in setting_docs():
        assert doc.env_var in out


def test_bad_setting_exits_78_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid setting is one stderr line naming it, exit status 78, no traceback."""
    monkeypatch.setenv("MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT", "0")
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT" in err
    assert "Traceback" not in err


def test_misspelt_variable_exits_78_naming_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """MEDIA_BRIDGE_SINK_URL (one underscore) stops the run instead of being ignored."""
    monkeypatch.setenv("MEDIA_BRIDGE_SINK_URL", "amqp://bridge:Typo-secret@broker/")
    assert main(["run"]) == EXIT_CONFIG
    assert capsys.readouterr().err == (
        "media-bridge run: unknown setting MEDIA_BRIDGE_SINK_URL: "
        "did you mean MEDIA_BRIDGE_SINK__URL?\n"
    )


def test_every_bad_setting_is_named_in_the_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two bad values: exit 78, one line that names both."""
    monkeypatch.setenv("MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT", "0")
    monkeypatch.setenv("MEDIA_BRIDGE_LOG__FORMAT", "xml")
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith("media-bridge run: 2 problems in the settings: ")
    assert err.count("\n") == 1
    assert "invalid setting MEDIA_BRIDGE_RELAY__MAX_IN_FLIGHT (relay.max_in_flight)" in err
    assert "; invalid setting MEDIA_BRIDGE_LOG__FORMAT (log.format)" in err


def test_table_given_as_a_url_in_the_file_exits_78_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sink = "amqp://...": one line naming [sink], and the password is not in it."""
    config = tmp_path / "bridge.toml"
    config.write_text('sink = "amqp://guest:Zq9-file-secret@host/"\n')
    assert main(["run", "--config", str(config)]) == EXIT_CONFIG
    assert capsys.readouterr().err == (
        "media-bridge run: invalid setting MEDIA_BRIDGE_SINK (sink): "
        "must be a table ([sink] in TOML, a JSON object in the environment)\n"
    )


def test_installed_command_refuses_a_misspelt_source_variable() -> None:
    """The installed media-bridge exits 78 on SOURCE__QUEU, before connecting to anything."""
    env = {n: v for n, v in os.environ.items() if not n.startswith("MEDIA_BRIDGE_")}
    env["MEDIA_BRIDGE_SOURCE__QUEU"] = "media.notifications"
    command = [str(Path(sys.executable).with_name("media-bridge")), "run"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == EXIT_CONFIG
    assert done.stderr == (
        "media-bridge run: unknown setting MEDIA_BRIDGE_SOURCE__QUEU: "
        "did you mean MEDIA_BRIDGE_SOURCE__QUEUE?\n"
    )


def test_taken_status_port_exits_78_before_either_end_is_opened(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The status port is bound first: in use, the run ends with neither sink nor source opened."""
    opened: list[str] = []

    async def open_source(settings: SourceSettings, prefetch: int) -> Source:
        opened.append("source")
        return MemorySource([NEW_FILE_UPLOAD])

    async def open_sink(settings: SinkSettings) -> Sink:
        opened.append("sink")
        return MemorySink()

    with bind("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        monkeypatch.setenv("MEDIA_BRIDGE_HTTP__PORT", str(port))
        assert main_run(None, open_source, open_sink) == EXIT_CONFIG
    assert opened == []
    err = capsys.readouterr().err
    assert err.startswith(f"media-bridge run: cannot listen on 127.0.0.1:{port} ")
    assert err.count("\n") == 1


def test_unreachable_broker_exits_69_with_the_password_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broker that does not answer is one line with a masked URL and exit status 69."""
    with socket.socket() as probe:  # a port that is certainly closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MEDIA_BRIDGE_SINK__URL", f"amqp://bridge:Zq9-secret@127.0.0.1:{port}/")
    assert main(["run"]) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "Zq9-secret" not in err
    assert f"amqp://bridge:***@127.0.0.1:{port}/" in err
    assert "Traceback" not in err


async def test_sigterm_drains_in_flight_and_returns() -> None:
    """SIGTERM stops receiving, lets the in-flight delivery be confirmed and acked, then returns."""
    source = MemorySource([NEW_FILE_UPLOAD, NEW_FILE_UPLOAD])
    sink = MemorySink(block=True)
    settings = load_settings().model_copy(
        update={"relay": load_settings().relay.model_copy(update={"max_in_flight": 1})}
    )
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(run_service, source, sink, settings)
            await wait_until(lambda: sink.waiting == 1)
            os.kill(os.getpid(), signal.SIGTERM)
            await anyio.sleep(0.1)
            sink.release()
    assert source.acked == ["m1"]
    assert source.queue.ready == 1  # the second message was never received
    assert not source.connected  # the service closed both ends
    assert not sink.connected


def rabbitmq_reachable() -> bool:
    parts = urlsplit(AMQP_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 1):
            return True
    except OSError:
        return False


@pytest.mark.rabbitmq
async def test_run_relays_from_rabbitmq_and_exits_0_on_sigterm() -> None:
    """The real command relays a sample to the events exchange and exits 0 on SIGTERM."""
    # A missing broker is a broken test environment, not a reason to pass: fail loudly.
    assert rabbitmq_reachable(), f"no RabbitMQ at {AMQP_URL}: start it with scripts/ensure-rabbitmq"
    import aio_pika

    tag = uuid.uuid4().hex[:8]
    queue_name, exchange_name = f"test.src.{tag}", f"test.events.{tag}"
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        source_queue = await channel.declare_queue(queue_name, durable=True)
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        tap = await channel.declare_queue(exclusive=True)
        await tap.bind(exchange, "#")
        await channel.default_exchange.publish(aio_pika.Message(NEW_FILE_UPLOAD), queue_name)
        env = {
            **os.environ,
            "MEDIA_BRIDGE_SOURCE__URL": AMQP_URL,
            "MEDIA_BRIDGE_SOURCE__QUEUE": queue_name,
            "MEDIA_BRIDGE_SINK__URL": AMQP_URL,
            "MEDIA_BRIDGE_SINK__EVENTS_EXCHANGE": exchange_name,
            "MEDIA_BRIDGE_SINK__PARKING_EXCHANGE": f"test.parking.{tag}",
            "MEDIA_BRIDGE_SINK__PARKING_QUEUE": f"test.parking.{tag}",
            "MEDIA_BRIDGE_LOG__LEVEL": "WARNING",  # stderr is read only at the end
        }
        async with await anyio.open_process(
            [sys.executable, "-m", "consumer", "run"], env=env, cwd=REPO_ROOT
        ) as process:
            try:
                with anyio.fail_after(15):
                    async with tap.iterator() as messages:
                        async for message in messages:
                            await message.ack()
                            break
            finally:
                process.send_signal(signal.SIGTERM)
                with anyio.fail_after(30):
                    await process.wait()
            err = b"".join([chunk async for chunk in process.stderr] if process.stderr else [])
        await source_queue.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(exchange_name)
        await channel.exchange_delete(f"test.parking.{tag}")
        await channel.queue_delete(f"test.parking.{tag}")
    assert process.returncode == 0, err.decode()
    assert message.message_id == normalize(NEW_FILE_UPLOAD)[0].event.id
    assert message.content_type == "application/cloudevents+json"


@pytest.mark.rabbitmq
async def test_taken_status_port_exits_78_without_consuming_from_rabbitmq() -> None:
    """With its status port in use, the real command leaves the source message untouched."""
    assert rabbitmq_reachable(), f"no RabbitMQ at {AMQP_URL}: start it with scripts/ensure-rabbitmq"
    import aio_pika

    queue_name = unique("port-taken")
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        try:
            await channel.default_exchange.publish(aio_pika.Message(NEW_FILE_UPLOAD), queue_name)
            with bind("127.0.0.1", 0) as taken:
                port = taken.getsockname()[1]
                done = await _run_bridge(
                    MEDIA_BRIDGE_SOURCE__URL=AMQP_URL,
                    MEDIA_BRIDGE_SOURCE__QUEUE=queue_name,
                    MEDIA_BRIDGE_SINK__URL=AMQP_URL,
                    MEDIA_BRIDGE_HTTP__PORT=str(port),
                )
            # Delivered to the bridge and requeued when it exited, it would say "redelivered".
            message = await queue.get(no_ack=True, fail=False, timeout=5)
        finally:
            await queue.delete(if_unused=False, if_empty=False)
    assert done.returncode == EXIT_CONFIG
    assert message is not None
    assert message.body == NEW_FILE_UPLOAD
    assert not message.redelivered
    assert done.stderr.decode().startswith(f"media-bridge run: cannot listen on 127.0.0.1:{port} ")
    assert done.stderr.count(b"\n") == 1


async def _run_bridge(**env: str) -> subprocess.CompletedProcess[bytes]:
    """``media-bridge run`` to its end, with only ``env`` of the MEDIA_BRIDGE_ variables."""
    base = {n: v for n, v in os.environ.items() if not n.startswith("MEDIA_BRIDGE_")}
    command = [str(Path(sys.executable).with_name("media-bridge")), "run"]
    with anyio.fail_after(60):
        return await anyio.run_process(command, env={**base, **env}, check=False)
