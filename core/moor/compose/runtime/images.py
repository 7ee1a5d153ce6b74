"""A compose project's images: built, pulled and pushed as ``docker compose`` v2 does with the classic builder.

- **pull_policy** (or ``up --pull``, ``pull --policy``): ``always`` pulls, ``never`` and ``build`` never do,
  ``missing`` (the default; ``if_not_present`` is its old name) pulls what is not there, ``daily``,
  ``weekly`` and ``every_<duration>`` pull when the image was last tagged longer ago than that.
- **build**: a service with ``build`` and no image yet (or ``up --build``, or ``pull_policy: build``) is
  built through ``POST /build``: the context tar made as the docker CLI makes it (``.dockerignore`` honoured,
  a Dockerfile from outside the context or ``dockerfile_inline`` added under a random name), tagged
  ``image`` or ``PROJECT-SERVICE`` plus ``build.tags``, with compose's labels. Build args: ``build.args``,
  then ``--build-arg`` over them; a name without a value takes the project environment's (else the ARG's
  default); the docker CLI's proxy settings are added where not set.
- **pull** sends ``X-Registry-Auth`` from ``~/.docker/config.json`` (or its credential helper); a service
  that can be built survives a failed pull (it will be built instead).
- **push** pushes the ``image`` (and ``build.tags``) of every service that has both ``build`` and ``image``.

Errors are compose's words: ``invalid service "x". Must specify either image or build``, the daemon's
``Error response from daemon: ...``, a failed RUN's message with its exit code.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from moor.build.sendcontext import Context, ContextError, is_git_url, prepare_context
from moor.client import Client, ConnectError, DaemonError, quote_name
from moor.compose.errors import ComposeError
from moor.compose.model import Project, Section
from moor.compose.naming import COMPOSE_VERSION, service_config, service_image
from moor.compose.runtime.graph import DependencyGraph
from moor.compose.runtime.observed import name_of, project_containers
from moor.compose.runtime.progress import Progress
from moor.dockerconfig import ConfigFile, encode_auth_header, registry_config_header, resolve_auth
from moor.errors import InvalidParameter
from moor.images.reference import HEX64, Reference, parse
from moor.timefmt import go_duration, parse_timestamp

#: what ``up --pull`` and ``run --pull`` accept (``policy``, their default, leaves each service's own)
PULL_OPTIONS = ("always", "never", "build", "missing", "if_not_present")
#: the label compose puts on images it built with the classic builder
BUILDER_LABEL = "com.docker.compose.image.builder"
#: the docker CLI's proxy settings (``proxies.default`` in config.json) and the build args they become
_PROXY_ARGS = {"httpProxy": "HTTP_PROXY", "httpsProxy": "HTTPS_PROXY", "noProxy": "NO_PROXY",
               "ftpProxy": "FTP_PROXY", "allProxy": "ALL_PROXY"}
_DAY = 24 * 3600.0
_LONG_UNITS = re.compile(r"([0-9]*\.?[0-9]+)([wd])")


class BuildFailed(ComposeError):
    """A build the daemon ran failed: the message it gave, and the exit code of the failed RUN (else 1)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code or 1


# ---------------------------------------------------------------------- policies


def pull_policy(name: str, service: Section) -> tuple[str, float]:
    """The service's policy as compose-go's ``GetPullPolicy`` reads it: (``always``, ``never``, ``build``,
    ``missing`` or ``refresh``; the refresh period in seconds)."""
    text = str(service.get("pull_policy") or "")
    if text in ("always", "never", "build", "missing"):
        return text, 0.0
    if text == "daily":
        return "refresh", _DAY
    if text == "weekly":
        return "refresh", 7 * _DAY
    if text.startswith("every_"):
        return "refresh", _refresh_period(name, text)
    return "missing", 0.0  # if_not_present, unset, or a value compose-go does not know


def _refresh_period(name: str, text: str) -> float:
    """``every_<duration>``: a Go duration that may also count days (``d``) and weeks (``w``), as str2duration."""
    delay = text[len("every_"):]
    seconds = sum(float(number) * (_DAY if unit == "d" else 7 * _DAY) for number, unit in _LONG_UNITS.findall(delay))
    rest = _LONG_UNITS.sub("", delay)
    more = go_duration(rest) if rest else 0.0
    if more is None or not delay or more < 0:
        raise ComposeError(f'service "{name}": invalid pull_policy "{text}": time: invalid duration "{delay}"')
    return seconds + more


