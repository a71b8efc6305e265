"""Which AMQP path the RabbitMQ adapter tests run on: the frame tap or aio-pika's plain API.

``MEDIA_BRIDGE_TEST_FAST_PATH`` (``true``, the default, or ``false``) is read by the test
helpers, never by the bridge (names starting with ``MEDIA_BRIDGE_TEST_`` are the test suite's,
not settings): adapters built in tests get ``fast_path=FAST_PATH``, and bridge processes get
``MEDIA_BRIDGE_AMQP__FAST_PATH`` from :func:`bridge_env`. CI runs the integration suite once
per value; the contract suite covers both paths in every run.
"""

from __future__ import annotations

import os

VARIABLE = "MEDIA_BRIDGE_TEST_FAST_PATH"


def _from_environment() -> bool:
    value = os.environ.get(VARIABLE, "true").strip().lower()
    if value not in ("true", "false"):
        raise RuntimeError(f"{VARIABLE} must be true or false, got {value!r}")
    return value == "true"


FAST_PATH = _from_environment()


def bridge_env() -> dict[str, str]:
    """The setting that puts a ``media-bridge run`` child on the path under test."""
    return {"MEDIA_BRIDGE_AMQP__FAST_PATH": "true" if FAST_PATH else "false"}
