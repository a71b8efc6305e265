"""Field-by-field comparison of JSON documents, for readable golden-test failures."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def flatten(value: Any, path: str = "$") -> dict[str, Any]:
    """``{"$.event.data.results[0].status": "SUCCESS", ...}``: one entry per leaf."""
    if isinstance(value, dict) and value:
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{path}.{key}"))
        return leaves
    if isinstance(value, list) and value:
        leaves = {}
        for index, item in enumerate(value):
            leaves.update(flatten(item, f"{path}[{index}]"))
        return leaves
    return {path: value}


def field_differences(expected: Any, actual: Any) -> list[str]:
    """One line per differing leaf, e.g. ``$.event.data.succeeded: expected False, got True``."""
    want, got = flatten(expected), flatten(actual)
    lines = []
    for path in sorted(want.keys() | got.keys()):
        old, new = want.get(path, _MISSING), got.get(path, _MISSING)
        if old is _MISSING:
            lines.append(f"{path}: unexpected {new!r}")
        elif new is _MISSING:
            lines.append(f"{path}: missing (expected {old!r})")
        elif old != new or type(old) is not type(new):
            lines.append(f"{path}: expected {old!r}, got {new!r}")
    return lines
