"""Typed Dockerfile commands: one frozen dataclass per instruction, checked as Docker 20.10 checks them.

:func:`parse_command` turns an :class:`~moor.build.dockerfile.Instruction` into its command, refusing bad
flags and arguments with Docker's words (``dockerfile parse error line N: ...``). BuildKit's syntax is
accepted beyond the classic builder (``RUN --mount/--network/--security``, ``COPY --chmod/--link``,
``ADD --checksum/--keep-git-dir``, heredocs). :func:`expand_command` expands variables where Docker does
(never in RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD). :func:`plan_stages` splits a Dockerfile into
stages with ARG scoping and ``--target``; :func:`stages_needed` names the stages a target depends on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar, TypedDict

from moor.build.dockerfile import Dockerfile, Heredoc, Instruction, heredoc_words, parse_error, parse_instruction
from moor.build.gotypes import go_parse_duration, go_parse_int
from moor.build.runmount import RunMount, parse_mount
from moor.build.shell_lexer import ShellLexer
from moor.errors import InvalidParameter
from moor.registry.manifests import host_platform_of, parse_platform

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
_MINIMUM_INTERVAL_NS = 1_000_000
_TRIGGER_REFUSED = ("MAINTAINER", "FROM")


@dataclass(frozen=True, kw_only=True)
class Command:
    """What every command has: the line it starts on and its original text."""

    keyword: ClassVar[str] = ""
    line: int = 0
    original: str = ""


@dataclass(frozen=True, kw_only=True)
class FromCommand(Command):
    """``FROM [--platform=p] image [AS name]``: ``stage_name`` lower case, None when unnamed."""

    keyword: ClassVar[str] = "FROM"
    image: str
    stage_name: str | None = None
    platform: str = ""


@dataclass(frozen=True, kw_only=True)
class RunCommand(Command):
    """``RUN``: exec form (``prepend_shell`` False) or shell form (one string run by the SHELL)."""

    keyword: ClassVar[str] = "RUN"
    command: list[str]
    prepend_shell: bool = True
    mounts: list[RunMount] = field(default_factory=list)
    network: str = "default"
    security: str = "sandbox"
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CopyCommand(Command):
    """``COPY``: ``sources`` (context paths; heredoc markers left out: they are in ``heredocs``), ``dest``.

    A heredoc is an inline file named after the heredoc (``COPY <<EOF /dst`` writes ``/dst`` or
    ``/dst/EOF`` when the destination is a directory), its content in ``Heredoc.content``.
    """

    keyword: ClassVar[str] = "COPY"
    sources: list[str]
    dest: str
    from_stage: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AddCommand(CopyCommand):
    """``ADD``: as COPY (without ``--from``), plus archives and URLs; ``--checksum``, ``--keep-git-dir``."""

    keyword: ClassVar[str] = "ADD"
    checksum: str | None = None
    keep_git_dir: bool = False


@dataclass(frozen=True, kw_only=True)
class CmdCommand(Command):
    """``CMD``: exec form, or shell form (one string, ``prepend_shell``)."""

    keyword: ClassVar[str] = "CMD"
    command: list[str]
    prepend_shell: bool = True


@dataclass(frozen=True, kw_only=True)
class EntrypointCommand(Command):
    """``ENTRYPOINT``: exec form, or shell form (one string, ``prepend_shell``)."""

    keyword: ClassVar[str] = "ENTRYPOINT"
    command: list[str]
    prepend_shell: bool = True


@dataclass(frozen=True, kw_only=True)
class EnvCommand(Command):
    """``ENV k=v ...`` (or the legacy ``ENV k v``): the pairs in order (quotes gone once expanded)."""

    keyword: ClassVar[str] = "ENV"
    pairs: list[tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class ArgCommand(Command):
    """``ARG name[=default] ...``: the pairs in order, None when no default was written."""

    keyword: ClassVar[str] = "ARG"
    pairs: list[tuple[str, str | None]]


@dataclass(frozen=True, kw_only=True)
class LabelCommand(Command):
    """``LABEL k=v ...``: the pairs in order (quotes gone once expanded)."""

    keyword: ClassVar[str] = "LABEL"
    pairs: list[tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class MaintainerCommand(Command):
    """``MAINTAINER name`` (the image's Author)."""

    keyword: ClassVar[str] = "MAINTAINER"
    maintainer: str


@dataclass(frozen=True, kw_only=True)
class ExposeCommand(Command):
    """``EXPOSE port[/proto] ...``: the words, sorted as Docker sorts them (checked when dispatched)."""

    keyword: ClassVar[str] = "EXPOSE"
    ports: list[str]


@dataclass(frozen=True, kw_only=True)
class VolumeCommand(Command):
    """``VOLUME path ...`` or ``VOLUME ["path", ...]``."""

    keyword: ClassVar[str] = "VOLUME"
    paths: list[str]


@dataclass(frozen=True, kw_only=True)
class WorkdirCommand(Command):
    """``WORKDIR path``."""

    keyword: ClassVar[str] = "WORKDIR"
    path: str


@dataclass(frozen=True, kw_only=True)
class UserCommand(Command):
    """``USER user[:group]``."""

    keyword: ClassVar[str] = "USER"
    user: str


@dataclass(frozen=True, kw_only=True)
class HealthcheckCommand(Command):
    """``HEALTHCHECK [options] CMD ...`` or ``HEALTHCHECK NONE`` (``test`` None).

    ``test`` is Docker's Healthcheck.Test: ``["CMD", arg...]`` (exec form) or ``["CMD-SHELL", line]``.
    Durations are nanoseconds, 0 when not given (Docker's config then inherits the defaults).
    """

    keyword: ClassVar[str] = "HEALTHCHECK"
    test: list[str] | None
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class OnbuildCommand(Command):
    """``ONBUILD <instruction>``: the trigger's text as Docker keeps it in the image's OnBuild list."""

    keyword: ClassVar[str] = "ONBUILD"
    expression: str


@dataclass(frozen=True, kw_only=True)
class StopsignalCommand(Command):
    """``STOPSIGNAL signal`` (checked when dispatched, after expansion)."""

    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str


@dataclass(frozen=True, kw_only=True)
class ShellCommand(Command):
    """``SHELL ["executable", "param"...]``: the shell of later shell forms."""

    keyword: ClassVar[str] = "SHELL"
    shell: list[str]


class _Flags:
    """An instruction's ``--flags`` checked as Docker's BFlags does (unknown, duplicate, missing value)."""

    def __init__(self, raw: tuple[str, ...], strings: tuple[str, ...] = (), bools: tuple[str, ...] = (),
                 lists: tuple[str, ...] = ()) -> None:
        self.values: dict[str, str] = {}
        self.bools: dict[str, bool] = {}
        self.lists: dict[str, list[str]] = {name: [] for name in lists}
        for arg in raw:
            if not arg.startswith("--"):
                raise InvalidParameter(f"Arg should start with -- : {arg}")
            name, has_value, value = arg[2:].partition("=")
            if name not in strings and name not in bools and name not in lists:
                raise InvalidParameter(f"Unknown flag: {name}")
            if name in self.values or name in self.bools:
                raise InvalidParameter(f"Duplicate flag specified: {name}")
            if name in bools:
                if not has_value:
                    self.bools[name] = True
                elif value.lower() in ("true", "false"):
                    self.bools[name] = value.lower() == "true"
                else:
                    raise InvalidParameter(f"expecting boolean value for flag {name}, not: {value}")
                continue
            if not has_value:
                raise InvalidParameter(f"Missing a value on flag: {name}")
            if name in lists:
                self.lists[name].append(value)
            else:
                self.values[name] = value

    def get(self, name: str) -> str | None:
        """A string flag's value, None when not given."""
        return self.values.get(name)


def parse_command(instruction: Instruction) -> Command:
    """The typed command of one instruction; ``InvalidParameter`` with Docker's message and line."""
    parser = _PARSERS.get(instruction.keyword)
    if parser is None:
        raise parse_error(instruction.line, f"unknown instruction: {instruction.keyword}")
    try:
        return parser(instruction)
    except InvalidParameter as error:
        raise parse_error(instruction.line, error.message) from None


class _Where(TypedDict):
    line: int
    original: str


def _common(instruction: Instruction) -> _Where:
    return {"line": instruction.line, "original": instruction.original}


def _command_line(instruction: Instruction) -> tuple[list[str], bool]:
    """Exec form (the JSON words) or shell form (one string), as Docker's handleJSONArgs."""
    if instruction.json:
        return list(instruction.args), False
    return [" ".join(instruction.args)] if instruction.args else [], True


def _parse_from(instruction: Instruction) -> FromCommand:
    flags = _Flags(instruction.flags, strings=("platform",))
    args = instruction.args
    stage_name = None
    if len(args) == 3 and args[1].lower() == "as":
        stage_name = args[2].lower()
        if not _STAGE_NAME.match(stage_name):
            raise InvalidParameter(
                f'invalid name for build stage: "{args[2]}", name can\'t start with a number or contain symbols')
    elif len(args) != 1:
        raise InvalidParameter("FROM requires either one or three arguments")
    return FromCommand(image=args[0], stage_name=stage_name, platform=flags.get("platform") or "",
                       **_common(instruction))


def _parse_run(instruction: Instruction) -> RunCommand:
    flags = _Flags(instruction.flags, strings=("network", "security"), lists=("mount",))
    command, prepend_shell = _command_line(instruction)
    mounts = [parse_mount(value) for value in flags.lists["mount"]]
    network = flags.get("network") or "default"
    if network not in ("default", "none", "host"):
        raise InvalidParameter(f'invalid network mode "{network}"')
    security = flags.get("security") or "sandbox"
    if security not in ("sandbox", "insecure"):
        raise InvalidParameter(f'security "{security}" is not valid')
    return RunCommand(command=command, prepend_shell=prepend_shell, mounts=mounts, network=network,
                      security=security, heredocs=instruction.heredocs,
                      **_common(instruction))


class _CopyFields(TypedDict):
    sources: list[str]
    dest: str
    heredocs: tuple[Heredoc, ...]


def _copy_fields(instruction: Instruction) -> _CopyFields:
    """What COPY and ADD share: sources (heredoc markers out), dest, chown, chmod, link, heredocs."""
    args = list(instruction.args)
    if len(args) < 2:
        raise InvalidParameter(f"{instruction.keyword} requires at least two arguments, but only one was "
                               "provided. Destination could not be determined")
    sources = args[:-1]
    if instruction.heredocs:
        markers = set(heredoc_words(sources))
        if _is_heredoc_word(args[-1]):
            raise InvalidParameter(f"{instruction.keyword} cannot accept a heredoc as a destination")
        sources = [source for index, source in enumerate(sources) if index not in markers]
    return {"sources": sources, "dest": args[-1], "heredocs": instruction.heredocs}


def _is_heredoc_word(word: str) -> bool:
    return bool(heredoc_words([word]))


def _parse_copy(instruction: Instruction) -> CopyCommand:
    flags = _Flags(instruction.flags, strings=("from", "chown", "chmod"), bools=("link",))
    fields = _copy_fields(instruction)
    return CopyCommand(from_stage=flags.get("from"), chown=flags.get("chown"), chmod=flags.get("chmod"),
                       link=flags.bools.get("link", False), **fields, **_common(instruction))


def _parse_add(instruction: Instruction) -> AddCommand:
    flags = _Flags(instruction.flags, strings=("chown", "chmod", "checksum"), bools=("link", "keep-git-dir"))
    fields = _copy_fields(instruction)
    return AddCommand(chown=flags.get("chown"), chmod=flags.get("chmod"), link=flags.bools.get("link", False),
                      checksum=flags.get("checksum"), keep_git_dir=flags.bools.get("keep-git-dir", False),
                      **fields, **_common(instruction))


def _parse_cmd(instruction: Instruction) -> CmdCommand:
    _Flags(instruction.flags)
    command, prepend_shell = _command_line(instruction)
    return CmdCommand(command=command, prepend_shell=prepend_shell, **_common(instruction))


def _parse_entrypoint(instruction: Instruction) -> EntrypointCommand:
    _Flags(instruction.flags)
    command, prepend_shell = _command_line(instruction)
    return EntrypointCommand(command=command, prepend_shell=prepend_shell,
                             **_common(instruction))


def _pairs(instruction: Instruction) -> list[tuple[str, str]]:
    """ENV's and LABEL's key/value words as pairs (the Go parser already split them)."""
    if not instruction.args:
        raise InvalidParameter(f"{instruction.keyword} requires at least one argument")
    if len(instruction.args) % 2:
        raise InvalidParameter(f"Bad input to {instruction.keyword}, too many arguments")
    pairs = []
    for index in range(0, len(instruction.args), 2):
        key = instruction.args[index]
        if key == "":
            raise InvalidParameter(f"{instruction.keyword} names can not be blank")
        pairs.append((key, instruction.args[index + 1]))
    return pairs


def _parse_env(instruction: Instruction) -> EnvCommand:
    _Flags(instruction.flags)
    return EnvCommand(pairs=_pairs(instruction), **_common(instruction))


def _parse_label(instruction: Instruction) -> LabelCommand:
    _Flags(instruction.flags)
    return LabelCommand(pairs=_pairs(instruction), **_common(instruction))


def _parse_arg(instruction: Instruction) -> ArgCommand:
    if not instruction.args:
        raise InvalidParameter("ARG requires at least one argument")
    _Flags(instruction.flags)
    pairs: list[tuple[str, str | None]] = []
    for word in instruction.args:
        name, has_value, value = word.partition("=")
        if name == "":
            raise InvalidParameter("ARG names can not be blank")
        pairs.append((name, value if has_value else None))
    return ArgCommand(pairs=pairs, **_common(instruction))


def _exactly_one(instruction: Instruction) -> str:
    if len(instruction.args) != 1:
        raise InvalidParameter(f"{instruction.keyword} requires exactly one argument")
    _Flags(instruction.flags)
    return instruction.args[0]


def _parse_maintainer(instruction: Instruction) -> MaintainerCommand:
    return MaintainerCommand(maintainer=_exactly_one(instruction), **_common(instruction))


def _parse_workdir(instruction: Instruction) -> WorkdirCommand:
    return WorkdirCommand(path=_exactly_one(instruction), **_common(instruction))


def _parse_user(instruction: Instruction) -> UserCommand:
    return UserCommand(user=_exactly_one(instruction), **_common(instruction))


def _parse_stopsignal(instruction: Instruction) -> StopsignalCommand:
    return StopsignalCommand(signal=_exactly_one(instruction), **_common(instruction))


def _parse_expose(instruction: Instruction) -> ExposeCommand:
    if not instruction.args:
        raise InvalidParameter("EXPOSE requires at least one argument")
    _Flags(instruction.flags)
    return ExposeCommand(ports=sorted(instruction.args), **_common(instruction))


def _parse_volume(instruction: Instruction) -> VolumeCommand:
    if not instruction.args:
        raise InvalidParameter("VOLUME requires at least one argument")
    _Flags(instruction.flags)
    for path in instruction.args:
        if path.strip() == "":
            raise InvalidParameter("VOLUME specified can not be an empty string")
    return VolumeCommand(paths=list(instruction.args), **_common(instruction))


def _parse_shell(instruction: Instruction) -> ShellCommand:
    if not instruction.args:
        raise InvalidParameter("SHELL requires at least one argument")
    _Flags(instruction.flags)
    if not instruction.json:
        raise InvalidParameter("SHELL requires the arguments to be in JSON form")
    return ShellCommand(shell=list(instruction.args), **_common(instruction))


def _parse_onbuild(instruction: Instruction) -> OnbuildCommand:
    sub = instruction.sub
    if sub is None:
        raise InvalidParameter("ONBUILD requires at least one argument")
    _Flags(instruction.flags)
    if sub.keyword == "ONBUILD":
        raise InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if sub.keyword in _TRIGGER_REFUSED:
        raise InvalidParameter(f"{sub.keyword} isn't allowed as an ONBUILD trigger")
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", instruction.original)
    return OnbuildCommand(expression=expression, **_common(instruction))


def _interval(flags: _Flags, name: str) -> int:
    """A HEALTHCHECK duration flag in nanoseconds (0 when not given), at least 1ms as Docker 20.10 wants."""
    text = flags.get(name)
    if not text:
        return 0
    value = go_parse_duration(text)
    if value < _MINIMUM_INTERVAL_NS:
        raise InvalidParameter(f'Interval "{name}" cannot be less than 1ms')
    return value


def _parse_healthcheck(instruction: Instruction) -> HealthcheckCommand:
    if not instruction.args:
        raise InvalidParameter("HEALTHCHECK requires at least one argument")
    kind = instruction.args[0].upper()
    rest = instruction.args[1:]
    if kind == "NONE":
        if rest:
            raise InvalidParameter("HEALTHCHECK NONE takes no arguments")
        return HealthcheckCommand(test=None, **_common(instruction))
    flags = _Flags(instruction.flags, strings=("interval", "timeout", "start-period", "retries"))
    if kind != "CMD":
        raise InvalidParameter(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    test = ["CMD", *rest] if instruction.json else ["CMD-SHELL", " ".join(rest)] if rest else []
    if len(test) < 2:
        raise InvalidParameter("Missing command after HEALTHCHECK CMD")
    interval = _interval(flags, "interval")
    timeout = _interval(flags, "timeout")
    start_period = _interval(flags, "start-period")
    retries = 0
    if flags.get("retries"):
        retries = go_parse_int(flags.get("retries") or "", bits=32)
        if retries < 1:
            raise InvalidParameter(f"--retries must be at least 1 (not {retries})")
    return HealthcheckCommand(test=test, interval=interval, timeout=timeout, start_period=start_period,
                              retries=retries, **_common(instruction))


_PARSERS: dict[str, Callable[[Instruction], Command]] = {
    "FROM": _parse_from, "RUN": _parse_run, "COPY": _parse_copy, "ADD": _parse_add, "CMD": _parse_cmd,
    "ENTRYPOINT": _parse_entrypoint, "ENV": _parse_env, "ARG": _parse_arg, "LABEL": _parse_label,
    "MAINTAINER": _parse_maintainer, "EXPOSE": _parse_expose, "VOLUME": _parse_volume, "WORKDIR": _parse_workdir,
    "USER": _parse_user, "HEALTHCHECK": _parse_healthcheck, "ONBUILD": _parse_onbuild,
    "STOPSIGNAL": _parse_stopsignal, "SHELL": _parse_shell,
}


#: Where BuildKit mounts a RUN's heredoc script that starts with ``#!`` (run as a file, not through the shell).
HEREDOC_SCRIPT_DIR = "/dev/pipes"


def heredoc_command_line(command: RunCommand) -> tuple[list[str], Heredoc | None]:
    """What a RUN with heredocs runs, as BuildKit does (the SHELL still goes first when ``prepend_shell``).

    ``RUN <<EOF`` alone runs the heredoc's content as the shell's command line; when that content starts with
    ``#!`` the result names a script file (``/dev/pipes/EOF``, returned with the heredoc: the executor makes it,
    mode 0755, and runs it). Anything else (``RUN <<EOF bash``, several heredocs) is handed whole to the shell,
    heredocs included, which reads them itself. Without heredocs: the command as it is.
    """
    if not command.heredocs or not command.prepend_shell or len(command.command) != 1:
        return list(command.command), None
    line = command.command[0]
    if len(command.heredocs) == 1 and heredoc_words([line]) == [0] and " " not in line.strip():
        heredoc = command.heredocs[0]
        if heredoc.content.startswith("#!"):
            return [f"{HEREDOC_SCRIPT_DIR}/{heredoc.name}"], heredoc
        return [heredoc.content], None
    return [line + "".join(f"\n{heredoc.content}{heredoc.name}" for heredoc in command.heredocs)], None


def parse_trigger(text: str) -> Command:
    """An ONBUILD trigger of the base image, as a child build runs it; Docker's messages, without a line."""
    instruction = parse_instruction(text)
    if instruction.keyword == "ONBUILD":
        raise InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if instruction.keyword in _TRIGGER_REFUSED:
        raise InvalidParameter(f"{instruction.keyword} isn't allowed as an ONBUILD trigger")
    parser = _PARSERS[instruction.keyword]
    return parser(instruction)


def commands_of(instructions: list[Instruction]) -> list[Command]:
    """Every instruction's typed command, in order (the first bad one raises, as Docker)."""
    return [parse_command(instruction) for instruction in instructions]


# --------------------------------------------------------------------------- expansion


def expand_command(command: Command, lexer: ShellLexer, env: Mapping[str, str]) -> Command:
    """The command with its variables expanded where Docker expands them.

    ADD/COPY (sources, dest, --chown, --chmod, --checksum; heredoc content unless its name was quoted),
    ENV and LABEL (keys and values), ARG (names and defaults), EXPOSE (split into words, as Docker:
    ``EXPOSE $PORTS``), FROM (image and --platform), USER, VOLUME, WORKDIR, STOPSIGNAL, RUN's
    ``--mount`` values. RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD are kept as
    written (the shell, or the child build, expands them). ``env`` is the step's environment: the
    image's ENV over the build args in scope, as the executor keeps it.
    """
    def word(text: str) -> str:
        return lexer.process_word(text, env)

    def optional(text: str | None) -> str | None:
        return None if text is None else word(text)

    if isinstance(command, CopyCommand):
        raw = ShellLexer(lexer.escape, process_quotes=False)
        heredocs = tuple(replace(heredoc, content=raw.process_word(heredoc.content, env)) if heredoc.expand
                         else heredoc for heredoc in command.heredocs)
        changes: dict[str, object] = {
            "sources": [word(source) for source in command.sources], "dest": word(command.dest),
            "chown": optional(command.chown), "chmod": optional(command.chmod), "heredocs": heredocs}
        if isinstance(command, AddCommand):
            changes["checksum"] = optional(command.checksum)
        return replace(command, **changes)  # type: ignore[arg-type]
    if isinstance(command, EnvCommand):
        pairs = [(word(key), word(value)) for key, value in command.pairs]
        for key, value in pairs:
            if key == "":
                raise InvalidParameter(f"invalid environment variable: ={value}")
        return replace(command, pairs=pairs)
    if isinstance(command, LabelCommand):
        return replace(command, pairs=[(word(key), word(value)) for key, value in command.pairs])
    if isinstance(command, ArgCommand):
        return replace(command, pairs=[(word(key), optional(value)) for key, value in command.pairs])
    if isinstance(command, ExposeCommand):
        return replace(command, ports=[port for text in command.ports for port in lexer.process_words(text, env)])
    if isinstance(command, FromCommand):
        return replace(command, image=word(command.image), platform=word(command.platform))
    if isinstance(command, UserCommand):
        return replace(command, user=word(command.user))
    if isinstance(command, WorkdirCommand):
        path = word(command.path)
        if path == "":
            raise InvalidParameter("cannot normalize nothing")
        return replace(command, path=path)
    if isinstance(command, VolumeCommand):
        return replace(command, paths=[word(path) for path in command.paths])
    if isinstance(command, StopsignalCommand):
        return replace(command, signal=word(command.signal))
    if isinstance(command, RunCommand) and command.mounts:
        mounts = [replace(mount, target=word(mount.target), source=word(mount.source), id=word(mount.id))
                  for mount in command.mounts]
        return replace(command, mounts=mounts)
    return command


# --------------------------------------------------------------------------- stages

#: Build args every Dockerfile may use without declaring them (never written to history).
PREDEFINED_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                   "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One ``FROM`` and the commands after it.

    ``base`` is the FROM's image as written; ``image`` the same expanded with the meta args (what to use or
    pull); ``base_stage`` the index of the earlier stage it builds on (``FROM build``), else None;
    ``platform`` the expanded ``--platform`` ("" when none). ``commands`` exclude the FROM itself.
    """

    index: int
    name: str | None
    base: str
    image: str
    base_stage: int | None
    platform: str
    from_command: FromCommand
    commands: list[Command]


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    """A Dockerfile's stages, the meta args (ARG before the first FROM) and the stage to build.

    ``meta_args`` maps each meta ARG to its value (the build arg given, else its default; None when it has
    neither), ``meta_commands`` are those ARG commands in order (each is a step of Docker's output),
    ``build_args`` the build args as asked, ``unused_build_args`` the ones no ARG up to the target declares
    (Docker's warning names them, sorted). ``platform_args`` are BuildKit's automatic ones (BUILDPLATFORM,
    TARGETARCH, ...; beyond Docker's classic builder): usable in FROM, and in a stage once declared by an ARG
    without a default.
    """

    meta_args: dict[str, str | None]
    meta_commands: list[ArgCommand]
    stages: list[Stage]
    target_index: int
    build_args: dict[str, str | None]
    unused_build_args: list[str]
    escape: str = "\\"
    platform_args: dict[str, str] = field(default_factory=dict)

    @property
    def total_steps(self) -> int:
        """Docker's M in ``Step N/M``: the meta ARGs plus every stage's FROM and commands up to the target."""
        return len(self.meta_commands) + sum(1 + len(stage.commands) for stage in self.stages[:self.target_index + 1])

    def arg_values(self, command: ArgCommand) -> list[tuple[str, str | None]]:
        """The values an ARG in a stage gives its names: the build arg, else its default, else the meta arg's."""
        result = []
        for name, default in command.pairs:
            value = self.build_args.get(name)
            if value is None and default is not None:
                value = default
            if value is None:
                value = self.meta_args.get(name)
            if value is None:
                value = self.platform_args.get(name)
            result.append((name, value))
        return result

    def stage_reference(self, stage_index: int, name: str) -> int | None:
        """The earlier stage ``name`` (a stage name or index, as in ``COPY --from``) means, else None (an image)."""
        return _stage_reference(self.stages[:stage_index], name)


def _stage_reference(earlier: list[Stage], name: str) -> int | None:
    lowered = name.lower()
    for stage in earlier:
        if stage.name is not None and stage.name == lowered:
            return stage.index
    if name.isdecimal() and int(name) < len(earlier):
        return int(name)
    return None


def platform_args(platform: str = "") -> dict[str, str]:
    """BuildKit's automatic platform args for a build on this host aiming at ``platform`` ("" = this host's)."""
    build = host_platform_of()
    wanted = parse_platform(platform)
    result = {}
    for prefix, value in (("BUILD", build), ("TARGET", wanted)):
        variant = "" if value.architecture == "arm64" and value.variant == "v8" else value.variant
        result[f"{prefix}PLATFORM"] = "/".join(part for part in (value.os, value.architecture, variant) if part)
        result[f"{prefix}OS"] = value.os
        result[f"{prefix}ARCH"] = value.architecture
        result[f"{prefix}VARIANT"] = variant
    return result


def plan_stages(dockerfile: Dockerfile, build_args: dict[str, str | None], target: str = "",
                platform: str = "") -> BuildPlan:
    """The stages of a parsed Dockerfile, checked as Docker 20.10 checks them before building.

    ``platform`` is the build's ``--platform`` (for BuildKit's automatic TARGET* args).

    Raises ``InvalidParameter``: a bad instruction (Docker's message and line), ``no build stage in current
    context`` (an instruction other than ARG before the first FROM), ``a stage name already used``,
    ``failed to reach build target X in Dockerfile``.
    """
    lexer = ShellLexer(dockerfile.escape)
    automatic = platform_args(platform)
    meta_commands: list[ArgCommand] = []
    meta_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    current: tuple[FromCommand, list[Command]] | None = None
    pending: list[tuple[FromCommand, list[Command]]] = []
    for instruction in dockerfile.instructions:
        command = parse_command(instruction)
        if isinstance(command, FromCommand):
            current = (command, [])
            pending.append(current)
        elif current is None:
            if not isinstance(command, ArgCommand):
                raise InvalidParameter("no build stage in current context")
            meta_commands.append(command)
            env = {**automatic, **{name: value for name, value in meta_args.items() if value is not None}}
            expanded_arg = expand_command(command, lexer, env)
            assert isinstance(expanded_arg, ArgCommand)
            for name, default in expanded_arg.pairs:
                given = build_args.get(name)
                meta_args[name] = given if given is not None else default if default is not None else \
                    automatic.get(name)
        else:
            current[1].append(command)
    meta_env = {**automatic, **{name: value for name, value in meta_args.items() if value is not None}}
    for index, (command, commands) in enumerate(pending):
        if command.stage_name is not None and any(stage.name == command.stage_name for stage in stages):
            raise InvalidParameter("a stage name already used")
        expanded = expand_command(command, lexer, meta_env)
        assert isinstance(expanded, FromCommand)
        if expanded.image == "":
            raise InvalidParameter(f"base name ({command.image}) should not be blank")
        _check_copy_indexes(index, commands)
        base_stage = _stage_reference(stages, expanded.image) if not expanded.image.isdecimal() else None
        stages.append(Stage(index=index, name=command.stage_name, base=command.image, image=expanded.image,
                            base_stage=base_stage, platform=expanded.platform, from_command=command,
                            commands=commands))
    target_index = len(stages) - 1
    if target:
        found = [stage.index for stage in stages if stage.name is not None and stage.name == target.lower()]
        if not found:
            raise InvalidParameter(f"failed to reach build target {target} in Dockerfile")
        target_index = found[0]
    declared = set(meta_args)
    for stage in stages[:target_index + 1]:
        for command in stage.commands:
            if isinstance(command, ArgCommand):
                declared.update(name for name, _ in command.pairs)
    unused = sorted(name for name in build_args
                    if name not in declared and name not in PREDEFINED_ARGS and name not in automatic)
    return BuildPlan(meta_args=meta_args, meta_commands=meta_commands, stages=stages, target_index=target_index,
                     build_args=dict(build_args), unused_build_args=unused, escape=dockerfile.escape,
                     platform_args=automatic)


def _check_copy_indexes(stage_index: int, commands: list[Command]) -> None:
    """``COPY --from=<index>`` naming this stage or a later one: Docker's errors."""
    for command in commands:
        if isinstance(command, CopyCommand) and command.from_stage and command.from_stage.isdecimal():
            wanted = int(command.from_stage)
            if wanted == stage_index:
                raise InvalidParameter(f"invalid from flag value {command.from_stage}: refers to current build stage")
            if wanted > stage_index:
                raise InvalidParameter(f"invalid from flag value {command.from_stage}: index out of bounds")


def stages_needed(plan: BuildPlan) -> list[int]:
    """The indexes of the stages the target depends on (itself included), in order.

    A stage depends on its FROM stage, on the stages its ``COPY --from`` and ``RUN --mount=from=`` name
    (a name or an index of an earlier stage; anything else is an image).
    """
    needed: set[int] = set()
    todo = [plan.target_index]
    while todo:
        index = todo.pop()
        if index in needed:
            continue
        needed.add(index)
        stage = plan.stages[index]
        if stage.base_stage is not None:
            todo.append(stage.base_stage)
        for command in stage.commands:
            for name in _references(command):
                found = plan.stage_reference(index, name)
                if found is not None:
                    todo.append(found)
    return sorted(needed)


def _references(command: Command) -> list[str]:
    """The names a command may take files from (``COPY --from``, ``RUN --mount=from=``)."""
    if isinstance(command, CopyCommand) and command.from_stage:
        return [command.from_stage]
    if isinstance(command, RunCommand):
        return [mount.from_ for mount in command.mounts if mount.from_]
    return []
