"""Compose's errors: branches of moor's one error tree, each with the exit code ``docker compose`` gives."""

from __future__ import annotations

from moor.errors import InvalidParameter, MoorError, NotFound


class ComposeError(MoorError):
    """Something compose cannot do: one line for the user, exit code 1."""

    exit_code = 1


class ComposeFileError(ComposeError, InvalidParameter):
    """A compose file (or an env file) is unreadable, not YAML, fails the schema, or fails interpolation;
    the message names the file, and the line and key where there is one."""


class ComposeFileNotFound(ComposeError, NotFound):
    """No compose file was given and none of the default names exists (``no configuration file provided:
    not found``), or a named file does not exist."""

    exit_code = 14


class ServiceNotFound(ComposeError, NotFound):
    """A command names a service the project does not have (``no such service: NAME``)."""


class DependencyError(ComposeError):
    """A dependency cannot be satisfied: a cycle in depends_on, a dependency that became unhealthy or exited
    with a failure, a required service disabled by profiles."""
