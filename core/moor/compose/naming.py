"""The names compose gives what it makes: containers ``PROJECT-SERVICE-N`` (one-offs
``PROJECT-SERVICE-run-<12 hex>``), images ``PROJECT-SERVICE`` for built services, and the labels that
tie a network or a volume to its project."""

from __future__ import annotations

import secrets

from moor.compose.errors import ServiceNotFound
from moor.compose.model import Project, Section

#: the separator of compose v2's names (v1 used ``_``)
SEPARATOR = "-"

#: compose v2 labels (pkg/api/labels.go)
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
CONFIG_HASH_LABEL = "com.docker.compose.config-hash"
CONTAINER_NUMBER_LABEL = "com.docker.compose.container-number"
VOLUME_LABEL = "com.docker.compose.volume"
NETWORK_LABEL = "com.docker.compose.network"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
ENVIRONMENT_FILE_LABEL = "com.docker.compose.project.environment_file"
ONEOFF_LABEL = "com.docker.compose.oneoff"
SLUG_LABEL = "com.docker.compose.slug"
IMAGE_LABEL = "com.docker.compose.image"
DEPENDENCIES_LABEL = "com.docker.compose.depends_on"
VERSION_LABEL = "com.docker.compose.version"
REPLACE_LABEL = "com.docker.compose.replace"

#: what ``com.docker.compose.version`` says: the docker compose v2 release whose behaviour moor follows
COMPOSE_VERSION = "2.29.7"


def service_config(project: Project, service: str) -> Section:
    """The canonical service ``service``, enabled or disabled by profiles; ServiceNotFound otherwise."""
    if service in project.services:
        return project.services[service]
    if service in project.disabled_services:
        return project.disabled_services[service]
    raise ServiceNotFound(f"no such service: {service}")


def container_name(project: Project, service: str, number: int) -> str:
    """The service's ``container_name``, else ``PROJECT-SERVICE-N``."""
    explicit = service_config(project, service).get("container_name")
    if explicit:
        return str(explicit)
    return SEPARATOR.join((project.name, service, str(number)))


def new_slug() -> str:
    """A one-off container's identity (64 hex, as Docker's random IDs); its first 12 name the container."""
    return secrets.token_hex(32)


def oneoff_container_name(project: Project, service: str, slug: str | None = None) -> str:
    """``PROJECT-SERVICE-run-<12 hex>`` (the first 12 characters of ``slug``, a new random one when not
    given)."""
    slug = slug or new_slug()
    return SEPARATOR.join((project.name, service, "run", slug[:12]))


def service_image(project: Project, service: str) -> str:
    """The service's ``image``, else ``PROJECT-SERVICE`` (the tag compose gives a built image)."""
    image = service_config(project, service).get("image")
    if image:
        return str(image)
    return project.name + SEPARATOR + service


def resource_labels(project: Project, kind: str, key: str) -> dict[str, str]:
    """The labels compose puts on a network (``kind="network"``) or volume (``kind="volume"``) it makes,
    ``key`` being its key in the file (``default``, ``data``)."""
    if kind not in ("network", "volume"):
        raise ValueError(f"no compose labels for a {kind}")
    own = NETWORK_LABEL if kind == "network" else VOLUME_LABEL
    return {own: key, PROJECT_LABEL: project.name, VERSION_LABEL: COMPOSE_VERSION}
