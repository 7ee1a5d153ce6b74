"""``GET /distribution/{name}/json``: what a registry says of an image, without pulling it.

As Docker's ``distributionInspect``: the manifest's descriptor (its media type, digest and size) and the
platforms it serves: each entry of a manifest list or OCI index, the config's os and architecture for a
single image manifest (none when the config cannot be fetched), ``linux`` and the manifest's architecture
for a schema 1 manifest. Mirrors come first, as for a pull.
"""

from __future__ import annotations

import json
from typing import Any

from moor.errors import InvalidParameter, MoorError, NotFound
from moor.images import reference
from moor.registry.authconfig import AuthConfig
from moor.registry.manifests import (
    INDEX_TYPES,
    SCHEMA1_TYPES,
    ImageManifest,
    manifest_kind,
    parse_manifest,
)
from moor.registry.settings import RegistrySettings
from moor.services.registry.clients import ClientFactory, EndpointChain, RegistryAPI, default_client_factory

#: A config read only for its platform: larger ones are not worth it (no platform is then listed).
MAX_CONFIG_BYTES = 16 << 20
#: Docker's ``v1.Platform`` fields, in the order Go writes them.
PLATFORM_FIELDS = ("architecture", "os", "os.version", "os.features", "variant")


def platform_json(source: Any) -> dict[str, Any] | None:
    """``source``'s platform fields as Docker's ``v1.Platform`` JSON; None without an os or architecture."""
    if not isinstance(source, dict):
        return None
    found: dict[str, Any] = {}
    for key in PLATFORM_FIELDS:
        value = source.get(key)
        if key == "os.features":
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                found[key] = value
        elif isinstance(value, str) and value:
            found[key] = value
    return found if found.get("os") or found.get("architecture") else None


class DistributionService:
    """Answers distribution inspect from the registry an image name lives on."""

    def __init__(self, settings: RegistrySettings, client_factory: ClientFactory | None = None) -> None:
        self.settings = settings
        self._factory = client_factory if client_factory is not None else default_client_factory(settings)

    def inspect(self, name: str, auth: AuthConfig) -> dict[str, Any]:
        """``{"Descriptor": {"mediaType", "digest", "size"}, "Platforms": [...] or None}`` for ``name``."""
        if reference.HEX64.match(name.removeprefix("sha256:")):
            raise InvalidParameter(f"invalid reference format: {name!r} is an image ID, not a name")
        target = reference.parse(name)
        chain = EndpointChain(self._factory, self.settings, target.domain, target.path, auth)
        try:
            return chain.first(lambda client: self._inspect(client, target))
        finally:
            chain.close()

    def _inspect(self, client: RegistryAPI, target: reference.Reference) -> dict[str, Any]:
        digest, size = target.digest, 0
        if not digest:
            head = client.head_manifest(target.tag)
            if head is None:
                raise NotFound(f"manifest for {target.familiar} not found: manifest unknown: manifest unknown")
            digest, size = head.digest, head.size
        fetched = client.get_manifest(digest)
        try:
            document = json.loads(fetched.data)
        except (ValueError, UnicodeDecodeError):
            raise InvalidParameter("invalid manifest: the registry's answer is not JSON") from None
        if not isinstance(document, dict):
            raise InvalidParameter("invalid manifest: the registry's answer is not a JSON object")
        kind = manifest_kind(fetched.media_type, document)
        if kind in SCHEMA1_TYPES and fetched.media_type in SCHEMA1_TYPES:
            kind = fetched.media_type  # signed or not: the body does not say
        platforms: list[dict[str, Any]] = []
        if kind in SCHEMA1_TYPES:
            architecture = document.get("architecture")
            platforms.append({"architecture": architecture if isinstance(architecture, str) else "", "os": "linux"})
        else:
            parsed = parse_manifest(fetched.media_type, fetched.data)
            if kind in INDEX_TYPES:
                for entry in document.get("manifests") or []:
                    platform = platform_json(entry.get("platform") if isinstance(entry, dict) else None)
                    platforms.append(platform or {"architecture": "", "os": ""})
            elif isinstance(parsed, ImageManifest):
                platform = self._config_platform(client, parsed)
                if platform is not None:
                    platforms.append(platform)
        return {"Descriptor": {"mediaType": kind, "digest": fetched.digest, "size": size or len(fetched.data)},
                "Platforms": platforms or None}

    def _config_platform(self, client: RegistryAPI, manifest: ImageManifest) -> dict[str, Any] | None:
        if manifest.config.size > MAX_CONFIG_BYTES:
            return None
        try:
            stream = client.open_blob(manifest.config.digest)
            try:
                data = stream.read(MAX_CONFIG_BYTES + 1)
                while len(data) <= MAX_CONFIG_BYTES:
                    more = stream.read(MAX_CONFIG_BYTES + 1 - len(data))
                    if not more:
                        break
                    data += more
            finally:
                stream.close()
            return platform_json(json.loads(data))
        except (MoorError, ValueError, UnicodeDecodeError):
            return None  # as Docker: a config that cannot be read lists no platform
