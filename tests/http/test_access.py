"""The checks made from a request's head: the sender's address and its shared-secret token."""

from __future__ import annotations

from ipaddress import ip_network

from adapters.http_auth import AuthFailure, check_address, check_token

NETWORKS = (ip_network("10.1.0.0/16"), ip_network("2001:db8::/32"))


def test_an_empty_allow_list_admits_everyone() -> None:
    assert check_address("203.0.113.9", ()) is None
    assert check_address(None, ()) is None


def test_only_addresses_inside_the_allowed_networks_pass() -> None:
    assert check_address("10.1.2.3", NETWORKS) is None
    assert check_address("2001:db8::1", NETWORKS) is None
    assert check_address("::ffff:10.1.2.3", NETWORKS) is None  # IPv4 seen on a dual-stack socket
    assert check_address("10.2.0.1", NETWORKS) is AuthFailure.ADDRESS_REFUSED
    assert check_address("not-an-ip", NETWORKS) is AuthFailure.ADDRESS_REFUSED
    assert check_address(None, NETWORKS) is AuthFailure.ADDRESS_REFUSED


def test_a_refused_address_is_403_and_bad_credentials_401() -> None:
    assert AuthFailure.ADDRESS_REFUSED.status == 403
    assert {f.status for f in AuthFailure if f is not AuthFailure.ADDRESS_REFUSED} == {401}


def test_no_configured_token_means_no_token_check() -> None:
    assert check_token(None, b"", ()) is None


def test_a_token_is_accepted_as_a_bearer_header_or_a_query_parameter() -> None:
    tokens = (b"old-token", b"new-token")
    assert check_token(b"Bearer new-token", b"", tokens) is None
    assert check_token(b"bearer old-token", b"", tokens) is None
    assert check_token(None, b"a=1&token=new-token", tokens) is None
    assert check_token(None, b"token=new%2Dtoken", tokens) is None  # percent-encoded


def test_a_missing_or_wrong_token_is_named() -> None:
    tokens = (b"the-token",)
    assert check_token(None, b"", tokens) is AuthFailure.TOKEN_MISSING
    assert check_token(b"Basic dXNlcjpwYXNz", b"", tokens) is AuthFailure.TOKEN_MISSING
    assert check_token(b"Bearer the-token-not", b"", tokens) is AuthFailure.TOKEN_MISMATCH
    assert check_token(None, b"token=", tokens) is AuthFailure.TOKEN_MISMATCH
    assert check_token(None, b"token=%FF%FE", tokens) is AuthFailure.TOKEN_MISMATCH
