"""``GET /distribution/{name}/json`` against an in-memory registry: Docker's shape for images and lists."""

from __future__ import annotations

import json

import pytest

from moor.errors import InvalidParameter, NotFound
from moor.registry.authconfig import AuthConfig
from moor.registry.manifests import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, SCHEMA1_SIGNED_MANIFEST
from moor.registry.settings import RegistrySettings
from moor.services.registry.distribution import DistributionService
from unit.registry_fake import FakeRegistry, digest_of, factory_for


def service(registry: FakeRegistry) -> DistributionService:
    return DistributionService(RegistrySettings(), client_factory=factory_for(registry))


def test_an_image_manifest_lists_its_configs_platform() -> None:
    registry = FakeRegistry()
    built = registry.add_image("latest", [{"a": "1"}], architecture="arm64")
    data = registry.manifests["latest"][1]
    assert service(registry).inspect("busybox", AuthConfig()) == {
        "Descriptor": {"mediaType": DOCKER_MANIFEST, "digest": built.manifest_digest, "size": len(data)},
        "Platforms": [{"architecture": "arm64", "os": "linux"}],
    }
    by_digest = service(registry).inspect(f"busybox@{built.manifest_digest}", AuthConfig())
    assert by_digest["Descriptor"]["digest"] == built.manifest_digest


def test_a_manifest_list_lists_every_entry() -> None:
    registry = FakeRegistry()
    amd = registry.add_image("", [{"a": "1"}])
    arm = registry.add_image("", [{"a": "2"}], architecture="arm")
    digest = registry.add_list("latest", [(amd, "linux", "amd64", ""), (arm, "linux", "arm", "v7")])
    answer = service(registry).inspect("127.0.0.1:5000/app:latest", AuthConfig())
    assert answer == {
        "Descriptor": {"mediaType": DOCKER_MANIFEST_LIST, "digest": digest,
                       "size": len(registry.manifests["latest"][1])},
        "Platforms": [{"architecture": "amd64", "os": "linux"},
                      {"architecture": "arm", "os": "linux", "variant": "v7"}],
    }


def test_a_config_that_cannot_be_read_lists_no_platform() -> None:
    registry = FakeRegistry()
    built = registry.add_image("latest", [{"a": "1"}])
    del registry.blobs[built.config_digest]
    assert service(registry).inspect("busybox", AuthConfig())["Platforms"] is None


def test_schema1_is_described_not_refused() -> None:
    registry = FakeRegistry()
    data = json.dumps({"schemaVersion": 1, "name": "library/busybox", "tag": "old", "architecture": "amd64",
                       "fsLayers": []}).encode()
    registry.manifests["old"] = (SCHEMA1_SIGNED_MANIFEST, data)
    registry.manifests[digest_of(data)] = (SCHEMA1_SIGNED_MANIFEST, data)
    answer = service(registry).inspect("busybox:old", AuthConfig())
    assert answer["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
    assert answer["Descriptor"]["mediaType"] == SCHEMA1_SIGNED_MANIFEST


def test_unknown_tags_and_bad_names() -> None:
    registry = FakeRegistry()
    with pytest.raises(NotFound, match="^manifest for busybox:nosuch not found: manifest unknown"):
        service(registry).inspect("busybox:nosuch", AuthConfig())
    with pytest.raises(InvalidParameter):
        service(registry).inspect("Bad Name", AuthConfig())
    with pytest.raises(InvalidParameter):
        service(registry).inspect("a" * 64, AuthConfig())
