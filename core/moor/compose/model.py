"""The loaded compose project: every file merged, interpolated and normalised to one canonical form.

The canonical form of each section (what ``moor compose config`` prints and what ``convert`` reads) is the
contract between the loader and everything after it; see the table in ``docs/compose.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moor.compose.errors import ServiceNotFound

#: A canonical service, network, volume, secret or config: a plain dict in the long syntax
Section = dict[str, Any]


@dataclass
class Project:
    """A compose project as ``docker compose`` sees it after loading."""

    #: the project name: ``-p``, ``COMPOSE_PROJECT_NAME``, top-level ``name:``, else the directory's name,
    #: normalised (lower case, only ``[a-z0-9_-]``, starting with a letter or digit)
    name: str
    #: absolute project directory (``--project-directory``, else the first file's directory)
    working_dir: str
    #: absolute paths of the compose files in the order they were merged (``-`` for stdin)
    config_files: list[str]
    #: the variables interpolation saw: the process environment over the ``.env``/``--env-file`` values
    environment: dict[str, str] = field(default_factory=dict)
    #: absolute paths of the env files read for interpolation
    env_files: list[str] = field(default_factory=list)
    #: the env files were named (``--env-file``, ``COMPOSE_ENV_FILES``), not the default ``.env``: only then do
    #: containers get the ``com.docker.compose.project.environment_file`` label (compose v2)
    env_files_explicit: bool = False
    #: services enabled by the active profiles: name -> canonical service
    services: dict[str, Section] = field(default_factory=dict)
    #: services that the active profiles leave out (commands naming one explicitly may enable it)
    disabled_services: dict[str, Section] = field(default_factory=dict)
    #: key -> canonical network; ``default`` is present when a service uses it
    networks: dict[str, Section] = field(default_factory=dict)
    volumes: dict[str, Section] = field(default_factory=dict)
    secrets: dict[str, Section] = field(default_factory=dict)
    configs: dict[str, Section] = field(default_factory=dict)
    #: the active profiles
    profiles: list[str] = field(default_factory=list)
    #: top-level ``x-*`` keys
    extensions: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Section:
        """The enabled service ``name``; :class:`~moor.compose.errors.ServiceNotFound` otherwise."""
        try:
            return self.services[name]
        except KeyError:
            raise ServiceNotFound(f"no such service: {name}") from None

    def service_names(self) -> list[str]:
        """Enabled service names, sorted."""
        return sorted(self.services)
