"""The environment variables the settings accept, so that a misspelt one is refused, not ignored.

pydantic-settings only looks up the names it knows: ``MEDIA_BRIDGE_SINK_URL`` (one underscore)
would leave the sink at its default without a word. Every other ``MEDIA_BRIDGE_`` variable is
therefore a mistake, reported with the accepted name closest to it. The accepted names are
derived from the models (every member of the ``[source]`` union included), so a new setting or
source kind needs no change here.

``MEDIA_BRIDGE_TEST_*`` belongs to the project's test suite (e.g. ``MEDIA_BRIDGE_TEST_AMQP_URL``),
which starts bridges with its own environment: those names are not settings and not typos.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from consumer.settings.base import CONFIG_ENV, ENV_PREFIX, env_var, section_models

TEST_SUITE_PREFIX = f"{ENV_PREFIX}TEST_"


@dataclass(frozen=True, slots=True)
class UnknownVariable:
    """A ``MEDIA_BRIDGE_`` variable that sets nothing (its value is never kept: it may be secret)."""

    name: str
    suggestion: str | None  # the accepted name closest to it, if any is close

    def message(self) -> str:
        if self.suggestion is None:
            return f"unknown setting {self.name} (media-bridge run --help lists them all)"
        return f"unknown setting {self.name}: did you mean {self.suggestion}?"


def unknown_variables(environ: Mapping[str, str], model: type[BaseModel]) -> list[UnknownVariable]:
    """The ``MEDIA_BRIDGE_`` variables of ``environ`` that set nothing in ``model``, by name.

    Names are compared upper-cased, as pydantic-settings reads them case-insensitively.
    """
    accepted = accepted_names(model)
    return [
        UnknownVariable(name, closest(name.upper(), accepted, common_prefix=ENV_PREFIX))
        for name in sorted(environ)
        if name.upper().startswith(ENV_PREFIX)
        and not name.upper().startswith(TEST_SUITE_PREFIX)
        and name.upper() not in accepted
    ]


def accepted_names(model: type[BaseModel]) -> frozenset[str]:
    """Every variable that sets something: each table (as a JSON object), each key, the file."""
    return frozenset({CONFIG_ENV, *_names(model, ())})


def _names(model: type[BaseModel], path: tuple[str, ...]) -> Iterator[str]:
    for name, field in model.model_fields.items():
        here = (*path, name)
        yield env_var(here)
        for section in section_models(field.annotation):
            yield from _names(section, here)


def closest(word: str, candidates: Iterable[str], *, common_prefix: str = "") -> str | None:
    """The candidate most like ``word`` (difflib's ratio), or None when none is close.

    ``common_prefix``, shared by every candidate, is left out of the comparison: it would make
    any two names look alike.
    """
    by_rest = {candidate.removeprefix(common_prefix): candidate for candidate in candidates}
    found = difflib.get_close_matches(word.removeprefix(common_prefix), by_rest, n=1)
    return by_rest[found[0]] if found else None
