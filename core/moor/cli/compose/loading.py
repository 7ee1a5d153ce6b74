"""The project a compose command works on: its global flags, the process environment and directory, loaded."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from moor.cli.compose import options_of

if TYPE_CHECKING:
    from moor.compose.loader.project import LoadOptions
    from moor.compose.model import Project


def load_options(ctx: click.Context, services: Sequence[str] = (), **overrides: Any) -> LoadOptions:
    """The loader's options from ``moor compose``'s global flags, ``os.environ`` and the current directory;
    ``overrides`` set other LoadOptions fields (``interpolate=False``, ...)."""
    from moor.compose.loader.project import LoadOptions

    options = options_of(ctx)
    return LoadOptions(files=tuple(options.files), project_name=options.project_name,
                       project_directory=options.project_directory, env_files=tuple(options.env_files),
                       profiles=tuple(options.profiles), environ=dict(os.environ), working_directory=os.getcwd(),
                       stdin=sys.stdin.buffer if "-" in options.files else None, services=tuple(services),
                       **overrides)


def load_project_of(ctx: click.Context, services: Sequence[str] = ()) -> Project:
    """The project of this invocation, with ``services`` (named on the command line) enabled."""
    from moor.compose.loader.project import load_project

    return load_project(load_options(ctx, services))


def project_name_of(ctx: click.Context) -> str:
    """The project name: ``-p`` or ``COMPOSE_PROJECT_NAME`` without files (``down -p x``, ``ps -p x``), else
    the files' (their ``name:``, else their directory's); ComposeFileNotFound (exit 14) when there are none."""
    from moor.compose.errors import ComposeError
    from moor.compose.loader.project import project_name_only

    name = project_name_only(load_options(ctx))
    if not name:
        raise ComposeError("project name must not be empty")
    return name
