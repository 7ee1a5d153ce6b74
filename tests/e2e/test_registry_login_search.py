"""RegistryLogin and RegistrySearch against Debian's docker-registry: htpasswd, token server, catalog."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from moor.errors import RegistryUnreachable, Unauthorized
from moor.registry.authconfig import AuthConfig
from moor.registry.settings import RegistrySettings
from moor.services.registry.login import RegistryLogin
from moor.services.registry.search import RegistrySearch
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root

SETTINGS = RegistrySettings()


def test_login_with_basic_auth() -> None:
    with TestRegistry("htpasswd", users={"moor": "s3cret"}) as registry:
        answer = RegistryLogin(SETTINGS).login(AuthConfig(username="moor", password="s3cret",
                                                          serveraddress=registry.host))
        assert answer == {"Status": "Login Succeeded", "IdentityToken": ""}
        with pytest.raises(Unauthorized) as refused:
            RegistryLogin(SETTINGS).login(AuthConfig(username="moor", password="wrong",
                                                     serveraddress=registry.host))
        wanted = f"login attempt to http://{registry.host}/v2/ failed with status: 401 Unauthorized"
        assert refused.value.message == wanted  # dockerd 20.10's words


def test_login_with_a_token_server() -> None:
    with TestRegistry("token", users={"moor": "s3cret"}) as registry:
        answer = RegistryLogin(SETTINGS).login(AuthConfig(username="moor", password="s3cret",
                                                          serveraddress=f"http://{registry.host}"))
        assert answer["Status"] == "Login Succeeded" and answer["IdentityToken"]  # the refresh token, as dockerd
        with pytest.raises(Unauthorized) as refused:
            RegistryLogin(SETTINGS).login(AuthConfig(username="moor", password="wrong",
                                                     serveraddress=registry.host))
        # dockerd 20.10's words for the same registry and password
        wanted = f'Get "http://{registry.host}/v2/": unauthorized: incorrect username or password'
        assert refused.value.message == wanted


def test_login_to_nothing_is_unreachable() -> None:
    with TestRegistry("plain") as gone:
        host = gone.host
    with pytest.raises(RegistryUnreachable, match="connection refused"):
        RegistryLogin(SETTINGS).login(AuthConfig(username="u", password="p", serveraddress=host))


def test_search_a_registry_through_its_catalog(empty_image: str) -> None:
    with TestRegistry("plain") as registry:
        for repository in ("app", "team/app-server", "other"):
            registry.skopeo("copy", "--quiet", "--dest-tls-verify=false", f"oci-archive:{empty_image}",
                            f"docker://{registry.host}/{repository}:latest")
        found = RegistrySearch(SETTINGS).search(f"{registry.host}/app", 25, {}, AuthConfig())
        assert found.from_catalog
        assert [r["name"] for r in found.results] == [f"{registry.host}/app", f"{registry.host}/team/app-server"]
        assert RegistrySearch(SETTINGS).search(f"{registry.host}/app", 25, {"stars": ["1"]}, AuthConfig()) \
            .results == []


@pytest.fixture(scope="module")
def empty_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An OCI archive of an image with one empty layer."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w"):
        pass
    layer_bytes = layer.getvalue()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256(layer_bytes)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha256(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": sha256(layer_bytes), "size": len(layer_bytes)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(manifest),
         "size": len(manifest)}]}).encode()
    path = tmp_path_factory.mktemp("search") / "image.tar"
    with tarfile.open(path, "w") as archive:
        for name, data in (("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", index),
                           *((f"blobs/sha256/{sha256(blob)[7:]}", blob) for blob in (layer_bytes, config, manifest))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(path)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
