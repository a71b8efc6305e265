"""Tencent's callback signatures: found where they are sent, genuine, unexpired, or named why not."""

from __future__ import annotations

import pytest

from adapters.http_auth import AuthFailure
from adapters.http_options import Scheme
from adapters.http_signatures import SignedFields, check_signature, find_signature, signature

# Computed outside Python: printf '%s' SignKeyExample11700000600 | md5sum (VOD: key, then T)
VOD_VECTOR = ("SignKeyExample1", "1700000600", "032ff7356e56f1ead0eb6758d01491d8")
# printf '%s' 1700000600NotifyKeyExample | md5sum (MPS: Timestamp, then key)
MPS_VECTOR = ("NotifyKeyExample", "1700000600", "5346262654b1d72be3f262f5e59ffc48")
BEFORE_EXPIRY = 1_700_000_000.0


@pytest.mark.parametrize(("scheme", "vector"), [(Scheme.VOD, VOD_VECTOR), (Scheme.MPS, MPS_VECTOR)])
def test_signature_follows_the_documented_formula(scheme: Scheme, vector: tuple[str, ...]) -> None:
    """VOD hashes key + T, MPS hashes Timestamp + key (the orders differ)."""
    key, expiry, expected = vector
    assert signature(scheme, key.encode(), expiry) == expected


def check(scheme: Scheme, sign: object, expiry: object, *, now: float = BEFORE_EXPIRY,
          keys: tuple[bytes, ...] = (b"SignKeyExample1",), skew: float = 0) -> AuthFailure | None:  # fmt: skip
    return check_signature(scheme, SignedFields(sign, expiry), keys, now=now, max_clock_skew=skew)


def test_a_genuine_unexpired_signature_passes_in_any_hex_case() -> None:
    _, expiry, sign = VOD_VECTOR
    assert check(Scheme.VOD, sign, int(expiry)) is None
    assert check(Scheme.VOD, sign.upper(), expiry) is None  # T as text is signed as sent


def test_any_configured_key_may_have_signed_it() -> None:
    """While a key is rotated, both the old and the new one are accepted."""
    _, expiry, sign = VOD_VECTOR
    keys = (b"TheNewKeyNotYetUsed", b"SignKeyExample1")
    assert check(Scheme.VOD, sign, expiry, keys=keys) is None


def test_a_signature_of_another_key_or_expiry_is_a_mismatch() -> None:
    _, expiry, sign = VOD_VECTOR
    assert (
        check(Scheme.VOD, sign, expiry, keys=(b"SomeOtherKey",)) is AuthFailure.SIGNATURE_MISMATCH
    )
    assert check(Scheme.VOD, sign, int(expiry) + 1) is AuthFailure.SIGNATURE_MISMATCH
    # The MPS order of the same material is not the VOD signature.
    assert check(Scheme.MPS, sign, expiry) is AuthFailure.SIGNATURE_MISMATCH


def test_an_expired_signature_is_refused_unless_within_the_clock_skew() -> None:
    """T is an expiry: past it (plus the skew allowed) a genuine signature is a replay."""
    _, expiry, sign = VOD_VECTOR
    after = int(expiry) + 30.0
    assert check(Scheme.VOD, sign, expiry, now=after) is AuthFailure.SIGNATURE_EXPIRED
    assert check(Scheme.VOD, sign, expiry, now=after, skew=60) is None


def test_a_forged_stale_request_is_a_mismatch_not_expired() -> None:
    """The signature is checked first: ``expired`` always means genuine but stale."""
    assert check(Scheme.VOD, "0" * 32, "1000", now=BEFORE_EXPIRY) is AuthFailure.SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    ("sign", "expiry"),
    [
        (None, 1700000600),  # no Sign
        ("032ff7356e56f1ead0eb6758d01491d8", None),  # no T
        (12345, 1700000600),  # Sign not a string
        ("032ff7356e56f1ead0eb6758d01491d", 1700000600),  # 31 hex digits
        ("z32ff7356e56f1ead0eb6758d01491d8", 1700000600),  # not hex
        ("032ff7356e56f1ead0eb6758d01491d8", True),  # a JSON true is not a time
        ("032ff7356e56f1ead0eb6758d01491d8", 1.7e9),  # not an integer
        ("032ff7356e56f1ead0eb6758d01491d8", -5),
        ("032ff7356e56f1ead0eb6758d01491d8", "17e8"),
        ("032ff7356e56f1ead0eb6758d01491d8", 10**30),
        ("032ff7356e56f1ead0eb6758d01491d8", ["1700000600"]),
        ("０３２ff7356e56f1ead0eb6758d01491d8", 1700000600),  # full-width digits
    ],
)
def test_fields_of_the_wrong_shape_are_malformed(sign: object, expiry: object) -> None:
    assert check(Scheme.VOD, sign, expiry) is AuthFailure.SIGNATURE_MALFORMED


def test_no_signature_anywhere_is_missing() -> None:
    assert (
        check_signature(Scheme.VOD, None, (b"k",), now=BEFORE_EXPIRY, max_clock_skew=0)
        is AuthFailure.SIGNATURE_MISSING
    )


def test_fields_are_found_at_the_body_top_level_first() -> None:
    doc = {"EventType": "NewFileUpload", "Sign": "a" * 32, "T": 5}
    found = find_signature(Scheme.VOD, doc, b"Sign=" + b"b" * 32 + b"&T=6")
    assert found == SignedFields("a" * 32, 5)


def test_fields_inside_a_response_wrapper_are_found() -> None:
    """tccli prints ParseNotification output as {"Response": {...}}: the fields are inside."""
    doc = {"Response": {"EventType": "WorkflowTask", "Sign": "a" * 32, "Timestamp": 7}}
    assert find_signature(Scheme.MPS, doc, b"") == SignedFields("a" * 32, 7)


def test_the_query_string_is_the_fallback() -> None:
    """A body without the fields (or one that is not JSON) may be signed in the query."""
    query = b"other=1&Sign=" + b"c" * 32 + b"&T=1700000600"
    assert find_signature(Scheme.VOD, {"EventType": "X"}, query) == SignedFields(
        "c" * 32, "1700000600"
    )
    assert find_signature(Scheme.VOD, None, query) == SignedFields("c" * 32, "1700000600")
    assert find_signature(Scheme.VOD, [1, 2], b"") is None
    assert find_signature(Scheme.MPS, None, b"T=5") is None  # MPS signs Timestamp, not T


def test_half_a_signature_in_the_body_is_not_completed_from_the_query() -> None:
    """Mixing places would let a sender pair its own T with a Sign seen elsewhere."""
    found = find_signature(Scheme.VOD, {"Sign": "a" * 32}, b"T=1700000600")
    assert found == SignedFields("a" * 32, None)
