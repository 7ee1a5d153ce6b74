"""What each Dockerfile instruction does to an image config, as Docker 20.10's classic builder does it.

Pure functions on the ``config`` section of an image config (Docker's Go field names): each returns a
:class:`Change` (the new config, the ``created_by`` text and ``ContainerConfig.Cmd`` Docker records, whether
the step can make a layer). RUN gives a :class:`RunStep` (the container's command and environment too), COPY
and ADD a :class:`Change` from their content checksum. :class:`BuildArgs` keeps Docker's build-argument
rules (``--build-arg`` values, meta args, a stage's ARGs, the predefined proxy args). The quirks are Docker's
and kept on purpose: ENTRYPOINT clears a CMD inherited from the base image but not one set in the stage,
HEALTHCHECK fills the options it does not give from the previous health check, a relative WORKDIR is joined
and cleaned but an absolute one kept as written, COPY ``--chown`` runs into the checksum in the history text.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from moor.build import instructions as ins
from moor.build.history import go_list, go_quote_list, healthcheck_text
from moor.containers.createcheck import check_signal
from moor.errors import InvalidParameter

DEFAULT_SHELL = ("/bin/sh", "-c")
#: The PATH Docker adds at FROM to a Linux image that sets none.
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Build args every Dockerfile may use without an ARG (kept out of RUN's history text unless declared).
PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY",
              "no_proxy", "ALL_PROXY", "all_proxy")
_HEALTH_KEYS = (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period"),
                ("Retries", "retries"))
_PROTOCOLS = ("tcp", "udp", "sctp")

Config = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One step's effect on the stage.

    ``config`` is the image config's ``config`` after the step; ``container_cmd`` the ``ContainerConfig.Cmd``
    Docker records (``created_by`` joins it with spaces); ``empty_layer`` True when the step never makes a
    layer (the config-only instructions), False when it may (WORKDIR creates ``workdir``; COPY, ADD, RUN);
    ``cmd_set`` the stage's "CMD was set here" flag after it; ``author`` MAINTAINER's new name (None: kept);
    ``args`` an ARG's declarations; ``notes`` lines Docker prints during the step.
    """

    config: Config
    created_by: str
    container_cmd: list[str]
    empty_layer: bool = True
    cmd_set: bool = False
    author: str | None = None
    workdir: str | None = None
    args: tuple[tuple[str, str | None], ...] = ()
    notes: tuple[str, ...] = ()
    #: Docker fills these into the step's container config when it creates the step's container
    container_created: bool = True

    def container_config(self, container: str = "", on_image: bool | None = None) -> Config:
        """The image's ``container_config``: ``config`` with the step's command. Docker makes a container for
        a config-only step (and WORKDIR) and its daemon edits that container's config: the hostname (the short
        ``container`` ID), the working directory cleaned and, when the step starts from an image (``on_image``,
        by default whether the config's ``Image`` names one: not so for the first step of a ``FROM scratch``
        stage), an empty label map for none; done here too."""
        result = copy.deepcopy(self.config)
        result["Cmd"] = list(self.container_cmd)
        if on_image is None:
            on_image = bool(result.get("Image"))
        if self.container_created:
            result["Hostname"] = container[:12]
            if on_image and result.get("Labels") is None:
                result["Labels"] = {}
            if result.get("WorkingDir"):
                result["WorkingDir"] = _go_clean(result["WorkingDir"])
        return result


@dataclass(frozen=True)
class RunStep:
    """A RUN step: ``cmd`` and ``env`` for its container, ``created_by`` and ``container_config`` for its
    image (Docker's cache probe config: the build args used prefixed as ``|N A=b``, no entrypoint; write it
    as it is: unlike a config-only step's, Docker's has no hostname), ``config`` the image's config
    (unchanged by RUN)."""

    config: Config
    created_by: str
    cmd: list[str]
    env: list[str]
    container_config: Config

    def run_config(self) -> Config:
        """The config of the RUN's container: the stage's, running ``cmd`` (no entrypoint) with the build args
        in its environment and no health check."""
        result = copy.deepcopy(self.config)
        result.update(Cmd=list(self.cmd), Env=list(self.env), Entrypoint=None, Healthcheck={"Test": ["NONE"]})
        return result


