"""``load_project``: compose files to a :class:`~moor.compose.model.Project`, as ``docker compose`` loads them.

The steps, in compose v2's order:

1. the environment: the process environment over the env files (``--env-file``, else ``COMPOSE_ENV_FILES``,
   else ``PROJECT_DIR/.env``);
2. the files (files.py) and the project name (``-p``, ``COMPOSE_PROJECT_NAME``, ``name:``, the directory);
3. each file: YAML, interpolation, the schema, the long syntax, its ``include``s, its ``extends``; then merged
   over the previous ones;
4. relative paths against the project directory, defaults and resource names (normalize.finalize), profiles,
   the consistency checks, and each service's environment resolved.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from moor.compose.errors import ComposeError, ComposeFileError, ComposeFileNotFound
from moor.compose.loader import consistency, files, normalize
from moor.compose.loader.dotenv import read_env_file
from moor.compose.loader.extends import apply_extends
from moor.compose.loader.include import apply_include
from moor.compose.loader.interpolation import interpolate, substitute
from moor.compose.loader.merge import merge
from moor.compose.loader.profiles import active_profiles, apply_profiles
from moor.compose.loader.schema import validate
from moor.compose.loader.yamlfile import load_yaml
from moor.compose.model import Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadOptions:
    """What a compose command was given (flags and environment) that decides which project it loads."""

    files: Sequence[str] = ()               # -f in order ("-" = stdin); () = COMPOSE_FILE, else the default lookup
    project_name: str | None = None          # -p
    project_directory: str | None = None     # --project-directory
    env_files: Sequence[str] = ()            # --env-file (else COMPOSE_ENV_FILES, else PROJECT_DIR/.env)
    profiles: Sequence[str] = ()             # --profile (else COMPOSE_PROFILES)
    environ: Mapping[str, str] = field(default_factory=dict)   # the process environment
    working_directory: str = "."             # where the command runs (the default file lookup starts there)
    stdin: IO[bytes] | None = None
    interpolate: bool = True
    normalize: bool = True
    resolve_paths: bool = True
    #: services named on the command line: enabled even when their profiles are not active, with their dependencies
    services: Sequence[str] = ()
    #: compose-go's consistency checks (``config --no-consistency`` turns them off)
    consistency: bool = True
    #: keep the networks, volumes, secrets and configs no enabled service uses (compose's ``--all``)
    all_resources: bool = False
    #: each service's ``env_file`` read into its ``environment`` (``config --no-env-resolution`` turns it off)
    resolve_environment: bool = True


_NAME_CHARACTERS = re.compile(r"[a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """compose-go's NormalizeProjectName: lower case, only ``[a-z0-9_-]``, no leading ``_``/``-``."""
    return "".join(_NAME_CHARACTERS.findall(name.lower())).lstrip("_-")


def _check_name(name: str) -> str:
    if normalize_project_name(name) != name:
        raise ComposeError(f"invalid project name \"{name}\": must consist only of lowercase alphanumeric "
                           "characters, hyphens, and underscores as well as start with a letter or number")
    return name


