"""Which shared samples are notifications (golden-tested) and which are not (expected errors)."""

from __future__ import annotations

from pathlib import Path

from consumer.errors import PayloadReason
from tests.golden.seed_examples import FIXTURES_DIR
from tests.samples import REPO_ROOT, sample_files

GOLDEN_DIR = REPO_ROOT / "tests" / "golden"

# Samples that are API replies or plain CMQ messages, not notifications, with the reason they
# are refused and a phrase the error message must contain (it names what the body is).
NON_NOTIFICATIONS: dict[str, tuple[PayloadReason, str]] = {
    "api3__Error__vod-common-error-response": (
        PayloadReason.NOT_A_NOTIFICATION, "Tencent Cloud API error response"
    ),
    "cmq__BatchDeleteMessage__doc-response-ok": (
        PayloadReason.NOT_A_NOTIFICATION, "CMQ API response"
    ),
    "cmq__BatchDeleteMessage__doc-response-partial-failure-6010": (
        PayloadReason.NOT_A_NOTIFICATION, "CMQ API response (code=6010"
    ),
    "cmq__BatchReceiveMessage__doc-response": (
        PayloadReason.NOT_A_NOTIFICATION, "CMQ API response"
    ),
    "cmq__BatchSendMessage__doc-response": (PayloadReason.NOT_A_NOTIFICATION, "CMQ API response"),
    "cmq__DeleteMessage__doc-response": (PayloadReason.NOT_A_NOTIFICATION, "CMQ API response"),
    "cmq__Error__doc-error-response-shape": (
        PayloadReason.NOT_A_NOTIFICATION, "CMQ API response (code=5100"
    ),
    "cmq__ReceiveMessage__doc-response": (
        PayloadReason.NOT_JSON, "CMQ message whose body is plain text"
    ),
    "cmq__SendMessage__doc-response": (PayloadReason.NOT_A_NOTIFICATION, "CMQ API response"),
    "cmq__TopicHttpPush__json-format-body": (
        PayloadReason.NOT_JSON, "CMQ message whose body is plain text"
    ),
    "mpsquery__WorkflowTask__describetaskdetail-doc-ai-content-review": (
        PayloadReason.NOT_A_NOTIFICATION, "MPS task query result"
    ),
    "vod__ConfirmEvents__api-doc-response": (
        PayloadReason.NOT_A_NOTIFICATION, "bare API acknowledgement"
    ),
    "vod__ConfirmEvents__response-tccli": (
        PayloadReason.NOT_A_NOTIFICATION, "bare API acknowledgement"
    ),
}


def notification_samples() -> list[Path]:
    """Every shared sample that is a notification (fails when ../shared is missing)."""
    return [path for path in sample_files() if path.stem not in NON_NOTIFICATIONS]


def seed_fixtures() -> list[Path]:
    """Every extracted seed example."""
    files = sorted(FIXTURES_DIR.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no seed fixtures in {FIXTURES_DIR}")
    return files


def expected_path(source: Path) -> Path:
    """Where the golden output of a sample or a seed fixture lives."""
    group = "seeds" if source.parent == FIXTURES_DIR else "samples"
    return GOLDEN_DIR / group / f"{source.stem}.expected.json"
