"""Registry credentials as Docker's ``AuthConfig`` and the ``X-Registry-Auth`` header that carries them."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass


@dataclass
class AuthConfig:
    """Credentials for one registry, with Docker's JSON field names in lower case.

    ``identitytoken`` is an OAuth2 refresh token (from a previous login), ``registrytoken`` a bearer token
    sent as it is; ``auth`` is ``base64(username:password)`` as ``~/.docker/config.json`` keeps it.
    """

    username: str = ""
    password: str = ""
    auth: str = ""
    email: str = ""
    serveraddress: str = ""
    identitytoken: str = ""
    registrytoken: str = ""

    def __post_init__(self) -> None:
        if self.auth and not (self.username or self.password):
            self.username, self.password = _split_auth(self.auth)

    @property
    def empty(self) -> bool:
        """No credential at all: the client asks for anonymous tokens."""
        return not (self.username or self.password or self.identitytoken or self.registrytoken)

    def to_json(self) -> dict[str, str]:
        """Docker's wire form (``username``, ``password``, ..., omitting empty fields)."""
        return {key: value for key, value in asdict(self).items() if value}


_FIELDS = {name.lower(): name for name in AuthConfig.__dataclass_fields__}


def _split_auth(auth: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(auth + "=" * (-len(auth) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "", ""
    user, sep, password = text.partition(":")
    return (user, password) if sep else ("", "")


def auth_from_json(data: object) -> AuthConfig:
    """An :class:`AuthConfig` from a decoded JSON object; keys match case-insensitively, as Go's decoder."""
    if not isinstance(data, dict):
        return AuthConfig()
    values: dict[str, str] = {}
    for key, value in data.items():
        name = _FIELDS.get(str(key).lower())
        if name is not None and isinstance(value, str):
            values[name] = value
    return AuthConfig(**values)


def decode_registry_auth(header: str) -> AuthConfig:
    """Decode ``X-Registry-Auth`` (base64url of JSON, padding optional).

    Anything undecodable gives an empty :class:`AuthConfig`, as Docker's pull does (it then pulls anonymously).
    """
    header = header.strip()
    if not header:
        return AuthConfig()
    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return AuthConfig()
    return auth_from_json(data)


def encode_registry_auth(auth: AuthConfig) -> str:
    """The ``X-Registry-Auth`` value the docker CLI sends: base64url of the JSON, with padding."""
    return base64.urlsafe_b64encode(json.dumps(auth.to_json()).encode()).decode()