def _disabled(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in ("1", "true", "t", "yes", "y", "on")


@dataclass
class _Setup:
    """The environment, the files and the directory a load works with."""

    environment: dict[str, str]
    env_files: list[str]
    config_files: list[str]
    working_dir: str
    #: the env files were named (--env-file / COMPOSE_ENV_FILES), not the default .env
    env_files_explicit: bool


def _read_env_files(paths: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for path in paths:
        if not os.path.isfile(path):
            raise ComposeFileNotFound(f"Couldn't find env file: {path}")

        def lookup(name: str) -> str | None:
            return environ.get(name, values.get(name))
        values.update({key: value for key, value in read_env_file(path, lookup).items() if value is not None})
    return values


def _env_file_paths(options: LoadOptions, directory: str) -> list[str]:
    cwd = os.path.abspath(options.working_directory)
    if options.env_files:
        return [normalize.absolute(path, cwd) for path in options.env_files]
    if options.environ.get("COMPOSE_ENV_FILES"):
        return [normalize.absolute(path.strip(), cwd) for path in options.environ["COMPOSE_ENV_FILES"].split(",")
                if path.strip()]
    if _disabled(options.environ, "COMPOSE_DISABLE_ENV_FILE"):
        return []
    default = os.path.join(directory, ".env")
    return [default] if os.path.isfile(default) else []


def _project_dir(options: LoadOptions, config_files: Sequence[str]) -> str:
    cwd = os.path.abspath(options.working_directory)
    if options.project_directory:
        return normalize.absolute(options.project_directory, cwd)
    for path in config_files:
        if path != files.STDIN:
            return os.path.dirname(normalize.absolute(path, cwd))
    return cwd


def _setup(options: LoadOptions, *, need_files: bool = True) -> _Setup:
    cwd = os.path.abspath(options.working_directory)
    # the .env of the first guess at the project directory may set COMPOSE_FILE (compose v2 reads it twice)
    first_dir = _project_dir(options, options.files)
    env_files = _env_file_paths(options, first_dir)
    environment = {**_read_env_files(env_files, options.environ), **options.environ}
    try:
        config_files = files.config_files(options.files, environment, cwd)
    except ComposeFileNotFound:
        if need_files:
            raise
        config_files = []
    working_dir = _project_dir(options, config_files)
    explicit = bool(options.env_files or options.environ.get("COMPOSE_ENV_FILES"))
    if working_dir != first_dir and not explicit:
        env_files = _env_file_paths(options, working_dir)
        environment = {**_read_env_files(env_files, options.environ), **options.environ}
    return _Setup(environment, env_files, config_files, working_dir, explicit)


def _name_in_files(documents: Sequence[Any], environment: Mapping[str, str], interpolated: bool) -> str:
    name = ""
    for data in documents:
        if isinstance(data, dict) and data.get("name"):
            name = str(data["name"])
    if name and interpolated:
        name = substitute(name, environment.get)
    return normalize_project_name(name)


def _project_name(options: LoadOptions, setup: _Setup, documents: Sequence[Any]) -> str:
    if options.project_name:
        return _check_name(options.project_name)
    if setup.environment.get("COMPOSE_PROJECT_NAME"):
        return _check_name(setup.environment["COMPOSE_PROJECT_NAME"])
    name = _name_in_files(documents, setup.environment, options.interpolate)
    if not name:
        name = normalize_project_name(os.path.basename(setup.working_dir.rstrip("/")) or "")
    if not name:
        raise ComposeError("project name must not be empty")
    return name


class _Loader:
    """One load's file pipeline: YAML, interpolation, schema, long syntax, include, extends, merge."""

    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self.cache: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
        self.warned: set[str] = set()

    def document(self, path: str, content: bytes | None = None) -> Any:
        """A file's data as parsed (anchors expanded)."""
        data = content if content is not None else files.read_file(path, self.options.stdin)
        return load_yaml(data, path)

    def canonical(self, path: str, document: Any, environment: Mapping[str, str]) -> dict[str, Any]:
        """One file interpolated, checked against the schema and in the long syntax."""
        data = document.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ComposeFileError(f"{path}: top-level object must be a mapping")
        if "version" in data:
            self.warn(f"{path}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid "
                      "potential confusion")
        if self.options.interpolate:
            data = interpolate(data, environment.get, document=document, warn=self.warn)
        validate(data, document)
        return normalize.canonical(data, lenient=not self.options.interpolate)

    def warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            log.warning("%s", message)

    def extends_base(self, environment: Mapping[str, str]) -> Any:
        def load(path: str) -> dict[str, Any]:
            key = (path, tuple(sorted(environment.items())))
            if key not in self.cache:
                model = self.canonical(path, self.document(path), environment)
                normalize.resolve_paths(model, os.path.dirname(path))
                self.cache[key] = model
            return self.cache[key]
        return load

    def file(self, path: str, document: Any, base_dir: str, environment: Mapping[str, str],
             chain: Sequence[str]) -> dict[str, Any]:
        """One file with its includes and extends applied."""
        model = self.canonical(path, document, environment)
        apply_include(model, base_dir, environment, chain, self.project_model)
        services = model.get("services")
        if isinstance(services, dict):
            apply_extends(services, path, base_dir, self.extends_base(environment))
        return model

    def project_model(self, paths: Sequence[str], project_dir: str, environment: Mapping[str, str],
                      chain: Sequence[str]) -> dict[str, Any]:
        """An included project: its files merged, relative paths resolved against its directory."""
        model: dict[str, Any] = {}
        for path in paths:
            document = self.document(path)
            model = merge(model, self.file(path, document, project_dir, environment, [*chain, path]),
                          resets=document.resets, overrides=document.overrides)
        normalize.resolve_paths(model, project_dir)
        return model


def _finalize(model: dict[str, Any], project: Project, options: LoadOptions) -> None:
    lookup = project.environment.get
    services: dict[str, Any] = model.get("services") or {}
    if options.resolve_paths:
        normalize.resolve_paths(model, project.working_dir, project.environment.get("HOME"))
    if not options.normalize:
        return
    for service in services.values():
        normalize.finalize_service(service, lookup)
    normalize.default_network(model)
    normalize.resource_names(model, project.name)


def drop_unused_resources(project: Project) -> None:
    """compose's WithoutUnnecessaryResources: only the networks, volumes, secrets and configs that an enabled
    service uses are kept."""
    used: dict[str, set[str]] = {kind: set() for kind in normalize.RESOURCE_SECTIONS}
    for service in project.services.values():
        used["networks"].update(service.get("networks") or {})
        used["volumes"].update(volume["source"] for volume in service.get("volumes") or []
                               if volume.get("type") == "volume" and volume.get("source"))
        for kind in ("secrets", "configs"):
            used[kind].update(reference.get("source") for reference in service.get(kind) or [])
        build = service.get("build")
        if isinstance(build, dict):
            used["secrets"].update(reference.get("source") for reference in build.get("secrets") or [])
    for kind, names in used.items():
        section = getattr(project, kind)
        setattr(project, kind, {key: value for key, value in section.items() if key in names})


def load_project(options: LoadOptions) -> Project:
    """The project the options name (see the module docstring); ComposeError subclasses on bad input."""
    setup = _setup(options)
    loader = _Loader(options)
    documents = [loader.document(path) for path in setup.config_files]
    name = _project_name(options, setup, [document.data for document in documents])
    environment = {**setup.environment, "COMPOSE_PROJECT_NAME": name}
    model: dict[str, Any] = {}
    for path, document in zip(setup.config_files, documents):
        chain = [path] if path != files.STDIN else []
        model = merge(model, loader.file(path, document, setup.working_dir, environment, chain),
                      resets=document.resets, overrides=document.overrides)
    if not model:
        raise ComposeFileError("empty compose file")
    model.pop("name", None)
    project = Project(name=name, working_dir=setup.working_dir, config_files=list(setup.config_files),
                      environment=environment, env_files=list(setup.env_files),
                      env_files_explicit=setup.env_files_explicit)
    _finalize(model, project, options)
    services: dict[str, Any] = model.get("services") or {}
    profiles = active_profiles(options.profiles, environment)
    enabled, disabled = apply_profiles(services, profiles, options.services)
    if options.consistency:
        consistency.check({**model, "services": enabled})
    if options.normalize and options.resolve_environment:
        for service in enabled.values():
            normalize.resolve_environment(service, environment.get)
    if options.normalize:
        for service in enabled.values():
            normalize.resolve_label_files(service, environment.get)
    project.services = enabled
    project.disabled_services = disabled
    project.profiles = profiles
    for kind in normalize.RESOURCE_SECTIONS:
        setattr(project, kind, model.get(kind) or {})
    if not options.all_resources:
        drop_unused_resources(project)
    project.extensions = {key: value for key, value in model.items() if key.startswith("x-")}
    return project


def project_name_only(options: LoadOptions) -> str | None:
    """The project name without loading the whole project (compose v2's ``toProjectName``): ``-p`` or
    ``COMPOSE_PROJECT_NAME`` of the process environment need no file; else the files must exist
    (:class:`ComposeFileNotFound`: ``no configuration file provided: not found``, never the bare directory's
    name) and give it: ``COMPOSE_PROJECT_NAME`` of their ``.env``, their ``name:``, else their directory's name
    (``None`` when even that gives no valid name)."""
    if options.project_name:
        return _check_name(options.project_name)
    if options.environ.get("COMPOSE_PROJECT_NAME"):
        return _check_name(options.environ["COMPOSE_PROJECT_NAME"])
    setup = _setup(options)
    if setup.environment.get("COMPOSE_PROJECT_NAME"):
        return _check_name(setup.environment["COMPOSE_PROJECT_NAME"])
    loader = _Loader(options)
    documents = [loader.document(path).data for path in setup.config_files if path != files.STDIN]
    name = _name_in_files(documents, setup.environment, options.interpolate)
    return name or normalize_project_name(os.path.basename(setup.working_dir.rstrip("/"))) or None
