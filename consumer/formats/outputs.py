"""Where a task read from (``input``) and what it produced (``TaskResult.outputs``).

Outputs are found by key name in one walk over a subtask's output object: every string (or list
of strings) under a key ending in ``Url``/``Urls``/``UrlSet``/``Path``/``PathSet`` (any case, so
legacy ``imageUrls``/``pic_url`` too). VOD gives URLs. MPS gives COS/S3 object paths next to an
``OutputStorage``/``Storage`` object; a path is rendered as ``cos://<Bucket>/<key>`` (or
``s3://<S3Bucket>/<key>``) so one string names the object — COS bucket names carry the APPID and
are unique. A path with no known storage is kept as the vendor wrote it.
"""

from __future__ import annotations

from typing import Any

_OUTPUT_SUFFIXES = ("url", "urls", "urlset", "path", "pathset", "paths")
_STORAGE_KEYS = ("OutputStorage", "Storage")


# Stream descriptions are numbers only; skipping them saves most of a Transcode output's walk.
_SKIP_KEYS = frozenset(
    {"VideoStreamSet", "AudioStreamSet", "videoStreamList", "audioStreamList", *_STORAGE_KEYS}
)
_KEY_CACHE: dict[str, bool] = {}
_KEY_CACHE_MAX = 4096  # keys come from untrusted input: bound the memo


def _is_output_key(key: str) -> bool:
    known = _KEY_CACHE.get(key)  # a dict lookup is cheaper than lower()+endswith per key
    if known is None:
        known = key.lower().endswith(_OUTPUT_SUFFIXES)
        if len(_KEY_CACHE) < _KEY_CACHE_MAX:
            _KEY_CACHE[key] = known
    return known


def _storage_prefix(storage: Any) -> str | None:
    """``cos://bucket/`` or ``s3://bucket/`` for an MPS TaskOutputStorage, else None."""
    if not isinstance(storage, dict):
        return None
    cos = storage.get("CosOutputStorage")
    if isinstance(cos, dict) and isinstance(cos.get("Bucket"), str):
        return f"cos://{cos['Bucket']}/"
    s3 = storage.get("S3OutputStorage")
    if storage.get("Type") == "AWS-S3" and isinstance(s3, dict) and isinstance(s3.get("S3Bucket"), str):
        return f"s3://{s3['S3Bucket']}/"
    return None


def collect_outputs(value: Any, storage: Any = None) -> list[str]:
    """Every produced URL/path in ``value``, in document order, without duplicates.

    ``storage`` is the TaskOutputStorage that applies when ``value`` names none itself (MPS puts
    it on the subtask's Input when the Output omits it).
    """
    found: dict[str, None] = {}  # an ordered set
    prefix = _storage_prefix(storage)
    if type(value) is dict:
        _walk_object(value, prefix, found)
    elif type(value) is list:
        _walk_list(value, prefix, found)
    return list(found)


# The walk runs on every subtask output of every event, so it dispatches on exact types
# (vendor JSON from orjson has no subclasses) and skips number-only branches.
def _walk_object(value: dict[str, Any], prefix: str | None, found: dict[str, None]) -> None:
    if "OutputStorage" in value or "Storage" in value:
        for storage_key in _STORAGE_KEYS:
            own = _storage_prefix(value.get(storage_key))
            if own is not None:
                prefix = own
                break
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            is_output = _KEY_CACHE.get(key)  # inlined _is_output_key: the hottest line
            if is_output is None:
                is_output = _is_output_key(key)
            if is_output and item:
                found[item if prefix is None else _render(item, prefix)] = None
        elif kind is list:
            if item and key not in _SKIP_KEYS:
                _walk_list_value(key, item, prefix, found)
        elif kind is dict and key not in _SKIP_KEYS:
            _walk_object(item, prefix, found)


def _walk_list_value(key: str, items: list[Any], prefix: str | None, found: dict[str, None]) -> None:
    if type(items[0]) is not str:
        _walk_list(items, prefix, found)
    elif _is_output_key(key):  # ImageUrlSet, ImagePathSet, imageUrls...
        found.update((_render(s, prefix), None) for s in items if type(s) is str and s)


def _walk_list(items: list[Any], prefix: str | None, found: dict[str, None]) -> None:
    for item in items:
        kind = type(item)
        if kind is dict:
            _walk_object(item, prefix, found)
        elif kind is list:
            _walk_list(item, prefix, found)


def _render(location: str, prefix: str | None) -> str:
    if prefix is None or "://" in location:  # already a URL, or no storage known
        return location
    return prefix + location.lstrip("/")


def mps_input(info: Any) -> dict[str, Any] | None:
    """An MPS MediaInputInfo as ``{"type": "COS", "bucket", "region", "object"}`` (or URL/S3/VOD).

    Credentials an S3 input may carry (S3SecretId/S3SecretKey) are deliberately not copied.
    """
    if not isinstance(info, dict):
        return None
    kind = info.get("Type")
    cos = info.get("CosInputInfo")
    if isinstance(cos, dict):
        return _clean(
            {"type": kind or "COS", "bucket": cos.get("Bucket"), "region": cos.get("Region"),
             "object": cos.get("Object")}
        )
    url = info.get("UrlInputInfo")
    if isinstance(url, dict):
        return _clean({"type": kind or "URL", "url": url.get("Url")})
    s3 = info.get("S3InputInfo")
    if isinstance(s3, dict):
        return _clean(
            {"type": kind or "AWS-S3", "bucket": s3.get("S3Bucket"), "region": s3.get("S3Region"),
             "object": s3.get("S3Object")}
        )
    vod = info.get("VODInputInfo")
    if isinstance(vod, dict):
        return _clean(
            {"type": kind or "VOD", "bucket": vod.get("Bucket"), "region": vod.get("Region"),
             "object": vod.get("Object"), "file_id": vod.get("FileId"),
             "sub_app_id": vod.get("SubAppId")}
        )
    return _clean({"type": kind}) if isinstance(kind, str) else None


def vod_input(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The VOD media a task read: ``{"type": "VOD", "file_id"}`` or ``{"type": "VOD", "file_ids"}``."""
    source = payload.get("SrcFileId") or payload.get("srcFileId")
    task_input = payload.get("Input")
    if source is None and isinstance(task_input, dict):
        source = task_input.get("FileId")
        files = task_input.get("FileInfoSet")
        if source is None and isinstance(files, list):
            ids = [f["FileId"] for f in files if isinstance(f, dict) and f.get("FileId")]
            if ids:
                return {"type": "VOD", "file_ids": [str(i) for i in ids]}
    if isinstance(source, str | int) and not isinstance(source, bool) and source != "":
        return {"type": "VOD", "file_id": str(source)}
    return None


def _clean(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}
