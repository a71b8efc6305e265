"""The list of every setting, generated from the settings model (for ``media-bridge run --help``)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, SecretStr

from consumer.settings.base import env_var, section_models
from consumer.settings.model import Settings, masked_url

REQUIRED = "required"  # the default shown for a setting without one (e.g. cmq secrets)


@dataclass(frozen=True, slots=True)
class SettingDoc:
    env_var: str  # MEDIA_BRIDGE_SINK__URL
    path: str  # sink.url (the TOML table and key)
    default: str
    description: str


def setting_docs(model: type[BaseModel] = Settings, path: tuple[str, ...] = ()) -> list[SettingDoc]:
    """One entry per leaf setting, in declaration order."""
    docs: list[SettingDoc] = []
    for name, field in model.model_fields.items():
        here = (*path, name)
        sections = section_models(field.annotation)
        if sections:  # a nested model, or a union of them (source kinds): list each one's keys
            seen = {doc.env_var for doc in docs}
            for section in sections:
                docs.extend(d for d in setting_docs(section, here) if d.env_var not in seen)
                seen.update(d.env_var for d in docs)
            continue
        docs.append(
            SettingDoc(
                env_var=env_var(here),
                path=".".join(here),
                default=REQUIRED
                if field.is_required()
                else _show(field.get_default(call_default_factory=True)),
                description=field.description or "",
            )
        )
    return docs


def settings_epilog() -> str:
    """The settings table for ``--help``: env var, default and meaning of each."""
    docs = setting_docs()
    width = max(len(doc.env_var) for doc in docs)
    lines = [f"  {d.env_var:<{width}}  {d.description} [{_default_note(d)}]" for d in docs]
    return "\n".join(lines)


def _default_note(doc: SettingDoc) -> str:
    return doc.default if doc.default == REQUIRED else f"default: {doc.default}"


def _show(value: object) -> str:
    if isinstance(value, SecretStr):
        return masked_url(value)
    if value is None:
        return "unset"
    return str(value)
