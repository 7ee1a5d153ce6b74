"""moor.registry.client against Debian's real docker-registry: plain, TLS, htpasswd and token auth."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from unit.registry.fakeserver import Reply, Seen, serving

from moor.errors import NotFound, RegistryUnreachable, Unauthorized
from moor.registry import manifests
from moor.registry.authconfig import AuthConfig
from moor.registry.client import FetchedManifest, RegistryClient
from moor.registry.endpoints import Endpoint, pull_endpoints, push_endpoints
from moor.registry.settings import RegistrySettings
from moor.testing.archives import make_docker_archive
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("archive") / "image.tar")
    make_docker_archive(path, [20_000, 30_000], files_per_layer=4)
    return path


def _connect(registry: TestRegistry, repository: str, credentials: AuthConfig | None = None,
             actions: tuple[str, ...] = ("pull",), settings: RegistrySettings | None = None) -> RegistryClient:
    """The first endpoint that answers, as pull and push walk them (https first, then http)."""
    settings = settings or RegistrySettings()
    failure: Exception | None = None
    for endpoint in push_endpoints(settings, registry.host):
        client = RegistryClient(endpoint, repository, credentials, actions, settings)
        try:
            client.ping()
            return client
        except RegistryUnreachable as err:
            failure = err
    assert failure is not None
    raise failure


def _pull_all(client: RegistryClient, tag: str) -> tuple[FetchedManifest, list[bytes]]:
    fetched = client.get_manifest(tag)
    parsed = manifests.parse_manifest(fetched.media_type, fetched.data)
    assert isinstance(parsed, manifests.ImageManifest)
    blobs = []
    for descriptor in [parsed.config, *parsed.layers]:
        with client.open_blob(descriptor.digest) as stream:
            data = stream.read(-1)
        assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor.digest
        blobs.append(data)
    return fetched, blobs


@pytest.fixture(scope="module")
def plain(archive: str) -> Iterator[tuple[TestRegistry, str]]:
    with TestRegistry("plain") as registry:
        yield registry, registry.seed(archive, "team/app:1")


def test_plain_pull_ranges_tags_catalog(plain: tuple[TestRegistry, str]) -> None:
    registry, digest = plain
    client = _connect(registry, "team/app")
    assert client.endpoint.base_url == registry.url  # https refused ("HTTP response to HTTPS client"), http used
    fetched, blobs = _pull_all(client, "1")
    assert fetched.digest == digest == registry.manifest_digest("team/app:1")
    assert client.get_manifest(digest).data == fetched.data
    head = client.head_manifest("1")
    assert head is not None and (head.digest, head.size) == (digest, len(fetched.data))
    layer = manifests.parse_manifest(fetched.media_type, fetched.data).layers[0]  # type: ignore[union-attr]
    with client.open_blob(layer.digest, offset=100) as stream:
        assert (stream.offset, stream.total) == (100, layer.size)
        assert stream.read(-1) == blobs[1][100:]
    assert client.tags() == ["1"]
    assert client.catalog(10) == ["team/app"]
    assert client.search_v1("app", 5) is None
    with pytest.raises(NotFound) as caught:
        client.get_manifest("nope")
    assert str(caught.value) == f"manifest for {registry.host}/team/app:nope not found: manifest unknown: " \
                                "manifest unknown"
    assert client.head_manifest("nope") is None
    with pytest.raises(NotFound, match="repository .* not found: name unknown"):
        _connect(registry, "nothere").tags()


def test_push_monolithic_chunked_mount_then_skopeo_reads_it(plain: tuple[TestRegistry, str],
                                                            tmp_path: Path) -> None:
    registry, _ = plain
    client = _connect(registry, "pushed/app", actions=("pull", "push"))
    layer_tar = io.BytesIO()
    with gzip.GzipFile(fileobj=layer_tar, mode="wb", mtime=0) as compressed, \
            tarfile.open(fileobj=compressed, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        payload = b"hello from moor\n" * 1000
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    layer = layer_tar.getvalue()
    layer_digest = manifests.digest_of(layer)
    diff_id = manifests.digest_of(gzip.decompress(layer))
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_digest = manifests.digest_of(config)
    assert client.blob_size(layer_digest) is None
    sent: list[int] = []
    client.upload_blob(layer_digest, io.BytesIO(layer), len(layer), progress=sent.append, chunk_size=1024)
    assert sum(sent) == len(layer) and client.blob_size(layer_digest) == len(layer)
    client.upload_blob(config_digest, io.BytesIO(config), len(config))
    manifest = manifests.schema2_manifest(manifests.Descriptor(manifests.DOCKER_CONFIG, config_digest, len(config)),
                                          [manifests.Descriptor(manifests.DOCKER_LAYER, layer_digest, len(layer))])
    digest = client.put_manifest("v1", manifests.DOCKER_MANIFEST, manifest)
    assert digest == manifests.digest_of(manifest) == registry.manifest_digest("pushed/app:v1")
    # another repository mounts the layer instead of uploading it
    other = _connect(registry, "pushed/other", actions=("pull", "push"))
    assert other.mount_blob(layer_digest, "pushed/app") is True
    assert other.mount_blob("sha256:" + "0" * 64, "pushed/app") is False
    assert other.blob_size(layer_digest) == len(layer)
    # skopeo copies what moor pushed, byte for byte
    out = tmp_path / "oci"
    registry.skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{registry.host}/pushed/app:v1",
                    f"oci:{out}:v1")
    index = json.loads((out / "index.json").read_text())
    blob = out / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]
    assert json.loads(blob.read_text())["layers"][0]["digest"] == layer_digest


def test_redirects_to_the_registry_are_followed(plain: tuple[TestRegistry, str]) -> None:
    registry, digest = plain

    def front(seen: Seen) -> Reply:
        return Reply(307, {"Location": registry.url + seen.path})

    with serving(front) as server:
        client = RegistryClient(Endpoint(server.url, False, False, server.host), "team/app")
        fetched, _ = _pull_all(client, "1")
        assert fetched.digest == digest
        assert any("/blobs/" in path for path in server.paths("GET"))


def test_tls_needs_the_ca_unless_insecure(archive: str, tmp_path: Path) -> None:
    with TestRegistry("tls") as registry:
        registry.seed(archive, "app:1")
        endpoint = Endpoint(registry.url, True, False, registry.host)
        with pytest.raises(RegistryUnreachable) as caught:
            RegistryClient(endpoint, "app", settings=RegistrySettings(certs_dir=str(tmp_path))).ping()
        assert str(caught.value) == f'Get "{registry.url}/v2/": x509: certificate signed by unknown authority'
        settings = RegistrySettings(certs_dir=str(tmp_path))
        registry.install_ca(str(tmp_path))
        fetched, _ = _pull_all(RegistryClient(endpoint, "app", settings=settings), "1")
        assert fetched.digest == registry.manifest_digest("app:1")
        # an insecure (here: loopback) registry is spoken to over https without verification first
        unverified = pull_endpoints(RegistrySettings(certs_dir=str(tmp_path / "none")), registry.host)[0]
        assert (unverified.base_url, unverified.tls_verify) == (registry.url, False)
        assert RegistryClient(unverified, "app").get_manifest("1").digest == fetched.digest


def test_htpasswd_right_and_wrong_password(archive: str) -> None:
    with TestRegistry("htpasswd", users={"alice": "wonder"}) as registry:
        registry.seed(archive, "app:1")
        good = _connect(registry, "app", AuthConfig(username="alice", password="wonder"), ("pull", "push"))
        assert good.check_login() == ""
        assert good.tags() == ["1"]
        _pull_all(good, "1")
        bad = _connect(registry, "app", AuthConfig(username="alice", password="nope"))
        with pytest.raises(Unauthorized) as caught:
            bad.check_login()
        assert str(caught.value) == f"login attempt to {registry.url}/v2/ failed with status: 401 Unauthorized"
        with pytest.raises(Unauthorized) as denied:
            _connect(registry, "app").get_manifest("1")
        assert str(denied.value) == f'Get "{registry.url}/v2/app/manifests/1": no basic auth credentials'


def test_token_auth_anonymous_pull_and_push_scope(archive: str) -> None:
    with TestRegistry("token", users={"bob": "builder"}) as registry:
        assert registry.token_server is not None
        digest = registry.seed(archive, "app:1")
        registry.token_server.requests.clear()
        anonymous = _connect(registry, "app")
        fetched, _ = _pull_all(anonymous, "1")
        assert fetched.digest == digest
        asked = registry.token_server.requests
        assert len(asked) == 1 and (asked[0].account, asked[0].scopes) == ("", ["repository:app:pull"])
        # an anonymous push token grants no push: the upload is refused, as Docker says it
        with pytest.raises(Unauthorized, match="^denied: requested access to the resource is denied$"):
            _connect(registry, "app", actions=("pull", "push")).upload_blob(
                manifests.digest_of(b"x"), io.BytesIO(b"x"), 1)
        pusher = _connect(registry, "app", AuthConfig(username="bob", password="builder"), ("pull", "push"))
        pusher.upload_blob(manifests.digest_of(b"x"), io.BytesIO(b"x"), 1)
        assert asked[-1].account == "bob" and asked[-1].scopes == ["repository:app:pull,push"]
        assert pusher.catalog() == ["app"]
        assert asked[-1].scopes == ["registry:catalog:*"]
        identity = _connect(registry, "app", AuthConfig(username="bob", password="builder")).check_login()
        assert identity
        refreshed = _connect(registry, "app", AuthConfig(identitytoken=identity))
        assert refreshed.get_manifest("1").digest == digest
        assert (asked[-1].method, asked[-1].grant_type, asked[-1].account) == ("POST", "refresh_token", "bob")
        with pytest.raises(Unauthorized) as caught:
            _connect(registry, "app", AuthConfig(username="bob", password="wrong")).check_login()
        assert str(caught.value) == f'Get "{registry.url}/v2/": unauthorized: incorrect username or password'


def test_nothing_left_behind(tmp_path: Path) -> None:
    registry = TestRegistry("token")
    registry.start()
    directory = registry.dir
    assert os.path.isdir(directory)
    registry.stop()
    assert not os.path.exists(directory)
    result = subprocess.run(["pgrep", "-f", f"{directory}/config.yml"], capture_output=True)
    assert result.returncode == 1


def test_client_certificate_from_certs_dir(archive: str, tmp_path: Path) -> None:
    with TestRegistry("tls", client_certs=True) as registry:
        digest = registry.seed(archive, "app:1")
        settings = RegistrySettings(certs_dir=str(tmp_path))
        registry.install_ca(str(tmp_path))
        endpoint = Endpoint(registry.url, True, False, registry.host)
        with pytest.raises(RegistryUnreachable) as caught:
            RegistryClient(endpoint, "app", settings=settings).ping()
        assert str(caught.value).startswith(f'Get "{registry.url}/v2/": remote error: tls: ')
        registry.install_client_cert(str(tmp_path))
        assert RegistryClient(endpoint, "app", settings=settings).get_manifest("1").digest == digest
