"""Which project a compose command works on (files, or ``-p`` alone), and the progress display it reports to."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from moor.cli.compose import options_of

if TYPE_CHECKING:
    from moor.compose.model import Project
    from moor.compose.runtime.progress import Progress


def project_or_name(ctx: click.Context, services: Sequence[str] = ()) -> tuple[Project | None, str]:
    """Compose's ``projectOrName``: the loaded project and its name when files are given or no ``-p`` is;
    ``-p NAME`` alone names a project without reading any file (``ps``, ``stop``, ``rm`` ... work without
    files). A project that cannot be loaded falls back to ``COMPOSE_PROJECT_NAME`` when it is set."""
    from moor.cli.compose.loading import load_project_of, project_name_of
    from moor.errors import MoorError

    options = options_of(ctx)
    if options.files or not options.project_name:
        try:
            project = load_project_of(ctx, services)
        except MoorError:
            if os.environ.get("COMPOSE_PROJECT_NAME"):
                return None, os.environ["COMPOSE_PROJECT_NAME"].lower()
            raise
        return project, project.name
    return None, project_name_of(ctx)


def project_name(ctx: click.Context) -> str:
    """Compose's ``toProjectName`` (``top``, ``port``): ``-p``, ``COMPOSE_PROJECT_NAME``, else the files'."""
    from moor.cli.compose.loading import project_name_of

    options = options_of(ctx)
    if options.project_name:
        return options.project_name.lower()
    if os.environ.get("COMPOSE_PROJECT_NAME"):
        return os.environ["COMPOSE_PROJECT_NAME"].lower()
    return project_name_of(ctx)


@contextmanager
def progress_of(ctx: click.Context, title: str = "Running") -> Iterator[Progress]:
    """The progress display ``--progress`` (and ``--ansi never``) ask for, on stderr, under ``title``
    (``[+] Stopping 2/2``); closed at the end."""
    from moor.compose.runtime.progress import Progress

    options = options_of(ctx)
    mode = options.progress
    if mode == "auto" and options.ansi == "never":
        mode = "plain"
    progress = Progress(mode, sys.stderr, title=title)
    try:
        yield progress
    finally:
        progress.close()
