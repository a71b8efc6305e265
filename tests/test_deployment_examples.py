"""The deployment examples name only settings that exist.

A typo'd variable in a compose file or manifest is refused by the bridge at start-up
(``consumer.settings.environment``), but only once somebody deploys it; these files are
checked here instead, against the settings model itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consumer.settings.listing import setting_docs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [
    ROOT / "docker-compose.yml",
    ROOT / "examples" / "kubernetes" / "media-bridge.yaml",
]
# `- {name: MEDIA_BRIDGE_X, ...}` (manifest) and `MEDIA_BRIDGE_X: value` (compose)
VARIABLE = re.compile(r"\b(MEDIA_BRIDGE_[A-Z0-9_]*[A-Z0-9])\b")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_variable_in_the_example_is_a_setting(path: Path) -> None:
    known = {doc.env_var for doc in setting_docs()} | {"MEDIA_BRIDGE_CONFIG"}
    named = set(VARIABLE.findall(path.read_text()))
    assert named, f"{path.name} sets no MEDIA_BRIDGE_ variable: the pattern is stale"
    assert named <= known, f"not settings: {sorted(named - known)}"


def test_the_pods_grace_period_outlasts_the_drain() -> None:
    """Kubernetes SIGKILLs after terminationGracePeriodSeconds: it must exceed the drain."""
    manifest = (ROOT / "examples" / "kubernetes" / "media-bridge.yaml").read_text()
    pod_grace = int(_one(r"terminationGracePeriodSeconds:\s*(\d+)", manifest))
    drain = float(_one(r'RELAY__GRACE_PERIOD_S, value: "(\d+)"', manifest))
    close_s = 5  # the service's budget for closing source and sink after the drain
    assert pod_grace > drain + close_s


def _one(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, f"the manifest no longer says {pattern!r}"
    return found.group(1)
