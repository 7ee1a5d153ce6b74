"""The configuration hash of a service: ``up`` recreates a container whose ``com.docker.compose.config-hash``
label differs from the hash of the service as the files now say.

As compose v2's ``ServiceHash``: the service's canonical form without what never needs a new container
(``build``, ``pull_policy``, ``scale``, ``deploy.replicas``, ``depends_on``, ``profiles``), as JSON, hashed
with SHA-256. moor adds what the container body takes from outside the service: the real names of the
networks and volumes it uses and the files of its secrets and configs, so that renaming one recreates
the containers using it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from moor.compose.model import Project
from moor.compose.naming import service_config

#: service keys left out of the hash: changing them never recreates a container
IGNORED_KEYS = ("build", "pull_policy", "scale", "depends_on", "profiles")


def hashed_service(project: Project, service: str) -> dict[str, Any]:
    """What the hash of ``service`` covers, as a plain dict (for tests and ``config --hash``)."""
    config = {key: value for key, value in service_config(project, service).items() if key not in IGNORED_KEYS}
    deploy = config.get("deploy")
    if isinstance(deploy, dict) and "replicas" in deploy:
        config["deploy"] = {key: value for key, value in deploy.items() if key != "replicas"}
    used: dict[str, Any] = {}
    networks = config.get("networks") or {}
    if networks and not config.get("network_mode"):
        used["networks"] = {key: (project.networks.get(key) or {}).get("name", key) for key in sorted(networks)}
    volume_keys = sorted({volume["source"] for volume in config.get("volumes") or []
                          if volume.get("type") == "volume" and volume.get("source") in project.volumes})
    if volume_keys:
        used["volumes"] = {key: project.volumes[key].get("name", key) for key in volume_keys}
    for kind, definitions in (("secrets", project.secrets), ("configs", project.configs)):
        sources = sorted({item["source"] for item in config.get(kind) or [] if item.get("source") in definitions})
        if sources:
            used[kind] = {source: definitions[source] for source in sources}
    if used:
        config["x-moor-uses"] = used
    return config


def config_hash(project: Project, service: str) -> str:
    """SHA-256 (hex) of the canonical JSON of what needs a recreate when it changes."""
    text = json.dumps(hashed_service(project, service), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
