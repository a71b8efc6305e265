"""The emulator checks signatures like CMQ: anything wrong with the credentials is 4100."""

from __future__ import annotations

import pytest

from adapters.cmq_signing import SignatureMethod
from emulators.cmq import Credential
from tests.cmq.helpers import SECRET_ID, SECRET_KEY, emulator, raw_client

TEMP_ID = "AKIDTEMPORARY000000000000000000000002"


@pytest.mark.parametrize("method", list(SignatureMethod))
async def test_both_signature_methods_are_accepted(method: SignatureMethod) -> None:
    """Requests signed with HmacSHA1 or HmacSHA256 succeed."""
    async with emulator() as running, raw_client(running, method=method) as cmq:
        reply = await cmq.call("SendMessage", queueName="q", msgBody="hi")
    assert reply["code"] == 0


async def test_wrong_secret_key_gets_4100() -> None:
    """A signature made with another key is refused with 4100 and nothing is sent."""
    async with emulator() as running, raw_client(running, secret_key="not-the-key") as cmq:
        reply = await cmq.call("SendMessage", queueName="q", msgBody="hi")
        counts = running.queue("q").counts()
    assert reply["code"] == 4100
    assert counts["stored"] == 0


async def test_unknown_secret_id_gets_4100() -> None:
    """A SecretId the emulator does not know is refused with 4100."""
    async with emulator() as running, raw_client(running, secret_id="AKIDUNKNOWN") as cmq:
        reply = await cmq.call("ReceiveMessage", queueName="q")
    assert reply["code"] == 4100


async def test_missing_or_tampered_signature_gets_4100() -> None:
    """Dropping the Signature, or changing a signed value afterwards, is refused with 4100."""
    async with emulator() as running, raw_client(running) as cmq:
        form = cmq.signed("SendMessage", {"queueName": "q", "msgBody": "hi"})
        missing = await cmq.post({k: v for k, v in form.items() if k != "Signature"})
        tampered = await cmq.post({**form, "msgBody": "changed"})
    assert (missing["code"], tampered["code"]) == (4100, 4100)


async def test_get_with_query_string_is_verified_as_get() -> None:
    """A GET request is signed over "GET..." and its query parameters."""
    async with emulator() as running, raw_client(running) as cmq:
        reply = await cmq.get("SendMessage", queueName="q", msgBody="via get")
    assert reply["code"] == 0


async def test_temporary_credentials_need_their_token() -> None:
    """A SecretId issued with a Token works only with that Token, which is signed."""
    creds = (Credential(SECRET_ID, SECRET_KEY), Credential(TEMP_ID, "temp-key", token="tok-1"))
    async with emulator(credentials=creds) as running:
        async with raw_client(
            running, secret_id=TEMP_ID, secret_key="temp-key", token="tok-1"
        ) as ok:
            accepted = await ok.call("SendMessage", queueName="q", msgBody="hi")
        async with raw_client(running, secret_id=TEMP_ID, secret_key="temp-key") as no_token:
            refused = await no_token.call("SendMessage", queueName="q", msgBody="hi")
        async with raw_client(
            running, secret_id=TEMP_ID, secret_key="temp-key", token="tok-2"
        ) as bad:
            wrong = await bad.call("SendMessage", queueName="q", msgBody="hi")
    assert (accepted["code"], refused["code"], wrong["code"]) == (0, 4100, 4100)


async def test_secret_id_not_starting_with_akid_gets_4000() -> None:
    """Like TDMQ (module code 10450), a SecretId must start with AKID."""
    async with emulator() as running, raw_client(running, secret_id="XYZ123") as cmq:
        reply = await cmq.call("ReceiveMessage", queueName="q")
    assert reply["code"] == 4000
    assert "10450" in reply["message"]


async def test_unknown_action_gets_4000() -> None:
    """Control-plane actions are not served (as on TDMQ): action not exist."""
    async with emulator() as running, raw_client(running) as cmq:
        reply = await cmq.call("CreateQueue", queueName="new")
    assert reply["code"] == 4000
    assert "10280" in reply["message"]
