"""Vendor media metadata -> ``MediaMetadata`` fields (snake_case, units as in ``consumer.events``).

v3/MPS ``MetaData`` is PascalCase with ``VideoStreamSet``/``AudioStreamSet``; legacy v2
``metaData`` is camelCase with ``videoStreamList``/``audioStreamList``. Units are the vendor's
(bytes, seconds, bits per second as reported). Numbers are read leniently (an int field given as
a float is rounded) because one odd number should not make a whole notification unparseable.
"""

from __future__ import annotations

from typing import Any

from consumer.formats.fields import INT64_MAX, INT64_MIN, in_int64, number, objects, text

# (schema field, PascalCase vendor key, kind) — the camelCase key is derived.
_SCALARS: tuple[tuple[str, str, str], ...] = (
    ("container", "Container", "text"),
    ("size", "Size", "int"),
    ("duration", "Duration", "float"),
    ("video_duration", "VideoDuration", "float"),
    ("audio_duration", "AudioDuration", "float"),
    ("bitrate", "Bitrate", "int"),
    ("width", "Width", "int"),
    ("height", "Height", "int"),
    ("rotate", "Rotate", "int"),
    ("md5", "Md5", "text"),
)
_VIDEO: tuple[tuple[str, str, str], ...] = (
    ("codec", "Codec", "text"),
    ("bitrate", "Bitrate", "int"),
    ("width", "Width", "int"),
    ("height", "Height", "int"),
    ("fps", "Fps", "float"),
)
_AUDIO: tuple[tuple[str, str, str], ...] = (
    ("codec", "Codec", "text"),
    ("bitrate", "Bitrate", "int"),
    ("sampling_rate", "SamplingRate", "int"),
)


def _camel(fields: tuple[tuple[str, str, str], ...]) -> tuple[tuple[str, str, str], ...]:
    return tuple((name, key[0].lower() + key[1:], kind) for name, key, kind in fields)


_KEYS = {
    False: (_SCALARS, _VIDEO, _AUDIO, "VideoStreamSet", "AudioStreamSet"),
    True: (_camel(_SCALARS), _camel(_VIDEO), _camel(_AUDIO), "videoStreamList", "audioStreamList"),
}


def _read(source: dict[str, Any], fields: tuple[tuple[str, str, str], ...], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, key, kind in fields:
        value = source.get(key)
        if value is None:
            continue
        # Fast path for the types the vendor normally sends (this runs for every event);
        # anything else goes through the checked accessors, which name the bad field.
        value_type = type(value)
        if kind == "text":
            values[name] = value if value_type is str else text(source, key, where)
        elif value_type is int:
            # An int stays an int only in an int field: the models are built without a
            # validation pass (consumer.events.trusted), so a float field gets a float here.
            if kind != "int":
                values[name] = float(value)
            elif INT64_MIN <= value <= INT64_MAX:
                values[name] = value
            else:
                values[name] = in_int64(value, where, key)  # raises: out of range
        else:
            checked = value if value_type is float else number(source, key, where)
            if checked is not None:
                values[name] = checked if kind == "float" else in_int64(round(checked), where, key)
    return values


def media_metadata(
    meta: dict[str, Any] | None, where: str, camel: bool = False
) -> dict[str, Any] | None:
    """``meta`` (a vendor MetaData object) as MediaMetadata fields; None when there is none.

    Returned as a plain dict of the present fields, each of its field's exact type (float for
    the float fields): ``EventDataDraft.to_parsed`` builds the model from it without validation.
    """
    if meta is None:
        return None
    scalars, video, audio, video_key, audio_key = _KEYS[camel]
    values = _read(meta, scalars, where)
    values["video_streams"] = [
        _read(s, video, f"{where}.{video_key}") for s in objects(meta, video_key, where)
    ]
    values["audio_streams"] = [
        _read(s, audio, f"{where}.{audio_key}") for s in objects(meta, audio_key, where)
    ]
    return values
