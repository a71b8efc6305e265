"""What is wrong with the settings, in words: one clause per problem, all of them in one line.

A clause names the setting both ways, ``MEDIA_BRIDGE_SINK__URL (sink.url)``, says what is wrong
and, where that is safe, the value given. A value is echoed only for a known, non-secret key:
never for a ``SecretStr`` field (keys, tokens, URLs with passwords), never for an unknown key
(its name may be a typo of a secret one), never for a whole table (it may hold a secret next
to the bad key); a URL that is echoed has its password masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from consumer.settings.base import env_var, masked_url, section_models
from consumer.settings.environment import closest

_MESSAGES = {"missing": "required"}  # every other error keeps pydantic's wording
_NOT_A_TABLE = {"model_type", "model_attributes_type", "dict_type"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the settings, as a clause of the error line."""

    text: str  # "invalid setting MEDIA_BRIDGE_X__Y (x.y): what is wrong (got ...)"
    key: str | None = None  # the environment variable it is about, to drop duplicates
    settings: int = 1  # how many settings it names ("missing required settings: A, B")


def report(problems: Sequence[Problem]) -> str:
    """One line: the problem, or how many there are followed by each, separated by "; "."""
    if len(problems) == 1:
        return problems[0].text
    count = sum(problem.settings for problem in problems)
    return f"{count} problems in the settings: " + "; ".join(p.text for p in problems)


def validation_problems(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Every error of ``exc``; the missing settings share one clause (e.g. kind=cmq alone)."""
    errors = exc.errors(include_url=False)
    missing = [_locate(e["loc"], model) for e in errors if e["type"] == "missing"]
    problems = [_problem(e, model) for e in errors if e["type"] != "missing"]
    if not missing:
        return problems
    names = ", ".join(where.name() for where in missing)
    text = f"missing required setting{'s' if len(missing) > 1 else ''}: {names}"
    return [Problem(text, settings=len(missing)), *problems]


@dataclass(frozen=True, slots=True)
class _Location:
    """The setting an error is about."""

    path: list[str]
    field: FieldInfo | None = None  # a known key holding a value (not a table)
    table: type[BaseModel] | None = None  # for an unknown key: the table it was looked up in
    kind: str | None = None  # the [source] kind the key was checked against, if any

    def name(self) -> str:
        return _name(self.path)

    def may_echo(self) -> bool:
        return self.field is not None and not _is_secret(self.field.annotation)


def _problem(error: ErrorDetails, model: type[BaseModel]) -> Problem:
    where = _locate(error["loc"], model)
    if error["type"] == "extra_forbidden":
        text = f"invalid setting {where.name()}: {_no_such_setting(where)}"
        return Problem(text, env_var(where.path))
    if error["type"] == "union_tag_invalid":  # a [source] kind that does not exist
        return _unknown_kind(error, where)
    message = _message(error, where)
    value = error.get("input")
    if where.may_echo() and not isinstance(value, dict | list | None):
        message += f" (got {_short(value)})"
    return Problem(f"invalid setting {where.name()}: {message}", env_var(where.path))


def _unknown_kind(error: ErrorDetails, table: _Location) -> Problem:
    path = [*table.path, "kind"]  # the tag of every union of tables (consumer.settings.sources)
    ctx = error.get("ctx", {})
    kinds, given = ctx.get("expected_tags", "?"), _short(ctx.get("tag"))
    text = f"invalid setting {_name(path)}: must be one of {kinds} (got {given})"
    return Problem(text, env_var(path))


def _message(error: ErrorDetails, where: _Location) -> str:
    if error["type"] in _NOT_A_TABLE and where.field is None:
        # pydantic's "valid dictionary or instance of SinkSettings" speaks Python, not TOML.
        table = ".".join(where.path)
        return f"must be a table ([{table}] in TOML, a JSON object in the environment)"
    return _MESSAGES.get(error["type"], str(error["msg"]).removeprefix("Value error, "))


def _no_such_setting(where: _Location) -> str:
    text = "no such setting" if where.kind is None else f"no such setting for kind {where.kind!r}"
    known = where.table.model_fields if where.table is not None else {}
    suggestion = closest(where.path[-1], known)
    if suggestion is None:
        return text
    return f"{text}, did you mean {_name([*where.path[:-1], suggestion])}?"


def _locate(loc: tuple[int | str, ...], model: type[BaseModel]) -> _Location:
    """The setting an error location names.

    Pydantic puts the tag of a discriminated union into the location (``source.cmq.token``):
    the tag picks the model and is dropped from the name. List indexes are dropped too.
    """
    path: list[str] = []
    table: type[BaseModel] | None = model
    kind: str | None = None
    parts = [str(part) for part in loc]
    while parts and table is not None:
        part = parts.pop(0)
        field = table.model_fields.get(part)
        if field is None:
            return _Location([*path, part], table=table, kind=kind)
        path.append(part)
        members = _tables(field.annotation)
        if len(members) > 1 and parts:  # a union of tables: the next part is the tag
            kind = parts.pop(0)
            table = members.get(kind)
        elif members:
            table = next(iter(members.values()))
        else:
            return _Location(path, field=field)
    return _Location(path)  # a whole table: never echoed


def _tables(annotation: object) -> dict[str, type[BaseModel]]:
    """The settings tables an annotation allows, by their ``kind`` tag (or their name)."""
    found: dict[str, type[BaseModel]] = {}
    for table in section_models(annotation):
        kind = table.model_fields.get("kind")
        found[str(get_args(kind.annotation)[0] if kind is not None else table.__name__)] = table
    return found


def _is_secret(annotation: object) -> bool:
    return annotation is SecretStr or any(_is_secret(arg) for arg in get_args(annotation))


def _name(path: Sequence[str]) -> str:
    return f"{env_var(path)} ({'.'.join(path)})"


def _short(value: object) -> str:
    text = repr(masked_url(value) if isinstance(value, str) else value)
    return text if len(text) <= 60 else text[:57] + "..."
