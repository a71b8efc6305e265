"""The generic extractor for VOD tasks that produce one output (no subtask list).

Most VOD kinds share one shape (TaskId, Status, ErrCode, ErrCodeExt, Message, Input, Output,
MetaData, SessionId, SessionContext) and so do the 2017-compatible and legacy v2 kinds, whose
output fields sit flat in the payload. One extractor, driven by a small :class:`TaskSpec` and by
the key spelling (:data:`V3_KEYS` / :data:`V2_KEYS`), covers them all.

Decisions (documented because the vendor leaves them open):

* The task's output becomes **one** TaskResult of type ``spec.result_type`` (EditMedia, Clip...)
  mirroring the task's status and error, so produced URLs are always found in
  ``results[*].outputs``. Kinds with nothing produced (PullComplete...) have no result.
* An **integer** ``Status`` (legacy v2 ``status``: 0 or a negative code such as -43001;
  RestoreMediaComplete's deprecated int Status) is a result code: it becomes ``err_code`` and
  ``status`` stays None. Non-zero means failed.
* Per-file error codes inside the output (ConcatComplete FileInfoSet, SnapshotInfoSet, ClipComplete
  FileInfo, legacy fileInfo/picInfo) fail the result; the first non-zero one is its ``err_code``
  and also the task's when the task itself carries none.
* ``file_id``/``file_url`` fall back to the output's FileId/FileUrl (the produced media), then to
  MediaBasicInfo, then (file_id) to Input.FileId; ``input`` is the VOD source media (SrcFileId,
  Input.FileId, Input.FileInfoSet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consumer.formats.event_data_draft import EventDataDraft, parse_time, result, task_ok
from consumer.formats.fields import in_int64, integer, obj, text
from consumer.formats.metadata import media_metadata
from consumer.formats.outputs import collect_outputs, vod_input
from consumer.formats.task_results import definition_of


@dataclass(frozen=True, slots=True)
class Keys:
    """How one wire format spells the common task fields."""

    task_id: str
    status: str
    err_code: str
    message: str
    file_id: str
    file_name: str
    file_url: str
    metadata: str
    camel: bool  # metadata spelling


V3_KEYS = Keys("TaskId", "Status", "ErrCode", "Message", "FileId", "FileName", "FileUrl",
               "MetaData", camel=False)
V2_KEYS = Keys("vodTaskId", "status", "errCode", "message", "fileId", "fileName", "fileUrl",
               "metaData", camel=True)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What a kind produces: ``output`` is the key of its output object, or the payload keys that
    together are its output (2017/legacy kinds); ``result_type`` None means nothing produced."""

    result_type: str | None = None
    output: str | tuple[str, ...] = "Output"
    must_equal: tuple[str, frozenset[str]] | None = None  # e.g. PublishResult must be Pass


def status_and_code(payload: dict[str, Any], keys: Keys, where: str) -> tuple[str | None, int | None]:
    """The task status and error code; an integer status is a result code (see module doc)."""
    raw_status = payload.get(keys.status)
    err_code = integer(payload, keys.err_code, where)
    if isinstance(raw_status, int) and not isinstance(raw_status, bool):
        return None, in_int64(raw_status, where, keys.status) if err_code is None else err_code
    return text(payload, keys.status, where), err_code


def header(payload: dict[str, Any], where: str, keys: Keys = V3_KEYS) -> EventDataDraft:
    """The fields every task kind shares (no results, ``succeeded`` not yet decided)."""
    status, err_code = status_and_code(payload, keys, where)
    fields = EventDataDraft(
        task_id=text(payload, keys.task_id, where),
        status=status,
        err_code=err_code,
        message=text(payload, keys.message, where),
        file_id=text(payload, keys.file_id, where),
        file_name=text(payload, keys.file_name, where),
        file_url=text(payload, keys.file_url, where),
        metadata=media_metadata(obj(payload, keys.metadata, where), where, keys.camel),
        session_id=text(payload, "SessionId", where),
        session_context=text(payload, "SessionContext", where),
        time=parse_time(payload.get("FinishTime"), f"{where}.FinishTime"),
        input=vod_input(payload),
    )
    basic = payload.get("MediaBasicInfo")
    if isinstance(basic, dict):
        fields.file_name = fields.file_name or text(basic, "Name", f"{where}.MediaBasicInfo")
        fields.file_url = fields.file_url or text(basic, "MediaUrl", f"{where}.MediaBasicInfo")
    return fields


def _output_of(payload: dict[str, Any], spec: TaskSpec) -> Any:
    if isinstance(spec.output, str):
        return payload.get(spec.output)
    subset = {key: payload[key] for key in spec.output if key in payload}
    return subset or None


def _item_errors(output: Any, err_key: str, message_key: str) -> tuple[int | None, str | None]:
    """The first non-zero per-file error code in ``output`` (0 if all are zero, None if none)."""
    entries: list[dict[str, Any]] = [output] if isinstance(output, dict) else []
    for container in (output.values() if isinstance(output, dict) else [output]):
        if isinstance(container, list):
            entries.extend(e for e in container if isinstance(e, dict))
    found: int | None = None
    for entry in entries:
        code = entry.get(err_key)
        if isinstance(code, int) and not isinstance(code, bool):
            if code != 0:
                message = entry.get(message_key)
                return in_int64(code, "Output", err_key), message if isinstance(message, str) else None
            found = 0
    return found, None


def single_task(payload: dict[str, Any], where: str, spec: TaskSpec, keys: Keys = V3_KEYS) -> EventDataDraft:
    """Extract a one-output task (see module docstring)."""
    fields = header(payload, where, keys)
    err_code_ext = text(payload, "ErrCodeExt", where)
    output = _output_of(payload, spec)
    item_err_key = "ErrCode" if keys is V3_KEYS else "status"
    item_code, item_message = _item_errors(output, item_err_key, keys.message)
    if item_code is not None and not fields.err_code:
        # The task carries no error of its own (or 0) but its per-file entries do.
        if item_code or fields.err_code is None:
            fields.err_code = item_code
        if item_code and item_message:
            fields.message = fields.message or item_message
    ok = task_ok(fields.status, fields.err_code, err_code_ext)
    if spec.must_equal is not None:
        key, allowed = spec.must_equal
        value = payload.get(key)
        ok = ok and (value is None or value in allowed)
    if isinstance(output, dict):
        fields.file_id = fields.file_id or text(output, keys.file_id, where)
        fields.file_url = fields.file_url or text(output, keys.file_url, where)
        if fields.metadata is None:
            fields.metadata = media_metadata(obj(output, keys.metadata, where), where, keys.camel)
    task_input = payload.get("Input")
    if fields.file_id is None and isinstance(task_input, dict):
        # A task that analyses one existing file (ReviewAudioVideo...) is about that file. Not
        # SrcFileId: a clip's file_id is the clip it made, so a failed clip has none.
        fields.file_id = text(task_input, "FileId", f"{where}.Input")
    if spec.result_type is not None and output is not None:
        definition = definition_of(payload.get("Input"), output)
        if definition is None:
            definition = definition_of(payload, None)
        fields.results = [
            result(
                spec.result_type,
                status=fields.status,
                err_code=fields.err_code,
                message=fields.message,
                definition=definition,
                outputs=collect_outputs(output),
                output=output if isinstance(output, dict) else {"items": output},
                succeeded=ok,
            )
        ]
    fields.succeeded = ok
    return fields