def policies_for(project: Project, services: Iterable[str], *, pull: str | None = None, build: bool = False
                 ) -> dict[str, tuple[str, float]]:
    """Each service's effective policy: ``pull`` (``up --pull``) over the file's, then ``build`` (``up --build``)
    makes every service that can be built ``build``."""
    if pull == "policy":
        pull = None
    if pull is not None and pull not in PULL_OPTIONS:
        raise ComposeError(f'invalid --pull option "{pull}"')
    policies = {}
    for name in services:
        service = service_config(project, name)
        if build and service.get("build") is not None:
            policies[name] = ("build", 0.0)
        elif pull is not None:
            policies[name] = pull_policy(name, {"pull_policy": pull})
        else:
            policies[name] = pull_policy(name, service)
    return policies


def must_pull(service: Section, policy: tuple[str, float], local: Mapping[str, dict[str, Any]]) -> bool:
    """compose's ``mustPull``: whether ``up`` pulls the service's ``image`` before creating its containers."""
    image = service.get("image")
    if not image:
        return False
    kind, period = policy
    if kind == "always":
        return True
    if kind in ("never", "build"):
        return False
    found = local.get(str(image))
    if found is None:
        return True
    if kind == "refresh":
        return time.time() > last_tagged(found) + period
    return False


def last_tagged(inspect: dict[str, Any]) -> float:
    """When the image was last tagged (its ``Metadata.LastTagTime``, else its creation), seconds since the epoch."""
    for value in ((inspect.get("Metadata") or {}).get("LastTagTime"), inspect.get("Created")):
        if value and not str(value).startswith("0001-"):
            try:
                return parse_timestamp(str(value))
            except InvalidParameter:
                continue
    return 0.0


# ---------------------------------------------------------------------- local images


def inspect_image(client: Client, name: str) -> dict[str, Any] | None:
    """``GET /images/NAME/json``, None when the engine has no such image."""
    try:
        found = client.call("GET", f"/images/{quote_name(name)}/json")
    except DaemonError as err:
        if err.status == 404:
            return None
        raise ComposeError(f"unable to get image '{name}': Error response from daemon: {err.message}") from None
    return found if isinstance(found, dict) else None


def local_images(client: Client, names: Iterable[str], parallel: int = -1) -> dict[str, dict[str, Any]]:
    """The inspect of each image name the engine has (names it lacks are left out)."""
    found: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def look(name: str) -> None:
        image = inspect_image(client, name)
        if image is not None:
            with lock:
                found[name] = image

    _each(sorted(set(names)), look, parallel)
    return found


def _each(keys: Sequence[str], action: Any, parallel: int) -> None:
    """``action(key)`` for each key, at most ``parallel`` at a time (-1: no bound); the first error is raised
    once the others finished."""
    DependencyGraph({key: [] for key in keys}).walk(action, parallel=parallel)


def no_such_image(name: str) -> str:
    """The engine's words for an image it does not have (the name as Docker's client normalises it)."""
    try:
        reference = parse(name)
        shown = reference.familiar
    except InvalidParameter:
        shown = name
    return f"Error response from daemon: No such image: {shown}"


