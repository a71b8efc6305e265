"""``media-bridge cmq-emulator`` serves the emulator that Tencent's SDK can talk to."""

from __future__ import annotations

import os
import signal
import socket
import sys

import anyio
import anyio.to_thread
from cmq.account import Account
from cmq.queue import Message

from tests.cmq.helpers import SECRET_ID, SECRET_KEY
from tests.e2e_cmq.support import free_port, output
from tests.samples import REPO_ROOT


def sdk_round_trip(url: str) -> str:
    """Send, receive and delete one message with the SDK; the body received."""
    account = Account(url, SECRET_ID, SECRET_KEY)
    try:
        queue = account.get_queue("mps-events")
        queue.send_message(Message("hello"))
        message = queue.receive_message(1)
        queue.delete_message(message.receiptHandle)
        return str(message.msgBody)
    finally:
        account.cmq_client.close_connection()


async def wait_for_port(port: int) -> None:
    with anyio.fail_after(10):
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), 0.2):
                    return
            except OSError:
                await anyio.sleep(0.05)


async def test_cmq_emulator_subcommand_serves_the_sdk_and_stops_on_sigterm() -> None:
    """The subcommand takes the emulator's options, serves CMQ, and exits 0 on SIGTERM."""
    port = free_port()
    env = {**os.environ, "CMQ_EMULATOR_SECRET_ID": SECRET_ID, "CMQ_EMULATOR_SECRET_KEY": SECRET_KEY}
    command = [sys.executable, "-m", "consumer", "cmq-emulator"]
    command += ["--port", str(port), "--queue", "mps-events"]
    async with await anyio.open_process(command, env=env, cwd=REPO_ROOT) as process:
        try:
            await wait_for_port(port)
            body = await anyio.to_thread.run_sync(sdk_round_trip, f"http://127.0.0.1:{port}")
        finally:
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(10):
                await process.wait()
        _, err = await output(process)
    assert body == "hello"
    assert process.returncode == 0, err
    assert f"CMQ emulator on http://127.0.0.1:{port}  queues: mps-events" in err
