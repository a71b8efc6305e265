"""The SecretKey never appears in a log line or an error, at any level."""

from __future__ import annotations

import logging
from contextlib import aclosing

import anyio
import pytest

from adapters.cmq import CmqSource
from consumer.errors import ConfigurationError
from emulators.cmq import Credential, FaultKind, FaultRule, FaultSettings
from tests.cmq.helpers import SECRET_ID, emulator, raw_client, source_options

DISTINCTIVE_KEY = "Zq9-very-distinctive-secret-key-7781"
WRONG_KEY = "Wx4-distinctive-but-wrong-key-0420"


async def test_secret_key_is_in_no_log_or_error_during_failed_and_normal_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Capture everything at DEBUG through a wrong-key start-up, retries and a normal run."""
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    creds = (Credential(SECRET_ID, DISTINCTIVE_KEY),)
    async with emulator(credentials=creds) as running:
        try:
            await CmqSource.connect(source_options(running, secret_key=WRONG_KEY))
        except ConfigurationError as exc:
            errors.append(repr(exc) + str(exc))
        async with raw_client(running, secret_key=DISTINCTIVE_KEY) as cmq:
            await cmq.send("q", "a", "b")
        running.set_faults(FaultSettings(rules=(FaultRule(FaultKind.THROTTLED, 0.5),), seed=1))
        options = source_options(running, secret_key=DISTINCTIVE_KEY, receive_retry_attempts=50)
        async with aclosing(await CmqSource.connect(options)) as source:
            for _ in range(2):
                with anyio.fail_after(5):
                    await (await source.receive()).ack()
            errors.append(repr(source.options))
    assert errors
    assert "4100" in errors[0]
    assert caplog.records, "expected DEBUG logs from httpx/uvicorn/adapters"
    for secret in (DISTINCTIVE_KEY, WRONG_KEY):
        assert secret not in caplog.text
        assert all(secret not in record.getMessage() for record in caplog.records)
        assert all(secret not in text for text in errors)
