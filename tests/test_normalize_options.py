"""``media-bridge normalize``: limits must be positive whole numbers; what `--with-handles` prints."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from consumer.cli import build_parser, main
from consumer.commands.normalize import run_normalize
from consumer.normalize import DEFAULT_LIMITS, normalize
from consumer.outbound import event_message
from tests.samples import sample


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--max-depth", "-1", "must be at least 1, got -1"),
        ("--max-depth", "0", "must be at least 1, got 0"),
        ("--max-body-bytes", "0", "must be at least 1, got 0"),
        ("--max-body-bytes", "1MB", "'1MB' is not a whole number"),
    ],
)
def test_limit_below_one_is_a_usage_error(
    option: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A limit that would reject every body exits 64 naming the option, before reading input."""
    with pytest.raises(SystemExit) as exited:
        main(["normalize", option, value])
    assert exited.value.code == 64
    assert f"error: argument {option}: {expected}" in capsys.readouterr().err


def test_positive_limits_are_taken() -> None:
    """The smallest allowed limits are 1."""
    args = build_parser().parse_args(["normalize", "--max-depth", "1", "--max-body-bytes", "1"])
    assert (args.max_depth, args.max_body_bytes) == (1, 1)


def test_with_handles_wraps_the_published_event_and_its_handle(tmp_path: Path) -> None:
    """`--with-handles` prints {event, event_handle}; the event is the published body itself."""
    pull = tmp_path / "pull.json"
    pull.write_bytes(sample("vod__ProcedureStateChanged__pullevents-response-v3.json"))
    stdout, stderr = io.StringIO(), io.StringIO()
    status = run_normalize(
        [str(pull)], DEFAULT_LIMITS, with_handles=True, stdin=io.BytesIO(), stdout=stdout,
        stderr=stderr,
    )
    [line] = stdout.getvalue().splitlines()
    [item] = normalize(pull.read_bytes())
    assert status == 0
    assert stderr.getvalue() == ""
    assert item.event_handle
    assert line.encode() == (
        b'{"event":' + event_message(item).body
        + b',"event_handle":' + orjson.dumps(item.event_handle) + b"}"
    )
