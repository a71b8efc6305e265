"""Real sample bodies for the relay tests, the ids they normalize to, and ``wait_until``."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from consumer.normalize import normalize
from tests.samples import sample

NEW_FILE_UPLOAD = sample("vod__NewFileUpload__push-body-v3.json")
PROCEDURE_FINISHED = sample("vod__ProcedureStateChanged__push-body-v3.json")
MPS_WORKFLOW = sample("mps__WorkflowTask__cmq-msgbody-doc-with-failed-subtask.json")
PULL_EVENTS_BATCH = sample("vod__PullEvents__api-doc-response.json")  # 4 events in one body
NOT_JSON = b"<xml>not a notification</xml>"


def event_ids(body: bytes) -> list[str]:
    """The CloudEvents ids the relay will publish for ``body``."""
    return [item.event.id for item in normalize(body)]


async def wait_until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Poll ``condition`` (state of the memory adapters) until it holds; fail after timeout."""
    with anyio.fail_after(timeout_s):
        while not condition():  # noqa: ASYNC110 - the adapters expose state, not events
            await anyio.sleep(0.005)
