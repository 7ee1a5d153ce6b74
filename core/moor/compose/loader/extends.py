"""``extends``: a service built on another one, of the same file or of another file.

The base service is resolved first (it may extend another one in turn), then the extending service is merged
over it by the override rules (merge.py). A base taken from another file has its relative paths resolved
against that file's directory. A cycle (``a`` extends ``b`` extends ``a``) is an error naming the chain.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

from moor.compose.errors import ComposeFileError
from moor.compose.loader.merge import merge_service
from moor.compose.loader.normalize import absolute

#: loads another compose file for its services: the path -> its canonical model with its relative paths resolved
FileLoader = Callable[[str], dict[str, Any]]
_Chain = tuple[tuple[str, str], ...]


def apply_extends(services: dict[str, Any], filename: str, base_dir: str, load: FileLoader) -> None:
    """Every service of ``services`` (from ``filename``) with its ``extends`` resolved, in place.

    ``base_dir`` is where a relative ``extends.file`` is found (the project directory for the files given to
    the command, the file's own directory for files reached through ``extends``)."""
    for name in list(services):
        services[name] = _extend(name, services, filename, base_dir, load, ())


def _describe(chain: _Chain) -> str:
    first, rest = chain[0], chain[1:]
    parts = [f"{first[1]} in {first[0]}"] + [f"extends {service} in {filename}" for filename, service in rest]
    return ", ".join(parts)


def _extend(name: str, services: dict[str, Any], filename: str, base_dir: str, load: FileLoader,
            chain: _Chain) -> dict[str, Any]:
    service: dict[str, Any] = services[name]
    extends = service.get("extends") if isinstance(service, dict) else None
    if not extends:
        return service
    if (filename, name) in chain:
        raise ComposeFileError(f"Circular reference: {_describe((*chain, (filename, name)))}")
    chain = (*chain, (filename, name))
    if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
        raise ComposeFileError(f"extends.{name}.service is required")
    reference = extends["service"]
    if extends.get("file"):
        path = absolute(str(extends["file"]), base_dir)
        if not os.path.isfile(path):
            raise ComposeFileError(f"cannot extend service {name!r} in {filename}: "
                                   f"open {path}: no such file or directory")
        pool = load(path).get("services") or {}
        if reference not in pool:
            raise ComposeFileError(f"cannot extend service \"{name}\" in {filename}: service \"{reference}\" "
                                   f"not found in {extends['file']}")
        base = _extend(reference, pool, path, os.path.dirname(path), load, chain)
    else:
        if reference not in services:
            raise ComposeFileError(f"cannot extend service \"{name}\" in {filename}: "
                                   f"service \"{reference}\" not found")
        base = _extend(reference, services, filename, base_dir, load, chain)
    own = {key: value for key, value in service.items() if key != "extends"}
    merged = merge_service(copy.deepcopy(base), own)
    services[name] = merged
    return merged