def _reference(text: str) -> Reference:
    """A pull or push reference as the docker CLI's ``ParseNormalizedNamed`` reads it (a missing tag is ``latest``)."""
    if HEX64.match(text):
        raise ComposeError(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    try:
        return parse(text)
    except InvalidParameter as err:
        raise ComposeError(err.message) from None


def _auth_header(reference: Reference, config: ConfigFile | None) -> str:
    return encode_auth_header(resolve_auth(reference.domain, config))


def _stream_error(message: dict[str, Any]) -> str | None:
    detail = message.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    if message.get("error"):
        return str(message["error"])
    return None


def _registry_stream(client: Client, path: str, params: dict[str, Any], auth: str) -> None:
    """``POST path`` (a pull or a push) with ``X-Registry-Auth``, its JSON stream read to the end;
    :class:`ComposeError` with the daemon's words when the request or the stream fails."""
    try:
        for message in client.stream("POST", path, params, headers={"X-Registry-Auth": auth}):
            error = _stream_error(message)
            if error is not None:
                raise ComposeError(error)
    except DaemonError as err:
        raise ComposeError(f"Error response from daemon: {err.message}") from None
    except ConnectError as err:
        raise ComposeError(str(err)) from None


# ---------------------------------------------------------------------- pull


def pull_image(client: Client, image: str, *, platform: str = "", config: ConfigFile | None = None) -> None:
    """``POST /images/create`` of ``image`` with the stored credentials, its stream read to the end;
    :class:`ComposeError` with the daemon's words when it fails."""
    reference = _reference(image)
    params = {"fromImage": reference.familiar_name, "tag": reference.digest or reference.tag or "latest",
              "platform": platform.lower() or None}
    _registry_stream(client, "/images/create", params, _auth_header(reference, config))


def _buildable(project: Project, image: str) -> bool:
    """compose's ``isServiceImageToBuild``: some service of the project builds this image."""
    return any(service.get("build") is not None and service.get("image") == image
               for service in project.services.values())


def _platform(project: Project, service: Section) -> str:
    return str(service.get("platform") or project.environment.get("DOCKER_DEFAULT_PLATFORM") or "")


def pull_services(client: Client, project: Project, services: Sequence[str], *, quiet: bool = False,
                  ignore_failures: bool = False, policy: str | None = None, ignore_buildable: bool = False,
                  progress: Progress, parallel: int = -1, err: IO[str] | None = None) -> None:
    """``compose pull``: each service's ``image``, unless its policy says otherwise (a service without
    ``pull_policy`` is always pulled; a present image is skipped under ``missing`` unless its tag is ``latest``).
    A failure of a service that can be built is a warning; with ``ignore_failures`` every failure is."""
    names = list(services) or project.service_names()
    configs = {name: service_config(project, name) for name in names}
    if policy:
        configs = {name: ({**service, "pull_policy": policy} if service.get("image") else service)
                   for name, service in configs.items()}
    local = local_images(client, [str(s["image"]) for s in configs.values() if s.get("image")], parallel)
    scheduled: dict[str, str] = {}
    for name in names:
        service = configs[name]
        image = service.get("image")
        if not image:
            progress.event("", name, "Skipped", "No image to be pulled")
            continue
        needed, reason = _should_pull(name, service, local)
        if not needed:
            progress.event("Image", str(image), "Skipped", reason)
            continue
        if service.get("build") is not None and ignore_buildable:
            progress.event("Image", str(image), "Skipped", "Image can be built")
            continue
        scheduled.setdefault(str(image), name)

    config = ConfigFile.load(warn=False)
    failures: dict[str, str] = {}
    must_build: list[str] = []
    lock = threading.Lock()

    def pull_one(image: str) -> None:
        name = scheduled[image]
        service = configs[name]
        progress.event("Image", image, "Pulling")
        try:
            pull_image(client, image, platform=_platform(project, service), config=config)
        except ComposeError as error:
            buildable = service.get("build") is not None
            progress.event("Image", image, "Warning" if buildable or ignore_failures else "Error", error.message)
            with lock:
                failures[name] = error.message
                if buildable:
                    must_build.append(name)
            if not ignore_failures and not buildable:
                raise
            return
        progress.event("Image", image, "Pulled")

    try:
        _each(sorted(scheduled), pull_one, parallel)
    finally:
        if must_build:
            (err or sys.stderr).write("WARNING: Some service image(s) must be built from source by running:\n"
                                      f"    moor compose build {' '.join(sorted(must_build))}\n")
    if failures and not ignore_failures:
        raise ComposeError("\n".join(failures[name] for name in sorted(failures)))


def _should_pull(name: str, service: Section, local: Mapping[str, dict[str, Any]]) -> tuple[bool, str]:
    """compose's ``shouldPullImage`` for an explicit ``compose pull``: (pull it, why not)."""
    if not service.get("pull_policy"):
        return True, ""
    policy = pull_policy(name, service)
    if must_pull(service, policy, local):
        return True, ""
    kind = policy[0]
    if kind == "refresh":
        return True, ""
    if kind == "missing":
        reference = _maybe_reference(str(service["image"]))
        if reference is not None and reference.tag == "latest" and not reference.digest:
            return True, ""
        return False, "Image is already present locally"
    return False, ""


def _maybe_reference(text: str) -> Reference | None:
    try:
        return parse(text)
    except InvalidParameter:
        return None


# ---------------------------------------------------------------------- build


def build_args(project: Project, service: Section, overrides: Mapping[str, str | None],
               config: ConfigFile | None = None) -> dict[str, str | None]:
    """compose's ``resolveAndMergeBuildArgs``: ``build.args``, ``--build-arg`` over them, a name without a value
    resolved from the project environment (still unset: null, the ARG's default); then the docker CLI's proxy
    settings where the name is not there yet."""
    args: dict[str, str | None] = {}
    for key, value in {**dict((service.get("build") or {}).get("args") or {}), **dict(overrides)}.items():
        args[str(key)] = None if value is None else str(value)
    for key, value in args.items():
        if value is None and key in project.environment:
            args[key] = project.environment[key]
    for key, value in proxy_args(config).items():
        args.setdefault(key, value)
    return args


def proxy_args(config: ConfigFile | None = None) -> dict[str, str]:
    """The build args of the docker CLI's ``proxies.default`` settings (upper and lower case names)."""
    config = config or ConfigFile.load(warn=False)
    proxies = config.data.get("proxies")
    default = proxies.get("default") if isinstance(proxies, dict) else None
    args: dict[str, str] = {}
    if isinstance(default, dict):
        for field, name in _PROXY_ARGS.items():
            value = default.get(field)
            if isinstance(value, str) and value:
                args[name] = value
                args[name.lower()] = value
    return args


def image_labels(project: Project, name: str, service: Section) -> dict[str, str]:
    """``build.labels`` and the labels compose adds to what it builds."""
    labels = {str(k): str(v) for k, v in ((service.get("build") or {}).get("labels") or {}).items()}
    labels.update({"com.docker.compose.version": COMPOSE_VERSION, "com.docker.compose.project": project.name,
                   "com.docker.compose.service": name, BUILDER_LABEL: "classic"})
    return labels


def _check_classic(build: Section) -> None:
    """What the classic builder cannot do, refused as compose refuses it."""
    if len(build.get("platforms") or []) > 1:
        raise ComposeError("the classic builder doesn't support multi-arch build")
    if build.get("privileged"):
        raise ComposeError("the classic builder doesn't support privileged mode")
    if build.get("additional_contexts"):
        raise ComposeError("the classic builder doesn't support additional contexts")
    if build.get("ssh"):
        raise ComposeError("the classic builder doesn't support SSH keys")


def _is_remote(context: str) -> bool:
    return is_git_url(context) or "://" in context


def prepare_build_context(build: Section) -> Context:
    """The context tar of a service's ``build`` (``dockerfile`` relative to the context; ``dockerfile_inline``
    travels inside the tar as the docker CLI sends a Dockerfile from stdin)."""
    context_path = str(build.get("context") or ".")
    inline = build.get("dockerfile_inline")
    dockerfile = str(build.get("dockerfile") or "Dockerfile")
    try:
        if inline is not None:
            return prepare_context(context_path, "-", io.BytesIO(str(inline).encode()))
        if not _is_remote(context_path):
            dockerfile = os.path.join(context_path, dockerfile)
        return prepare_context(context_path, dockerfile, io.BytesIO())
    except ContextError as error:
        raise ComposeError(f"unable to prepare context: {error}" if error.prepare else str(error)) from None


def _secrets_header(project: Project, name: str, build: Section) -> str | None:
    """``build.secrets`` (top-level secrets from a file or the environment) as moord's ``X-Moor-Build-Secrets``."""
    contents: dict[str, str] = {}
    for item in build.get("secrets") or []:
        source = str(item.get("source") if isinstance(item, dict) else item)
        ident = str(item.get("target") or source) if isinstance(item, dict) else source
        secret = project.secrets.get(source)
        if secret is None:
            raise ComposeError(f'service "{name}" refers to undefined build secret {source}: invalid compose project')
        if secret.get("file"):
            try:
                with open(str(secret["file"]), "rb") as handle:
                    data = handle.read()
            except OSError as error:
                raise ComposeError(f"open {secret['file']}: {(error.strerror or str(error)).lower()}") from None
        elif secret.get("environment"):
            data = project.environment.get(str(secret["environment"]), "").encode()
        elif "content" in secret:
            data = str(secret["content"]).encode()
        else:
            raise ComposeError(f"build secret {source}: only secrets from a file or the environment can be used")
        contents[ident] = base64.b64encode(data).decode()
    if not contents:
        return None
    return base64.b64encode(json.dumps(contents).encode()).decode()


def build_params(project: Project, name: str, service: Section, *, no_cache: bool = False, pull: bool = False,
                 args: Mapping[str, str | None] | None = None, config: ConfigFile | None = None,
                 memory: int = 0) -> dict[str, Any]:
    """The query of ``POST /build`` for a service (as the classic builder is asked by compose)."""
    build = service.get("build") or {}
    tags = [service_image(project, name), *[str(tag) for tag in build.get("tags") or []]]
    platform = _platform(project, service)
    params: dict[str, Any] = {
        "t": list(dict.fromkeys(tags)),
        "buildargs": json.dumps(build_args(project, service, args or {}, config), separators=(",", ":")),
        "labels": json.dumps(image_labels(project, name, service), separators=(",", ":")),
        "cachefrom": json.dumps([str(item) for item in build.get("cache_from") or []], separators=(",", ":")),
        "rm": "1",
        "nocache": "1" if no_cache or build.get("no_cache") else None,
        "pull": "1" if pull or build.get("pull") else None,
        "target": build.get("target") or None,
        "networkmode": build.get("network") or None,
        "extrahosts": [str(host) for host in build.get("extra_hosts") or []] or None,
        "shmsize": int(build["shm_size"]) if build.get("shm_size") else None,
        "isolation": build.get("isolation") or None,
        "platform": platform.lower() or None,
        "memory": memory or None,
        "version": "1",
    }
    return params


class _BuildOutput:
    """The daemon's build messages written to ``out`` (whole messages at a time: builds run side by side);
    the image ID from ``aux``, the error and its code from ``errorDetail``."""

    def __init__(self, out: IO[str] | None, lock: threading.Lock) -> None:
        self.out = out
        self.lock = lock
        self.image_id = ""
        self.error: str | None = None
        self.code = 1

    def show(self, messages: Iterator[dict[str, Any]]) -> None:
        for message in messages:
            aux = message.get("aux")
            if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
                self.image_id = aux["ID"]
            error = _stream_error(message)
            if error is not None:
                detail = message.get("errorDetail")
                code = detail.get("code") if isinstance(detail, dict) else None
                self.error = error
                self.code = code if isinstance(code, int) and not isinstance(code, bool) and code else 1
                return
            text = self._text(message)
            if text and self.out is not None:
                with self.lock:
                    self.out.write(text)
                    self.out.flush()

    def _text(self, message: dict[str, Any]) -> str:
        stream = message.get("stream")
        if isinstance(stream, str):
            if stream.startswith("Successfully built ") and not self.image_id:
                self.image_id = stream.split()[-1]
            return stream
        status = message.get("status")
        if isinstance(status, str) and not message.get("progressDetail") and not message.get("progress"):
            ident = message.get("id")
            return f"{ident}: {status}\n" if ident else f"{status}\n"
        return ""


def build_image(client: Client, project: Project, name: str, *, no_cache: bool = False, pull: bool = False,
                args: Mapping[str, str | None] | None = None, out: IO[str] | None = None,
                lock: threading.Lock | None = None, config: ConfigFile | None = None, memory: int = 0) -> str:
    """Build one service's image; its ID. ``out`` gets the build's output (None: nothing)."""
    service = service_config(project, name)
    build = service.get("build")
    if build is None:
        raise ComposeError(f'service "{name}" has no build section')
    _check_classic(build)
    config = config or ConfigFile.load(warn=False)
    params = build_params(project, name, service, no_cache=no_cache, pull=pull, args=args, config=config,
                          memory=memory)
    headers = {"Content-Type": "application/x-tar", "X-Registry-Config": registry_config_header(config)}
    secrets = _secrets_header(project, name, build)
    if secrets:
        headers["X-Moor-Build-Secrets"] = secrets
    context = prepare_build_context(build)
    params["dockerfile"] = context.dockerfile
    output = _BuildOutput(out, lock or threading.Lock())
    try:
        try:
            response = client.open("POST", "/build", params, context.stream, headers)
        finally:
            context.close()
        output.show(client.stream_json(response))
    except DaemonError as error:
        raise ComposeError(context.error or f"Error response from daemon: {error.message}") from None
    except ConnectError as error:
        raise ComposeError(context.error or str(error)) from None
    except ValueError as error:
        raise ComposeError(f"invalid character in the daemon's answer: {error}") from None
    if context.error:
        raise ComposeError(context.error)
    if output.error is not None:
        raise BuildFailed(output.error, output.code)
    if not output.image_id:
        found = inspect_image(client, service_image(project, name))
        output.image_id = str((found or {}).get("Id") or "")
    return output.image_id


def build_services(client: Client, project: Project, services: Sequence[str], *, no_cache: bool = False,
                   pull: bool = False, build_args: Mapping[str, str | None] | None = None, quiet: bool = False,
                   progress: Progress, parallel: int = -1, out: IO[str] | None = None, memory: int = 0
                   ) -> dict[str, str]:
    """``compose build``: every named service (all when none) that has ``build``, side by side up to
    ``parallel``; service -> the built image's ID. The builds' text goes to ``out`` (None: stdout, unless the
    progress is a live tty list); ``quiet`` shows nothing."""
    names = [name for name in (list(services) or project.service_names())
             if service_config(project, name).get("build") is not None]
    built: dict[str, str] = {}
    lock = threading.Lock()
    config = ConfigFile.load(warn=False)
    # a live (tty) progress list is redrawn in place: the builds' text would be drawn over, so only the
    # events (and a failure's message) are shown then; --progress plain shows the text
    sink = None if quiet or (out is None and progress.mode == "tty") else (out if out is not None else sys.stdout)

    def build_one(name: str) -> None:
        image = service_image(project, name)
        if not quiet:
            progress.event("Image", image, "Building")
        try:
            image_id = build_image(client, project, name, no_cache=no_cache, pull=pull, args=build_args or {},
                                   out=sink, lock=lock, config=config, memory=memory)
        except ComposeError as error:
            if not quiet:
                progress.event("Image", image, "Error", error.message.splitlines()[0] if error.message else "")
            raise
        with lock:
            built[name] = image_id
        if not quiet:
            progress.event("Image", image, "Built")

    _each(names, build_one, parallel)
    return built


# ---------------------------------------------------------------------- up's images


def ensure_images(client: Client, project: Project, services: Sequence[str], *, build: bool = False,
                  no_build: bool = False, pull: str | None = None, quiet: bool = False, progress: Progress,
                  parallel: int = -1, out: IO[str] | None = None) -> dict[str, str]:
    """What ``up``/``create``/``run`` do before creating containers: pull what the policies ask for (``quiet``:
    silently; a failed pull of an image that can be built is not an error), then build what has ``build`` and
    no image yet (every service with ``build`` under ``build``; nothing under ``no_build``). Service -> the image
    ID to create with. An image still missing afterwards is the engine's ``No such image`` error, before
    anything is created."""
    if build and no_build:
        raise ComposeError("--build and --no-build are incompatible")
    names = list(services) or project.service_names()
    configs = {name: service_config(project, name) for name in names}
    for name, service in configs.items():
        if not service.get("image") and service.get("build") is None:
            raise ComposeError(f'invalid service "{name}". Must specify either image or build')
    policies = policies_for(project, names, pull=pull, build=build)
    images = {name: service_image(project, name) for name in names}
    local = local_images(client, images.values(), parallel)

    to_pull: dict[str, str] = {}
    for name in names:
        if must_pull(configs[name], policies[name], local):
            to_pull.setdefault(images[name], name)
    if to_pull:
        _pull_for_up(client, project, to_pull, configs, local, quiet=quiet, progress=progress, parallel=parallel)

    if not no_build:
        to_build = [name for name in names if configs[name].get("build") is not None
                    and (images[name] not in local or policies[name][0] == "build")]
        if to_build:
            build_services(client, project, to_build, progress=progress, parallel=parallel, out=out)
            local.update(local_images(client, [images[name] for name in to_build], parallel))

    result: dict[str, str] = {}
    for name in names:
        found = local.get(images[name])
        if found is None:
            raise ComposeError(no_such_image(images[name]))
        result[name] = str(found.get("Id") or "")
    return result


def _pull_for_up(client: Client, project: Project, to_pull: Mapping[str, str], configs: Mapping[str, Section],
                 local: dict[str, dict[str, Any]], *, quiet: bool, progress: Progress, parallel: int) -> None:
    """compose's ``pullRequiredImages``: the pulls side by side; a failure of an image some service builds is
    left for the build; the pulled images inspected into ``local``."""
    config = ConfigFile.load(warn=False)
    lock = threading.Lock()

    def pull_one(image: str) -> None:
        service = configs[to_pull[image]]
        if not quiet:
            progress.event("Image", image, "Pulling")
        try:
            pull_image(client, image, platform=_platform(project, service), config=config)
        except ComposeError as error:
            buildable = _buildable(project, image)
            if not quiet:
                progress.event("Image", image, "Warning" if buildable else "Error", error.message)
            if buildable:
                return
            raise
        if not quiet:
            progress.event("Image", image, "Pulled")
        found = inspect_image(client, image)
        if found is not None:
            with lock:
                local[image] = found

    _each(sorted(to_pull), pull_one, parallel)


# ---------------------------------------------------------------------- push


def push_image(client: Client, tag: str, *, config: ConfigFile | None = None) -> None:
    """``POST /images/NAME/push?tag=`` with the stored credentials; ComposeError with the daemon's words."""
    reference = _reference(tag)
    if reference.digest:
        raise ComposeError(f"cannot push a digest reference: {tag}")
    _registry_stream(client, f"/images/{quote_name(reference.familiar_name)}/push",
                     {"tag": reference.tag or "latest"}, _auth_header(reference, config))


def push_services(client: Client, project: Project, services: Sequence[str], *, ignore_failures: bool = False,
                  quiet: bool = False, progress: Progress, parallel: int = -1) -> None:
    """``compose push``: the ``image`` (and ``build.tags``) of each service that has both ``build`` and ``image``;
    the others are skipped. The first failure stops it, unless ``ignore_failures``."""
    tags: list[str] = []
    for name in list(services) or project.service_names():
        service = service_config(project, name)
        if service.get("build") is None or not service.get("image"):
            if not quiet:
                progress.event("", name, "Skipped")
            continue
        for tag in [str(service["image"]), *[str(t) for t in service["build"].get("tags") or []]]:
            if tag not in tags:
                tags.append(tag)
    config = ConfigFile.load(warn=False)
    def push_one(tag: str) -> None:
        if not quiet:
            progress.event("", tag, "Pushing")
        try:
            push_image(client, tag, config=config)
        except ComposeError as error:
            if not quiet:
                progress.event("", tag, "Warning" if ignore_failures else "Error", error.message)
            if not ignore_failures:
                raise
            return
        if not quiet:
            progress.event("", tag, "Pushed")

    _each(tags, push_one, parallel)


# ---------------------------------------------------------------------- images


def project_images(client: Client, project_name: str, services: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``compose images``: for each container of the project (one-offs too), the image it was created from:
    ``ContainerName``, ``ID``, ``Repository``, ``Tag``, ``Platform`` (``os/arch[/variant]``), ``Size``, ``Created``
    and ``LastTagTime`` (the engine's RFC 3339 text, "" when unknown); sorted by container name. A container whose
    image is gone keeps what the container knows (its image ID and reference)."""
    rows = []
    for container in project_containers(client, project_name.lower(), services, oneoff=None):
        reference = str(container.get("Image") or "")
        repository = tag = ""
        if not reference.startswith("sha256:") and not HEX64.match(reference):
            parsed = _maybe_reference(reference)
            if parsed is not None:
                repository, tag = parsed.familiar_name, parsed.tag
        row: dict[str, Any] = {"ContainerName": name_of(container), "ID": str(container.get("ImageID") or ""),
                               "Repository": repository, "Tag": tag, "Platform": "", "Size": 0, "Created": "",
                               "LastTagTime": ""}
        image = inspect_image(client, reference) if reference else None
        if image is not None:
            last = str((image.get("Metadata") or {}).get("LastTagTime") or "")
            row.update({
                "ID": str(image.get("Id") or row["ID"]),
                "Platform": "/".join(str(part) for part in (image.get("Os"), image.get("Architecture"),
                                                           image.get("Variant")) if part),
                "Size": int(image.get("Size") or 0),
                "Created": str(image.get("Created") or ""),
                "LastTagTime": "" if last.startswith("0001-") else last,
            })
        rows.append(row)
    rows.sort(key=lambda row: str(row["ContainerName"]))
    return rows
