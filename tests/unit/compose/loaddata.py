"""Helpers for the loader's tests: write a project's files, load it with an environment of the test's own."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moor.compose.loader.project import LoadOptions, load_project

__all__ = ["DATA", "LoadOptions", "copy_data", "load", "write"]
from moor.compose.model import Project

#: projects kept as files (tests/unit/compose/data/load/NAME)
DATA = Path(__file__).parent / "data" / "load"


def write(root: Path, files: Mapping[str, str]) -> Path:
    """Each ``relative path: text`` (dedented) written under ``root``; returns ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def copy_data(name: str, target: Path) -> Path:
    """The data project ``name`` copied under ``target`` (paths in the model then name the copy)."""
    destination = target / name
    shutil.copytree(DATA / name, destination)
    return destination


def load(directory: Path | str, *, environ: Mapping[str, str] | None = None, **options: Any) -> Project:
    """``load_project`` run in ``directory`` with only ``environ`` as the process environment."""
    return load_project(LoadOptions(working_directory=os.fspath(directory), environ=dict(environ or {}),
                                    **options))
