"""X-Registry-Auth as the docker CLI encodes it and Docker's daemon decodes it."""

from __future__ import annotations

import base64
import json

from moor.registry.authconfig import AuthConfig, decode_registry_auth, encode_registry_auth


def test_round_trip_and_docker_cli_shape() -> None:
    auth = AuthConfig(username="u", password="p?>", serveraddress="127.0.0.1:5000")
    header = encode_registry_auth(auth)
    assert json.loads(base64.urlsafe_b64decode(header)) == {
        "username": "u", "password": "p?>", "serveraddress": "127.0.0.1:5000"}
    assert decode_registry_auth(header) == auth


def test_padding_optional_keys_any_case() -> None:
    raw = base64.urlsafe_b64encode(json.dumps({"Username": "a", "PASSWORD": "b", "other": 1}).encode())
    assert decode_registry_auth(raw.decode().rstrip("=")) == AuthConfig(username="a", password="b")


def test_undecodable_is_anonymous() -> None:
    for header in ("", "!!!", base64.urlsafe_b64encode(b"not json").decode(),
                   base64.urlsafe_b64encode(b"[1]").decode(), "e30",
                   base64.urlsafe_b64encode(b"[" * 100_000).decode()):
        assert decode_registry_auth(header).empty


def test_auth_field_gives_username_and_password() -> None:
    auth = AuthConfig(auth=base64.b64encode(b"me:se:cret").decode())
    assert (auth.username, auth.password) == ("me", "se:cret")
    assert AuthConfig(identitytoken="t").empty is False
