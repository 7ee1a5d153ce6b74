"""``include``: other compose projects' resources imported into this one.

Each entry names one or more files (the first one's directory is the included project's directory unless
``project_directory`` says otherwise) and optional env files (default: the ``.env`` of that directory). The
included files are loaded as a project of their own (relative paths against its directory), then their
services, networks, volumes, secrets and configs are added; a resource this file also defines is merged with
this file's definition over the imported one. Including a file already on the include chain is an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from moor.compose.errors import ComposeFileError, ComposeFileNotFound
from moor.compose.loader.dotenv import read_env_file
from moor.compose.loader.merge import merge
from moor.compose.loader.normalize import RESOURCE_SECTIONS, absolute, string_list

#: loads a project: (files, project directory, environment, include chain) -> its canonical model with every
#: relative path resolved against that directory
ProjectLoader = Callable[[Sequence[str], str, Mapping[str, str], Sequence[str]], dict[str, Any]]


def _entries(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ComposeFileError(f"`include` must be a list, got {value}")
    entries = []
    for item in value:
        if isinstance(item, str):
            entries.append({"path": [item]})
        elif isinstance(item, dict):
            entries.append(dict(item, path=string_list(item.get("path"))))
        else:
            raise ComposeFileError(f"include: invalid entry {item!r}")
    return entries


def _environment(entry: dict[str, Any], project_dir: str, base_dir: str,
                 environment: Mapping[str, str]) -> dict[str, str]:
    files: list[str] = []
    if entry.get("env_file"):
        for name in string_list(entry["env_file"]):
            if name == "/dev/null":
                continue
            path = absolute(name, base_dir)
            if not os.path.isfile(path):
                raise ComposeFileNotFound(f"Couldn't find env file: {path}")
            files.append(path)
    elif os.path.isfile(os.path.join(project_dir, ".env")):
        files.append(os.path.join(project_dir, ".env"))
    values: dict[str, str] = {}
    for path in files:
        def lookup(name: str) -> str | None:
            return environment.get(name, values.get(name))
        values.update({key: value for key, value in read_env_file(path, lookup).items() if value is not None})
    return {**values, **environment}


def apply_include(model: dict[str, Any], base_dir: str, environment: Mapping[str, str], chain: Sequence[str],
                  load: ProjectLoader) -> None:
    """The ``include`` entries of ``model`` loaded and their resources added to it (in place)."""
    for entry in _entries(model.pop("include", None)):
        paths = [absolute(path, base_dir) for path in entry["path"]]
        if not paths:
            raise ComposeFileError("include: path is required")
        for path in paths:
            if not os.path.isfile(path):
                raise ComposeFileNotFound(f"open {path}: no such file or directory")
        if paths[0] in chain:
            cycle = [*chain, paths[0]]
            raise ComposeFileError(f"include cycle detected: {cycle[0]} include " + " include ".join(cycle[1:]))
        project_dir = (absolute(str(entry["project_directory"]), base_dir) if entry.get("project_directory")
                       else os.path.dirname(paths[0]))
        imported = load(paths, project_dir, _environment(entry, project_dir, base_dir, environment),
                        [*chain, paths[0]])
        for kind in ("services", *RESOURCE_SECTIONS):
            resources = imported.get(kind) or {}
            if not resources:
                continue
            target = model.setdefault(kind, {})
            if target is None:
                target = model[kind] = {}
            for name, value in resources.items():
                if name in target:
                    target[name] = merge({kind: {name: value}}, {kind: {name: target[name]}})[kind][name]
                else:
                    target[name] = value
