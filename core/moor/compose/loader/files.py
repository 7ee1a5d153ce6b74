"""Which compose files a command reads, as ``docker compose`` finds them.

``-f`` in order (``-`` is stdin), else ``COMPOSE_FILE`` split on ``COMPOSE_PATH_SEPARATOR`` (``:`` by default),
else the first of the default names found in the working directory or the nearest parent that has one, with
its ``.override`` file beside it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import IO

from moor.compose.errors import ComposeFileError, ComposeFileNotFound

log = logging.getLogger(__name__)

#: the default file names, in compose-go's order of preference
DEFAULT_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_OVERRIDE_NAMES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                          "docker-compose.override.yaml")
#: a compose file larger than this is refused before it is parsed
MAX_FILE_SIZE = 16 * 1024 * 1024
STDIN = "-"


def _present(directory: str, names: Sequence[str]) -> list[str]:
    return [os.path.join(directory, name) for name in names if os.path.isfile(os.path.join(directory, name))]


def default_files(start: str) -> list[str]:
    """The default compose file (and its override) of ``start`` or of its nearest parent that has one."""
    directory = os.path.abspath(start)
    while True:
        candidates = _present(directory, DEFAULT_FILE_NAMES)
        if candidates:
            if len(candidates) > 1:
                log.warning("Found multiple config files with supported names: %s", ", ".join(candidates))
                log.warning("Using %s", candidates[0])
            found = [candidates[0]]
            overrides = _present(directory, DEFAULT_OVERRIDE_NAMES)
            if overrides:
                if len(overrides) > 1:
                    log.warning("Found multiple override files with supported names: %s", ", ".join(overrides))
                    log.warning("Using %s", overrides[0])
                found.append(overrides[0])
            return found
        parent = os.path.dirname(directory)
        if parent == directory:
            return []
        directory = parent


def _absolute(paths: Sequence[str], working_directory: str) -> list[str]:
    result = []
    for path in paths:
        if path == STDIN:
            result.append(path)
            continue
        absolute = os.path.normpath(os.path.join(working_directory, os.path.expanduser(path)))
        if not os.path.exists(absolute):
            raise ComposeFileNotFound(f"open {absolute}: no such file or directory")
        result.append(absolute)
    return result


def config_files(files: Sequence[str], environment: Mapping[str, str], working_directory: str) -> list[str]:
    """The compose files to read, absolute (``-`` kept); ComposeFileNotFound when there are none."""
    if files:
        return _absolute(files, working_directory)
    if environment.get("COMPOSE_FILE"):
        separator = environment.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return _absolute([path for path in environment["COMPOSE_FILE"].split(separator) if path],
                         working_directory)
    found = default_files(working_directory)
    if not found:
        raise ComposeFileNotFound("no configuration file provided: not found")
    return found


def read_file(path: str, stdin: IO[bytes] | None = None) -> bytes:
    """A compose file's bytes (``-``: all of ``stdin``); ComposeFileError when it cannot be read or is too big."""
    try:
        if path == STDIN:
            if stdin is None:
                raise ComposeFileError("cannot read the compose file from stdin: no input")
            data = stdin.read(MAX_FILE_SIZE + 1)
        else:
            if os.path.isdir(path):
                raise ComposeFileError(f"read {path}: is a directory")
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        raise ComposeFileNotFound(f"open {path}: no such file or directory") from None
    except OSError as err:
        raise ComposeFileError(f"open {path}: {err.strerror or err}") from None
    if len(data) > MAX_FILE_SIZE:
        raise ComposeFileError(f"{path}: file too large (more than {MAX_FILE_SIZE} bytes)")
    return data
