"""``media-bridge normalize``: its limits must be positive whole numbers."""

from __future__ import annotations

import pytest

from consumer.cli import build_parser, main


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