@dataclass
class BuildArgs:
    """Docker's build arguments: the ``--build-arg`` ``options`` (None: named without a value), the ``meta``
    args declared before the first FROM, and the args ``declared`` in the current stage with their defaults."""

    options: Mapping[str, str | None] = field(default_factory=dict)
    meta: Mapping[str, str | None] = field(default_factory=dict)
    declared: dict[str, str | None] = field(default_factory=dict)

    def for_stage(self) -> BuildArgs:
        """The args at a FROM: the same options and meta args, nothing declared."""
        return BuildArgs(self.options, self.meta, {})

    def declare(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        """ARG ``name[=default]`` ...: the names become usable (an ARG again replaces the default)."""
        for name, default in pairs:
            self.declared[name] = default

    def value(self, name: str) -> str | None:
        """The value of ``name`` as Docker resolves it: the option, else the ARG's default, else the meta
        arg's value; None when it has none."""
        option = self.options.get(name)
        if option is not None:
            return option
        default = self.declared.get(name)
        if default is None:
            return self.meta.get(name)
        return default

    def allowed(self) -> dict[str, str]:
        """Every usable arg with a value: the declared ones and the proxy args given as options."""
        values: dict[str, str] = {}
        for name in [*self.declared, *(p for p in PROXY_ARGS if p not in self.declared)]:
            value = self.value(name) if name in self.declared else self.options.get(name)
            if value is not None:
                values[name] = value
        return values

    def unshadowed(self, config: Mapping[str, Any]) -> dict[str, str]:
        """The allowed args that no ENV of ``config`` overrides (what a RUN and a word's expansion see)."""
        env_keys = {item.split("=", 1)[0] for item in config.get("Env") or []}
        return {name: value for name, value in self.allowed().items() if name not in env_keys}

    def expansion_env(self, config: Mapping[str, Any]) -> dict[str, str]:
        """The variables a Dockerfile word sees: the config's Env, then the unshadowed args."""
        values = dict(item.split("=", 1) if "=" in item else (item, "") for item in config.get("Env") or [])
        values.update(self.unshadowed(config))
        return values


# --------------------------------------------------------------------------- helpers


def shell_of(config: Mapping[str, Any]) -> list[str]:
    """The shell of shell forms: SHELL's, else ``/bin/sh -c``."""
    return list(config.get("Shell") or DEFAULT_SHELL)


def _resolve(config: Mapping[str, Any], command: Sequence[str], prepend_shell: bool) -> list[str]:
    """A CMD/ENTRYPOINT/RUN command line: the shell form run by the shell, the exec form as written."""
    return [*shell_of(config), " ".join(command)] if prepend_shell else list(command)


def _nop(config: Config, text: str, **fields: Any) -> Change:
    """A config-only step: Docker records ``<shell> #(nop)  <text>`` (the ``#(nop) `` a word of its own)."""
    return Change(config=config, created_by=" ".join([*shell_of(config), "#(nop) ", text]),
                  container_cmd=[*shell_of(config), "#(nop) ", text], **fields)


def _nop_string(config: Config, text: str, **fields: Any) -> Change:
    """WORKDIR, COPY and ADD: ``<shell> #(nop) <text>`` (one word)."""
    return Change(config=config, created_by=" ".join([*shell_of(config), "#(nop) " + text]),
                  container_cmd=[*shell_of(config), "#(nop) " + text], **fields)


def _go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` of a path."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


# --------------------------------------------------------------------------- stages


def begin_stage(base_config: Mapping[str, Any] | None) -> tuple[Config, list[str]]:
    """The config a stage starts from (its base image's ``config``, or none for scratch) and the base's
    ONBUILD triggers to run first: Docker adds the default PATH when the base sets none, clears
    ``OpenStdin``/``StdinOnce`` and takes the triggers out of the config."""
    config: Config = copy.deepcopy(dict(base_config)) if base_config else {}
    env = list(config.get("Env") or [])
    if not any(item.split("=", 1)[0] == "PATH" for item in env):
        env.append(DEFAULT_PATH)
    config["Env"] = env
    config["OpenStdin"] = False
    config["StdinOnce"] = False
    triggers = list(config.get("OnBuild") or [])
    if triggers:
        config["OnBuild"] = None
    return config, triggers


# --------------------------------------------------------------------------- the instructions


def set_cmd(config: Mapping[str, Any], command: Sequence[str], prepend_shell: bool, cmd_set: bool) -> Change:
    """CMD: the container's default command (``CMD ["a" "b"]`` in the history); a non-empty one marks the
    stage's CMD as set."""
    result = copy.deepcopy(dict(config))
    cmd = _resolve(result, command, prepend_shell)
    result["Cmd"] = cmd
    return _nop(result, "CMD " + go_quote_list(cmd), cmd_set=cmd_set or bool(command))


def set_entrypoint(config: Mapping[str, Any], command: Sequence[str], prepend_shell: bool,
                   cmd_set: bool) -> Change:
    """ENTRYPOINT: also clears the CMD unless a CMD was set in this stage (one from the base image goes)."""
    result = copy.deepcopy(dict(config))
    entrypoint = _resolve(result, command, prepend_shell)
    result["Entrypoint"] = entrypoint
    if not cmd_set:
        result["Cmd"] = None
    return _nop(result, "ENTRYPOINT " + go_quote_list(entrypoint), cmd_set=cmd_set)


def set_env(config: Mapping[str, Any], pairs: Sequence[tuple[str, str]]) -> Change:
    """ENV: each ``name=value`` replaces the variable in place, or is appended."""
    result = copy.deepcopy(dict(config))
    env = list(result.get("Env") or [])
    for name, value in pairs:
        item = f"{name}={value}"
        for index, existing in enumerate(env):
            if existing.split("=", 1)[0] == name:
                env[index] = item
                break
        else:
            env.append(item)
    result["Env"] = env
    return _nop(result, "ENV " + " ".join(f"{name}={value}" for name, value in pairs))


def set_labels(config: Mapping[str, Any], pairs: Sequence[tuple[str, str]]) -> Change:
    """LABEL: each ``key=value`` set."""
    result = copy.deepcopy(dict(config))
    labels = dict(result.get("Labels") or {})
    labels.update(pairs)
    result["Labels"] = labels
    return _nop(result, "LABEL " + " ".join(f"{key}={value}" for key, value in pairs))


def set_maintainer(config: Mapping[str, Any], maintainer: str) -> Change:
    """MAINTAINER: the ``author`` of this and the stage's next images (the config is unchanged)."""
    return _nop(copy.deepcopy(dict(config)), "MAINTAINER " + maintainer, author=maintainer)


def exposed_ports(ports: Sequence[str]) -> list[str]:
    """Docker's ``nat.ParsePortSpecs`` of EXPOSE's words: ``80`` -> ``80/tcp``, ``8000-8002/udp`` -> three,
    the protocol lowercased; ``ip:host:`` parts ignored."""
    result: list[str] = []
    for spec in ports:
        container = spec.rsplit(":", 1)[-1] if spec.count(":") <= 2 and "[" not in spec else spec
        number, slash, protocol = container.partition("/")
        protocol = protocol.lower() if slash and protocol else "tcp"
        if protocol not in _PROTOCOLS:
            raise InvalidParameter(f"Invalid proto: {protocol}")
        start_text, dash, end_text = number.partition("-")
        bounds = [start_text, end_text] if dash else [start_text]
        if not all(b.isascii() and b.isdigit() and int(b) <= 65535 for b in bounds):
            raise InvalidParameter(f"Invalid containerPort: {number}")
        start, end = int(bounds[0]), int(bounds[-1])
        if end < start:
            raise InvalidParameter(f"Invalid containerPort: {number}")
        result.extend(f"{port}/{protocol}" for port in range(start, end + 1))
    return result


def expose(config: Mapping[str, Any], ports: Sequence[str]) -> Change:
    """EXPOSE: the ports added to ``ExposedPorts`` (the history keeps the words as written)."""
    result = copy.deepcopy(dict(config))
    exposed = dict(result.get("ExposedPorts") or {})
    for port in exposed_ports(ports):
        exposed[port] = {}
    result["ExposedPorts"] = exposed
    return _nop(result, "EXPOSE " + " ".join(ports))


def add_volumes(config: Mapping[str, Any], paths: Sequence[str]) -> Change:
    """VOLUME: each path added to ``Volumes`` as written (``VOLUME [/a /b]`` in the history)."""
    result = copy.deepcopy(dict(config))
    volumes = dict(result.get("Volumes") or {})
    for path in paths:
        if not path.strip():
            raise InvalidParameter("VOLUME specified can not be an empty string")
        volumes[path] = {}
    result["Volumes"] = volumes
    return _nop(result, "VOLUME " + go_list(paths))


def workdir_path(current: str, requested: str) -> str:
    """Docker's ``normalizeWorkdir``: a relative path joined to the current one and cleaned, an absolute one
    kept as written."""
    if not requested:
        raise InvalidParameter("cannot normalize nothing")
    if requested.startswith("/"):
        return requested
    return _go_clean(posixpath.join("/", current or "", requested))


def set_workdir(config: Mapping[str, Any], path: str) -> Change:
    """WORKDIR: the working directory, created in the image (a layer when it did not exist)."""
    result = copy.deepcopy(dict(config))
    result["WorkingDir"] = workdir_path(result.get("WorkingDir") or "", path)
    return _nop_string(result, "WORKDIR " + result["WorkingDir"], empty_layer=False, workdir=result["WorkingDir"])


def set_user(config: Mapping[str, Any], user: str) -> Change:
    """USER: the user (and group) later steps and the container run as."""
    result = copy.deepcopy(dict(config))
    result["User"] = user
    return _nop(result, "USER " + user)


def set_healthcheck(config: Mapping[str, Any], test: Sequence[str] | None, interval: int = 0, timeout: int = 0,
                    start_period: int = 0, retries: int = 0) -> Change:
    """HEALTHCHECK (``test`` None: NONE). The history shows the options given; the config, as Docker's,
    takes the ones not given (0) from the previous health check."""
    result = copy.deepcopy(dict(config))
    given: dict[str, Any] = {"Test": list(test) if test is not None else ["NONE"], "Interval": interval,
                             "Timeout": timeout, "StartPeriod": start_period, "Retries": retries}
    notes: tuple[str, ...] = ()
    previous = result.get("Healthcheck")
    if isinstance(previous, Mapping):
        old_test = previous.get("Test") or []
        if old_test and old_test[0] != "NONE":
            notes = (f"Note: overriding previous HEALTHCHECK: {go_list(old_test)}",)
    text = "HEALTHCHECK " + healthcheck_text(given)
    health = {key: value for key, value in given.items() if value}
    if isinstance(previous, Mapping):
        for key, _ in (("Test", ""), *_HEALTH_KEYS):
            if not health.get(key) and previous.get(key):
                health[key] = copy.deepcopy(previous[key])
    result["Healthcheck"] = health
    return _nop(result, text, notes=notes)


def check_onbuild(expression: str) -> None:
    """Docker's refusals of an ONBUILD trigger."""
    trigger = expression.split(None, 1)[0].upper() if expression.strip() else ""
    if trigger == "ONBUILD":
        raise InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("FROM", "MAINTAINER"):
        raise InvalidParameter(f"{trigger} isn't allowed as an ONBUILD trigger")


def add_onbuild(config: Mapping[str, Any], expression: str) -> Change:
    """ONBUILD: the trigger kept in ``OnBuild`` for builds from this image."""
    check_onbuild(expression)
    result = copy.deepcopy(dict(config))
    result["OnBuild"] = [*(result.get("OnBuild") or []), expression]
    return _nop(result, "ONBUILD " + expression)


def set_stopsignal(config: Mapping[str, Any], signal: str) -> Change:
    """STOPSIGNAL: checked as Docker's ``signal.ParseSignal`` (``Invalid signal: X``)."""
    check_signal(signal)
    result = copy.deepcopy(dict(config))
    result["StopSignal"] = signal
    return _nop(result, "STOPSIGNAL " + signal)


def set_shell(config: Mapping[str, Any], shell: Sequence[str]) -> Change:
    """SHELL: the shell of later shell forms (and of this step's own history text)."""
    result = copy.deepcopy(dict(config))
    result["Shell"] = list(shell)
    return _nop(result, "SHELL " + go_list(shell))


def declare_args(config: Mapping[str, Any], pairs: Sequence[tuple[str, str | None]]) -> Change:
    """ARG: no config change; the history shows the defaults as written (not the ``--build-arg`` values)."""
    text = " ".join(name if value is None else f"{name}={value}" for name, value in pairs)
    return _nop(copy.deepcopy(dict(config)), "ARG " + text, args=tuple(pairs))


def run(config: Mapping[str, Any], command: Sequence[str], prepend_shell: bool, args: BuildArgs) -> RunStep:
    """RUN: the container runs the command (shell form through the shell) with the unshadowed build args in
    its environment; the history prefixes the ones declared (or not predefined) as ``|N A=b B=c``, sorted."""
    result = copy.deepcopy(dict(config))
    cmd = _resolve(result, command, prepend_shell)
    visible = args.unshadowed(result)
    recorded = sorted(f"{name}={value}" for name, value in visible.items()
                      if name in args.declared or name not in PROXY_ARGS)
    saved = [f"|{len(recorded)}", *recorded, *cmd] if visible else cmd
    container_config = copy.deepcopy(result)
    container_config["Cmd"] = saved
    if saved:
        container_config["Entrypoint"] = None
    env = [*(result.get("Env") or []), *sorted(f"{name}={value}" for name, value in visible.items())]
    return RunStep(config=result, created_by=" ".join(saved), cmd=cmd, env=env, container_config=container_config)


def copy_files(config: Mapping[str, Any], instruction: str, checksum: str, dest: str,
               chown: str | None = None) -> Change:
    """COPY and ADD: ``<shell> #(nop) COPY file:<sha256> in /dst `` (``--chown=u:g`` glued to the checksum, as
    Docker writes it); no container, so no hostname in its container config."""
    chown_text = f"--chown={chown}" if chown else ""
    return _nop_string(copy.deepcopy(dict(config)), f"{instruction} {chown_text}{checksum} in {dest} ",
                       empty_layer=False, container_created=False)


# --------------------------------------------------------------------------- typed commands


def label_commands(labels: Mapping[str, str]) -> list[ins.LabelCommand]:
    """The steps Docker's classic builder adds after the target stage for ``--label`` values: one LABEL each,
    sorted by key, written ``LABEL k=v`` and never expanded (dispatch them without ``expand_command``)."""
    return [ins.LabelCommand(pairs=[(key, labels[key])], original=f"LABEL {key}={labels[key]}")
            for key in sorted(labels)]


def apply(command: ins.Command, config: Mapping[str, Any], cmd_set: bool = False) -> Change:
    """The config-only instructions (and WORKDIR) dispatched from their typed, expanded commands. RUN, COPY,
    ADD and FROM have their own entry points (:func:`run`, :func:`copy_files`, :func:`begin_stage`)."""
    if isinstance(command, ins.CmdCommand):
        return set_cmd(config, command.command, command.prepend_shell, cmd_set)
    if isinstance(command, ins.EntrypointCommand):
        return set_entrypoint(config, command.command, command.prepend_shell, cmd_set)
    change: Change
    if isinstance(command, ins.EnvCommand):
        change = set_env(config, command.pairs)
    elif isinstance(command, ins.LabelCommand):
        change = set_labels(config, command.pairs)
    elif isinstance(command, ins.MaintainerCommand):
        change = set_maintainer(config, command.maintainer)
    elif isinstance(command, ins.ExposeCommand):
        change = expose(config, command.ports)
    elif isinstance(command, ins.VolumeCommand):
        change = add_volumes(config, command.paths)
    elif isinstance(command, ins.WorkdirCommand):
        change = set_workdir(config, command.path)
    elif isinstance(command, ins.UserCommand):
        change = set_user(config, command.user)
    elif isinstance(command, ins.HealthcheckCommand):
        change = set_healthcheck(config, command.test, command.interval, command.timeout, command.start_period,
                                 command.retries)
    elif isinstance(command, ins.OnbuildCommand):
        change = add_onbuild(config, command.expression)
    elif isinstance(command, ins.StopsignalCommand):
        change = set_stopsignal(config, command.signal)
    elif isinstance(command, ins.ShellCommand):
        change = set_shell(config, command.shell)
    elif isinstance(command, ins.ArgCommand):
        change = declare_args(config, command.pairs)
    else:
        raise InvalidParameter(f"{command.keyword} is not a config instruction")
    return replace(change, cmd_set=cmd_set)
