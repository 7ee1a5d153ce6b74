"""Manifest parsing, platform choice and Docker's schema2 bytes."""

from __future__ import annotations

import json

import pytest

from moor.errors import InvalidParameter, NotFound
from moor.registry import manifests
from moor.registry.manifests import (
    Descriptor,
    ImageManifest,
    ManifestIndex,
    Platform,
    choose_platform,
    parse_manifest,
    parse_platform,
    schema2_manifest,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def _index(*platforms: dict[str, str]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": manifests.DOCKER_MANIFEST_LIST, "manifests": [
        {"mediaType": manifests.DOCKER_MANIFEST, "digest": f"sha256:{n:064x}", "size": 10, "platform": p}
        for n, p in enumerate(platforms)]}).encode()


def test_parse_schema2_manifest() -> None:
    config = Descriptor(manifests.DOCKER_CONFIG, D1, 100)
    layers = [Descriptor(manifests.DOCKER_LAYER, D2, 5), Descriptor(manifests.DOCKER_LAYER, D3, 6)]
    data = schema2_manifest(config, layers)
    parsed = parse_manifest(manifests.DOCKER_MANIFEST, data)
    assert parsed == ImageManifest(manifests.DOCKER_MANIFEST, config, layers)


def test_schema2_bytes_as_docker_writes_them() -> None:
    data = schema2_manifest(Descriptor(manifests.DOCKER_CONFIG, D1, 1),
                            [Descriptor(manifests.DOCKER_LAYER, D2, 2, urls=("http://x/?a&b",))])
    assert data.decode() == (
        '{\n   "schemaVersion": 2,\n   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",\n'
        '   "config": {\n      "mediaType": "application/vnd.docker.container.image.v1+json",\n'
        f'      "size": 1,\n      "digest": "{D1}"\n   }},\n   "layers": [\n      {{\n'
        '         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",\n'
        f'         "size": 2,\n         "digest": "{D2}",\n         "urls": [\n'
        '            "http://x/?a\\u0026b"\n         ]\n      }\n   ]\n}')


def test_oci_manifest_without_content_type_and_index() -> None:
    doc = {"schemaVersion": 2, "config": {"mediaType": manifests.OCI_CONFIG, "digest": D1, "size": 3},
           "layers": [{"mediaType": manifests.OCI_LAYER_ZSTD, "digest": D2, "size": 4}]}
    parsed = parse_manifest("application/octet-stream", json.dumps(doc).encode())
    assert isinstance(parsed, ImageManifest) and parsed.media_type == manifests.OCI_MANIFEST
    assert manifests.LAYER_COMPRESSION[parsed.layers[0].media_type] == "zstd"
    index = parse_manifest(manifests.OCI_INDEX, json.dumps({"schemaVersion": 2, "manifests": []}).encode())
    assert index == ManifestIndex(manifests.OCI_INDEX, [])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html>nope</html>", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"schemaVersion": 1, "fsLayers": []}', "schema 1 is deprecated"),
        (b'{"schemaVersion": 3, "layers": [], "config": {}}', "schemaVersion 3"),
        (b'{"schemaVersion": 2, "mediaType": "' + manifests.DOCKER_MANIFEST.encode() + b'"}', "layers is missing"),
        (b'{"schemaVersion": 2, "config": {"digest": "sha256:abc", "size": 1}, "layers": []}', "not a valid digest"),
        (b'{"schemaVersion": 2, "config": {"digest": "' + D1.encode() + b'", "size": true}, "layers": []}',
         "config.size is missing or not a int"),
        (b'{"schemaVersion": 2, "config": {"digest": "' + D1.encode() + b'", "size": -1}, "layers": []}',
         "negative"),
        (b'{"schemaVersion": 2, "mediaType": "application/x-foo"}', "unsupported manifest media type"),
        (b'{"schemaVersion": 2, "mediaType": "' + manifests.OCI_INDEX.encode() + b'", "manifests": {}}',
         "manifests is missing or not a list"),
        (b" " * (manifests.MAX_MANIFEST_BYTES + 1), "larger than"),
        (b"[" * 100_000, "not JSON"),
        (b'{"schemaVersion": 2, "mediaType": "' + manifests.OCI_INDEX.encode() + b'", "manifests": [[[]]]}',
         "manifests[0] is not an object"),
    ],
)
def test_bad_manifests_are_one_line_errors(data: bytes, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_manifest(manifests.DOCKER_MANIFEST, data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_parse_platform() -> None:
    assert parse_platform("linux/arm64/v8") == Platform("linux", "arm64", "v8")
    assert parse_platform("linux/arm64") == Platform("linux", "arm64", "v8")
    assert parse_platform("linux/aarch64") == Platform("linux", "arm64", "v8")
    assert parse_platform("linux/x86_64") == Platform("linux", "amd64")
    assert parse_platform("Linux/ARM") == Platform("linux", "arm", "v7")
    assert parse_platform("arm64") == Platform("linux", "arm64", "v8")
    assert parse_platform("") == manifests.host_platform_of()
    assert str(parse_platform("linux/arm/v6")) == "linux/arm/v6"
    with pytest.raises(InvalidParameter, match="unknown operating system or architecture"):
        parse_platform("linux/amd64/v2/x")
    with pytest.raises(InvalidParameter):
        parse_platform("linux//")


def test_choose_platform() -> None:
    parsed = parse_manifest(manifests.DOCKER_MANIFEST_LIST, _index(
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm", "variant": "v6"},
        {"os": "linux", "architecture": "arm", "variant": "v7"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
        {"os": "windows", "architecture": "amd64"},
    ))
    assert isinstance(parsed, ManifestIndex)
    assert choose_platform(parsed, Platform("linux", "amd64")).digest == f"sha256:{0:064x}"
    assert choose_platform(parsed, parse_platform("linux/arm64")).digest == f"sha256:{3:064x}"
    assert choose_platform(parsed, parse_platform("linux/arm/v7")).digest == f"sha256:{2:064x}"
    assert choose_platform(parsed, parse_platform("windows/amd64")).digest == f"sha256:{4:064x}"
    no_arm64 = ManifestIndex(parsed.media_type, parsed.manifests[:3])
    # an arm64 host runs arm/v7 (containerd's platforms.Only)
    assert choose_platform(no_arm64, parse_platform("linux/arm64")).digest == f"sha256:{2:064x}"
    with pytest.raises(NotFound) as caught:
        choose_platform(no_arm64, parse_platform("linux/s390x"))
    assert str(caught.value) == "no matching manifest for linux/s390x in the manifest list entries"
    with pytest.raises(NotFound, match="linux/arm64/v8 in the manifest list entries"):
        choose_platform(ManifestIndex(parsed.media_type, parsed.manifests[:1]), parse_platform("linux/arm64"))
