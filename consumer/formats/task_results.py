"""PascalCase subtask results (VOD v3 and MPS) -> one ``TaskResult`` (fields) per subtask.

A result-set item is ``{"Type": "Transcode", "TranscodeTask": {...}}``; the task key is not a
mechanical function of Type (AnimatedGraphics -> AnimatedGraphicTask, ImageSprites ->
ImageSpriteTask, Porn.Asr -> PornAsrTask), and nulls are already stripped, so the task object is
simply the item's one object-valued entry.

Per subtask: ``status``/``err_code``/``message`` as the vendor says, ``definition`` = the
template id from Input (else Output; a non-integer, as in one doc sample's ``[3, 6, 9]``, is
left in ``raw`` only), ``outputs`` = produced URLs/paths (``consumer.formats.outputs``),
``output`` = the vendor Output object unchanged (a list Output is wrapped as ``{"items": [...]}``).
"""

from __future__ import annotations

from typing import Any

from consumer.formats.event_data_draft import GOOD_SUBTASK_STATUSES, result, task_ok
from consumer.formats.fields import INT64_MAX, INT64_MIN, in_int64, integer, obj, objects, text
from consumer.formats.outputs import collect_outputs

# Result lists of ProcedureTask / ReduceMediaBitrateTask (VOD) and WorkflowTask (MPS), in order.
RESULT_SETS = (
    "MediaProcessResultSet",
    "AiContentReviewResultSet",
    "AiAnalysisResultSet",
    "AiRecognitionResultSet",
    "SmartSubtitlesTaskResult",
)
# Single-object results of an MPS WorkflowTask, with the subtask type they stand for.
SINGLE_RESULTS = (
    ("AiQualityControlTaskResult", "AiQualityControl"),
    ("SmartEraseTaskResult", "SmartErase"),
    ("AiDubbingTaskResult", "AiDubbing"),
)


def definition_of(task_input: Any, output: Any) -> int | None:
    """The template id a subtask ran with: Input.Definition, else Output.Definition.

    Also reads the legacy camelCase ``definition``.
    """
    for source in (task_input, output):
        if isinstance(source, dict):
            value = source.get("Definition", _MISSING)
            if value is _MISSING:
                value = source.get("definition")
            if type(value) is int and INT64_MIN <= value <= INT64_MAX:
                return value  # the common case, without a call
            if isinstance(value, int) and not isinstance(value, bool):
                return in_int64(value, "Input", "Definition")
    return None


_MISSING: Any = object()


def as_output(value: Any) -> dict[str, Any] | None:
    """The vendor Output as TaskResult.output (an object; lists are wrapped)."""
    if value is None or isinstance(value, dict):
        return value
    return {"items": value}


def subtask_result(
    kind: str,
    task: dict[str, Any],
    where: str,
    good_statuses: frozenset[str] = GOOD_SUBTASK_STATUSES,
) -> dict[str, Any]:
    """One PascalCase subtask object (Status, ErrCode, ErrCodeExt, Message, Input, Output)."""
    status = text(task, "Status", where)
    err_code = integer(task, "ErrCode", where)
    err_code_ext = text(task, "ErrCodeExt", where)
    task_input = task.get("Input")
    output = task.get("Output")
    # MPS names the output bucket on the Output (OutputStorage/Storage) or only on the Input.
    storage = task_input.get("OutputStorage") if isinstance(task_input, dict) else None
    return result(
        kind,
        status=status,
        err_code=err_code,
        message=text(task, "Message", where),
        definition=definition_of(task_input, output),
        outputs=collect_outputs(output, storage) if output is not None else [],
        output=as_output(output),
        succeeded=task_ok(status, err_code, err_code_ext, good_statuses),
    )


def typed_item_result(item: dict[str, Any], where: str, type_key: str = "Type") -> dict[str, Any]:
    """A ``{"Type": X, "<X>Task": {...}}`` item; an item without a task object did not succeed."""
    kind = item.get(type_key)
    for key, value in item.items():
        if isinstance(value, dict) and key != type_key:
            if not isinstance(kind, str):
                kind = key.removesuffix("Task")
            return subtask_result(kind, value, f"{where}.{key}")
    return result(kind if isinstance(kind, str) else "Unknown", succeeded=False)


def procedure_results(payload: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """Every subtask of a ProcedureTask / ReduceMediaBitrateTask / MPS WorkflowTask, in order."""
    results: list[dict[str, Any]] = []
    for set_key in RESULT_SETS:
        if set_key in payload:
            path = f"{where}.{set_key}"
            results.extend(
                typed_item_result(item, f"{path}[{i}]")
                for i, item in enumerate(objects(payload, set_key, where))
            )
    for key, kind in SINGLE_RESULTS:
        single = obj(payload, key, where)
        if single is not None:
            results.append(subtask_result(kind, single, f"{where}.{key}"))
    return results


def activity_results(payload: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """MPS ScheduleTask ``ActivityResultSet[{ActivityType, ActivityResItem{<X>Task}}]``."""
    results: list[dict[str, Any]] = []
    for i, item in enumerate(objects(payload, "ActivityResultSet", where)):
        path = f"{where}.ActivityResultSet[{i}]"
        kind = text(item, "ActivityType", path)
        res_item = obj(item, "ActivityResItem", path) or {}
        task = next((v for v in res_item.values() if isinstance(v, dict)), None)
        if task is None:
            results.append(result(kind or "Unknown", succeeded=False))
        else:
            results.append(subtask_result(kind or "Unknown", task, f"{path}.ActivityResItem"))
    return results
