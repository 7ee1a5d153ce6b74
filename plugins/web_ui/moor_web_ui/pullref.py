"""What a pull sends moord: the reference read with Docker's grammar (:mod:`moor.images.reference`) and the
registry credentials in ``X-Registry-Auth``.

``busybox`` pulls ``busybox:latest`` (a name alone would make moord pull every tag); a digest travels in
``tag`` as the docker CLI sends it. Credentials are the ones given with the request (``{"username",
"password"}``), else those the UI's user keeps for that registry in ``~/.docker/config.json`` or its
credential helper (as ``docker pull`` and ``moor compose`` find them); none means an anonymous pull.
"""

from __future__ import annotations

import asyncio
from typing import Any

from moor.dockerconfig import registry_auth_header
from moor.errors import InvalidParameter
from moor.images.reference import HEX64, Reference, parse
from moor.registry.authconfig import AuthConfig, encode_registry_auth
from moor_web_ui.replies import http_error

MAX_REFERENCE = 512
MAX_CREDENTIAL = 4096


def reference_of(text: Any, what: str = "image") -> Reference:
    """``text`` as a pull reference (400 with Docker's wording when it is not one)."""
    if not isinstance(text, str) or not text:
        raise http_error(400, f"{what!r} must be an image name such as busybox or registry:5000/app:1.0")
    if len(text) > MAX_REFERENCE:
        raise http_error(400, f"{what!r} is longer than {MAX_REFERENCE} characters")
    if HEX64.match(text):
        raise http_error(400, f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    try:
        return parse(text)
    except InvalidParameter as err:
        raise http_error(400, err.message) from None


def pull_params(reference: Reference) -> dict[str, str]:
    """``fromImage`` and ``tag`` of ``POST /images/create`` for ``reference``."""
    return {"fromImage": reference.familiar_name, "tag": reference.digest or reference.tag or "latest"}


def given_auth(body: dict[str, Any], reference: Reference) -> AuthConfig | None:
    """The ``auth`` object of a request body (``{"username", "password"}``), None when absent (400 if wrong)."""
    auth = body.get("auth")
    if auth is None:
        return None
    if not isinstance(auth, dict) or set(auth) - {"username", "password"}:
        raise http_error(400, "'auth' must be {\"username\": ..., \"password\": ...}")
    values = {key: auth.get(key, "") for key in ("username", "password")}
    if not all(isinstance(value, str) and len(value) <= MAX_CREDENTIAL for value in values.values()):
        raise http_error(400, f"'auth' holds strings of at most {MAX_CREDENTIAL} characters")
    return AuthConfig(username=values["username"], password=values["password"], serveraddress=reference.domain)


async def auth_header(reference: Reference, given: AuthConfig | None = None) -> str:
    """``X-Registry-Auth`` for pulling ``reference``: ``given``, else the stored login for its registry."""
    if given is not None:
        return encode_registry_auth(given)
    return await asyncio.to_thread(registry_auth_header, reference.domain)  # (a helper may run: off the loop)
