"""Credentials in vendor objects never reach a published event; ids stay what they were."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from consumer.canonical import strip_nulls
from consumer.event_id import event_id
from consumer.normalize import normalize
from consumer.outbound import event_message
from consumer.ports import OutboundMessage
from consumer.redact import REDACTED, SECRET_KEYS, redact_secrets
from tests.aws_s3_task import AWS_S3_TASK, SECRETS
from tests.samples import sample


def _encodings(secret: str) -> list[bytes]:
    """The secret as it could appear in bytes: plain, JSON-escaped, in an embedded JSON string."""
    escaped = json.dumps(secret)[1:-1]
    return sorted({secret.encode(), escaped.encode(), escaped.replace("/", "\\/").encode()})


def _published_bytes(message: OutboundMessage) -> bytes:
    """Everything of a message that leaves the process: body, headers, key, id, type."""
    headers = b"".join(f"{name}={value}".encode() for name, value in message.headers.items())
    return b"\n".join(
        [message.body, headers, message.routing_key.encode(), message.message_id.encode(),
         message.type.encode(), message.content_type.encode()]
    )


def test_fixture_really_carries_every_secret() -> None:
    """Guard: the acceptance test below would prove nothing on a body without the secrets."""
    for secret in SECRETS:
        assert secret.encode() in AWS_S3_TASK


@pytest.mark.parametrize(
    "body",
    [AWS_S3_TASK, orjson.dumps(AWS_S3_TASK.decode()), orjson.dumps({"msgBody": AWS_S3_TASK.decode()})],
    ids=["push-body", "as-json-string", "cmq-message"],
)
def test_no_secret_value_anywhere_in_the_published_event(body: bytes) -> None:
    """Acceptance (issue 11): the event as published holds none of the credentials' values."""
    [normalized] = normalize(body)
    published = _published_bytes(event_message(normalized))
    found = [secret for secret in SECRETS for form in _encodings(secret) if form in published]
    assert found == []


def test_credentials_are_replaced_in_place_and_the_rest_is_kept() -> None:
    """raw and results[].output show the marker where a credential was; buckets, paths stay."""
    [normalized] = normalize(AWS_S3_TASK)
    data = orjson.loads(event_message(normalized).body)["data"]
    s3_input = data["raw"]["WorkflowTaskEvent"]["InputInfo"]["S3InputInfo"]
    assert s3_input == {
        "S3Bucket": "media-ingest-us-east-1",
        "S3Region": "us-east-1",
        "S3Object": "/uploads/2024/05/talk.mp4",
        "S3SecretId": REDACTED,
        "S3SecretKey": REDACTED,
    }
    assert data["input"] == {
        "type": "AWS-S3",
        "bucket": "media-ingest-us-east-1",
        "region": "us-east-1",
        "object": "/uploads/2024/05/talk.mp4",
    }
    transcode, streaming = data["results"]
    storage = transcode["output"]["OutputStorage"]["S3OutputStorage"]
    assert (storage["S3Bucket"], storage["S3SecretId"], storage["S3SecretKey"]) == (
        "media-out-us-east-1", REDACTED, REDACTED
    )
    assert transcode["outputs"] == ["s3://media-out-us-east-1/out/talk_transcode_100030.mp4"]
    assert streaming["outputs"] == ["s3://media-out-us-east-1/out/talk_adaptive_12.m3u8"]
    drm = data["raw"]["WorkflowTaskEvent"]["MediaProcessResultSet"][1][
        "AdaptiveDynamicStreamingTask"
    ]["Input"]["DrmInfo"]["SimpleAesDrm"]
    assert drm == {"Uri": "https://keys.example.com/hls/talk", "Key": REDACTED,
                   "Vector": "0a1b2c3d4e5f60718293a4b5c6d7e8f9"}


def test_id_is_computed_from_the_object_as_sent_and_is_deterministic() -> None:
    """The id hashes the unredacted vendor object (ids don't change) and repeats per event."""
    [first] = normalize(AWS_S3_TASK)
    [again] = normalize(orjson.dumps({"msgBody": AWS_S3_TASK.decode()}))
    as_sent = strip_nulls(orjson.loads(AWS_S3_TASK))
    assert first.event.id == again.event.id == event_id("mps", "WorkflowTask", as_sent)
    assert first.event.id != event_id("mps", "WorkflowTask", first.event.data.raw)


def test_a_shared_sample_with_s3_output_credentials_is_redacted() -> None:
    """The tccli ParseNotification sample's S3OutputStorage keys are replaced too."""
    name = "mps__WorkflowTask__parsenotification-response-tccli.json"
    [normalized] = normalize(sample(name))
    body = event_message(normalized).body
    assert b"TEST**************K5W" in sample(name)
    assert b"TEST**************K5W" not in body
    assert b"testab****************0SS" not in body
    assert body.count(b'"S3SecretKey":"***"') == 2  # raw and the transcode result's output


def test_redaction_reaches_any_depth_and_every_spelling() -> None:
    """Nested objects, lists of lists, camelCase/lowercase/uppercase names; other keys kept."""
    doc: dict[str, Any] = {
        "a": [[{"b": {"SecretKey": "k1"}}], 3, "x"],
        "secretId": "k2",
        "token": "k3",
        "NOTIFYKEY": "k4",
        "KeywordSet": ["secret words stay"],
        "Tokens": 12,
    }
    assert redact_secrets(doc) == {
        "a": [[{"b": {"SecretKey": REDACTED}}], 3, "x"],
        "secretId": REDACTED,
        "token": REDACTED,
        "NOTIFYKEY": REDACTED,
        "KeywordSet": ["secret words stay"],
        "Tokens": 12,
    }
    assert doc["a"][0][0]["b"]["SecretKey"] == "k1"  # the input is never changed


def test_a_credential_key_with_any_value_is_replaced_but_an_empty_string_is_kept() -> None:
    """An object or a number under a credential name goes; "" says "none set" and stays."""
    doc = {"S3SecretKey": "", "Token": {"Value": "t"}, "Key": 7, "SecretId": None}
    assert redact_secrets(doc) == {
        "S3SecretKey": "", "Token": REDACTED, "Key": REDACTED, "SecretId": REDACTED
    }


def test_objects_without_credentials_are_returned_as_they_are() -> None:
    """No copy when there is nothing to hide (the common case costs no allocation)."""
    clean = orjson.loads(sample("vod__ProcedureStateChanged__push-body-v3-ai-content-review.json"))
    assert redact_secrets(clean) is clean
    doc = {"kept": {"Bucket": "b"}, "deep": [[{"S3SecretKey": "k"}]]}
    assert redact_secrets(doc) is not doc


def test_every_generated_name_is_matched_in_the_sdk_spelling() -> None:
    """The names the SDK uses are exactly keys the walk matches."""
    assert {"S3SecretId", "S3SecretKey", "SecretId", "SecretKey", "Token", "Key"} <= SECRET_KEYS
    assert {"s3SecretId", "s3secretkey", "SECRETKEY"} <= SECRET_KEYS
