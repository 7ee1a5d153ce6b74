"""Whatever a registry or token server answers, the client raises one MoorError line, never anything else."""

from __future__ import annotations

import io
import random

import pytest
from urllib3.connection import HTTPConnection
from urllib3.exceptions import NameResolutionError

from moor.errors import MoorError
from moor.registry.authconfig import AuthConfig
from moor.registry.client import RegistryClient
from moor.registry.endpoints import Endpoint
from moor.registry.errors import describe_transport_error
from unit.registry.fakeserver import Reply, Seen, serving

DIGEST = "sha256:" + "a" * 64
STATUSES = [200, 201, 202, 204, 206, 301, 302, 307, 400, 401, 403, 404, 405, 416, 429, 500, 503]
BODIES = [b"", b"{", b"[]", b"null", b'{"errors": 5}', b'{"errors": [{"code": 5}]}', b"<html>x</html>",
          b'{"token": 5}', b'{"token": "t", "expires_in": "soon"}', b'{"tags": [1]}', b'{"repositories": "x"}',
          b'{"results": {}}', b"\xff\xfe", b"[" * 5000, b'{"schemaVersion": 2}']
HEADERS = [
    {},
    {"WWW-Authenticate": 'Bearer realm="REALM",service="s"'},
    {"WWW-Authenticate": 'Bearer realm="ftp://x"'},
    {"WWW-Authenticate": 'Basic realm="r"'},
    {"WWW-Authenticate": '"""'},
    {"Location": "REALM"},
    {"Location": "http://[::1"},
    {"Content-Range": "bytes x-y/z"},
    {"Content-Range": "bytes 0-1/2"},
    {"Link": '<http://[bad>; rel="next"'},
    {"Docker-Content-Digest": "sha256:zz"},
    {"Retry-After": "0"},
    {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
]


@pytest.mark.parametrize("seed", range(6))
def test_random_answers_give_one_line_moor_errors(seed: int) -> None:
    rng = random.Random(seed)
    realm = {"url": ""}

    def route(seen: Seen) -> Reply:
        headers = {k: v.replace("REALM", realm["url"]) for k, v in rng.choice(HEADERS).items()}
        return Reply(rng.choice(STATUSES), headers, rng.choice(BODIES), truncate=rng.choice([None, None, None, 3]))

    with serving(route) as server:
        realm["url"] = f"{server.url}/token"
        for credentials in (None, AuthConfig(username="u", password="p"), AuthConfig(identitytoken="i")):
            client = RegistryClient(Endpoint(server.url, False, False, server.host), "a/b", credentials,
                                    ("pull", "push"), attempts=2, backoff=0.0)
            _exercise(client)


def _exercise(client: RegistryClient) -> None:
    """Every client method once; each may fail, but only with a one-line MoorError."""
    calls = [
        lambda: client.get_manifest("latest"),
        lambda: client.get_manifest(DIGEST),
        lambda: client.head_manifest("latest"),
        lambda: client.open_blob(DIGEST, 5).read(-1),
        lambda: client.blob_size(DIGEST),
        lambda: client.mount_blob(DIGEST, "c/d"),
        lambda: client.upload_blob(DIGEST, io.BytesIO(b"xyz"), 3),
        lambda: client.upload_blob(DIGEST, io.BytesIO(b"xyz"), 3, chunk_size=2),
        lambda: client.put_manifest("latest", "application/json", b"{}"),
        lambda: client.tags(),
        lambda: client.catalog(5),
        lambda: client.search_v1("x", 5),
        lambda: client.check_login(),
    ]
    for call in calls:
        try:
            call()
        except MoorError as err:
            assert "\n" not in str(err) and str(err)


def test_an_unknown_host_is_named_as_go_names_it() -> None:
    """urllib3 keeps the host on the connection: the line names it (not the word "host")."""
    connection = HTTPConnection("registry.example.invalid", 443)
    err = NameResolutionError("registry.example.invalid", connection, OSError("Name or service not known"))
    assert describe_transport_error(err) == "dial tcp: lookup registry.example.invalid: no such host"
