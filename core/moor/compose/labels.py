"""The ``com.docker.compose.*`` labels of a service's containers, as compose v2 sets them: what lets
``ps``, ``down``, ``ls`` (and docker compose itself) find a project's containers and tell which ones need
a recreate."""

from __future__ import annotations

from moor.compose.model import Project
from moor.compose.naming import (
    COMPOSE_VERSION,
    CONFIG_FILES_LABEL,
    CONFIG_HASH_LABEL,
    CONTAINER_NUMBER_LABEL,
    DEPENDENCIES_LABEL,
    ENVIRONMENT_FILE_LABEL,
    IMAGE_LABEL,
    NETWORK_LABEL,
    ONEOFF_LABEL,
    PROJECT_LABEL,
    REPLACE_LABEL,
    SERVICE_LABEL,
    SLUG_LABEL,
    VERSION_LABEL,
    VOLUME_LABEL,
    WORKING_DIR_LABEL,
    service_config,
)

__all__ = [
    "COMPOSE_VERSION", "CONFIG_FILES_LABEL", "CONFIG_HASH_LABEL", "CONTAINER_NUMBER_LABEL", "DEPENDENCIES_LABEL",
    "ENVIRONMENT_FILE_LABEL", "IMAGE_LABEL", "NETWORK_LABEL", "ONEOFF_LABEL", "PROJECT_LABEL", "REPLACE_LABEL",
    "SERVICE_LABEL", "SLUG_LABEL", "VERSION_LABEL", "VOLUME_LABEL", "WORKING_DIR_LABEL", "container_labels",
    "depends_on_label",
]


def depends_on_label(project: Project, service: str) -> str:
    """``com.docker.compose.depends_on``: ``svc:condition:restart`` for each dependency, comma separated."""
    depends_on = service_config(project, service).get("depends_on") or {}
    parts = []
    for name, dependency in depends_on.items():
        dependency = dependency or {}
        condition = dependency.get("condition", "service_started")
        restart = "true" if dependency.get("restart") else "false"
        parts.append(f"{name}:{condition}:{restart}")
    return ",".join(parts)


def container_labels(project: Project, service: str, number: int, *, oneoff: bool = False, config_hash: str,
                     image_id: str = "", slug: str = "", replace: str = "") -> dict[str, str]:
    """Every label of a container of ``service``: the service's own ``labels`` under compose's.

    ``number`` is the container number (one-offs have none: pass 0 or less); ``slug`` the one-off's
    identity (``com.docker.compose.slug``); ``image_id`` the image the container is made from
    (``com.docker.compose.image``); ``replace`` the name of the container this one replaces on a recreate.
    """
    config = service_config(project, service)
    labels = {str(key): str(value) for key, value in (config.get("labels") or {}).items()}
    labels.update({
        PROJECT_LABEL: project.name,
        SERVICE_LABEL: service,
        VERSION_LABEL: COMPOSE_VERSION,
        WORKING_DIR_LABEL: project.working_dir,
        CONFIG_FILES_LABEL: ",".join(project.config_files),
        ONEOFF_LABEL: "True" if oneoff else "False",
    })
    if project.env_files_explicit and project.env_files:
        labels[ENVIRONMENT_FILE_LABEL] = ",".join(project.env_files)
    labels[CONFIG_HASH_LABEL] = config_hash
    if number > 0 and not oneoff:
        labels[CONTAINER_NUMBER_LABEL] = str(number)
    labels[DEPENDENCIES_LABEL] = depends_on_label(project, service)
    if image_id:
        labels[IMAGE_LABEL] = image_id
    if oneoff and slug:
        labels[SLUG_LABEL] = slug
    if replace:
        labels[REPLACE_LABEL] = replace
    return labels
