"""Typed Dockerfile commands: one frozen dataclass per instruction, checked as Docker 20.10 checks them.

:func:`parse_command` turns an :class:`~moor.build.dockerfile.Instruction` into its command, refusing bad
flags and arguments with Docker's words (``dockerfile parse error line N: ...``). BuildKit's syntax is
accepted beyond the classic builder (``RUN --mount/--network/--security``, ``COPY --chmod/--link``,
``ADD --checksum/--keep-git-dir``, heredocs). :func:`expand_command` expands variables where Docker does
(never in RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD); the stage planning lives in
:mod:`moor.build.stages`' functions re-exported here (:func:`plan_stages`, :func:`stages_needed`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, TypedDict

from moor.build.dockerfile import Heredoc, Instruction, heredoc_words, parse_error
from moor.build.gotypes import go_parse_duration, go_parse_int
from moor.errors import InvalidParameter

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
class RunMount:
    """One ``RUN --mount=...`` (BuildKit): bind (default), cache, tmpfs or secret.

    ``mode``/``uid``/``gid`` are None when not given; ``readonly`` already has its per-type default (bind
    and secret read-only, cache and tmpfs writable); ``size`` is a tmpfs's limit in bytes (None: none).
    """

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    id: str = ""
    sharing: str = ""
    readonly: bool = True
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None


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
            raise InvalidParameter(f"{instruction.keyword} cannot accept a heredoc as destination")
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


_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING = ("shared", "private", "locked")
_MOUNT_KEYS = ("type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro", "readwrite",
               "rw", "required", "size", "id", "sharing", "mode", "uid", "gid")


def parse_mount(value: str, expand: Callable[[str], str] | None = None) -> RunMount:
    """One ``--mount`` value (CSV ``key=value`` fields) as BuildKit reads it, with its errors.

    ``expand`` expands each value (``${VAR}``); without it values are kept as written.
    """
    fields = _csv_fields(value)
    kind = "bind"
    values: dict[str, str] = {}
    readonly: bool | None = None
    required = False
    for item in fields:
        key, has_value, raw = item.partition("=")
        key = key.lower()
        if not has_value:
            if key in ("readonly", "ro"):
                readonly = True
            elif key in ("readwrite", "rw"):
                readonly = False
            elif key == "required":
                if kind not in ("secret", "ssh"):
                    raise InvalidParameter(f"unexpected key '{key}' for mount type '{kind}'")
                required = True
            else:
                raise InvalidParameter(f"invalid field '{item}' must be a key=value pair")
            continue
        text = expand(raw) if expand is not None else raw
        if key == "type":
            if text.lower() not in _MOUNT_TYPES:
                raise InvalidParameter(f'unsupported mount type "{text}"')
            kind = text.lower()
        elif key in ("readonly", "ro", "readwrite", "rw"):
            parsed = _go_bool(text)
            if parsed is None:
                raise InvalidParameter(f"invalid value for {key}: {text}")
            readonly = parsed if key in ("readonly", "ro") else not parsed
        elif key == "required":
            if kind not in ("secret", "ssh"):
                raise InvalidParameter(f"unexpected key '{key}' for mount type '{kind}'")
            parsed = _go_bool(text)
            if parsed is None:
                raise InvalidParameter(f"invalid value for {key}: {text}")
            required = parsed
        elif key == "size" and kind != "tmpfs":
            raise InvalidParameter(f"unexpected key '{key}' for mount type '{kind}'")
        elif key == "sharing" and text.lower() not in _SHARING:
            raise InvalidParameter(f'unsupported sharing value "{text}"')
        elif key not in _MOUNT_KEYS:
            raise InvalidParameter(f"unexpected key '{key}' in '{item}'")
        else:
            values[{"src": "source", "dst": "target", "destination": "target"}.get(key, key)] = text
    return _mount(kind, values, readonly, required)


def _mount(kind: str, values: dict[str, str], readonly: bool | None, required: bool) -> RunMount:
    """The checked mount from its parsed fields (BuildKit's per-type rules and defaults)."""
    numbers: dict[str, int | None] = {}
    for key, base in (("mode", 8), ("uid", 10), ("gid", 10)):
        numbers[key] = None
        if key in values:
            numbers[key] = _go_uint32(values[key], base)
            if numbers[key] is None:
                raise InvalidParameter(f"invalid value {values[key]} for {key}")
            if kind not in ("secret", "ssh", "cache"):
                raise InvalidParameter(f'{key} not allowed for "{kind}" type mounts')
    size = None
    if "size" in values:
        size = _ram_in_bytes(values["size"])
    sharing = values.get("sharing", "").lower()
    if kind == "secret":
        if values.get("from"):
            raise InvalidParameter("secret mount should not have a from")
        if sharing:
            raise InvalidParameter("secret mount should not define sharing")
        if not values.get("source") and not values.get("target") and not values.get("id"):
            raise InvalidParameter("invalid secret mount. one of source, target required")
        if values.get("source") and values.get("id"):
            raise InvalidParameter("both source and id can't be set")
    if sharing and kind != "cache":
        raise InvalidParameter(f"invalid cache sharing set for {kind} mount")
    if readonly is None:
        readonly = kind not in ("cache", "tmpfs")
    target = values.get("target", "")
    mount_id = values.get("id", "")
    if kind == "secret":
        mount_id = mount_id or values.get("source", "") or target.rstrip("/").rsplit("/", 1)[-1]
        target = target or f"/run/secrets/{mount_id}"
    elif kind == "cache":
        sharing = sharing or "shared"
    if not target and kind != "ssh":
        raise InvalidParameter("mount destination (target) is required")
    if kind == "cache" and not mount_id:
        mount_id = target
    return RunMount(type=kind, target=target, source=values.get("source", ""), from_=values.get("from", ""),
                    id=mount_id, sharing=sharing, readonly=readonly, mode=numbers["mode"], uid=numbers["uid"],
                    gid=numbers["gid"], required=required, size=size)


def _go_uint32(text: str, base: int) -> int | None:
    """Go's strconv.ParseUint(text, base, 32); None when it is not one."""
    digits = "01234567" if base == 8 else "0123456789"
    if not text or any(char not in digits for char in text):
        return None
    value = int(text, base)
    return value if value < 1 << 32 else None


def _go_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool; None when it is not a boolean."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


_RAM = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmMgGtTpP]?)[iI]?[bB]?$")


def _ram_in_bytes(text: str) -> int:
    """docker/go-units' RAMInBytes: ``64m``, ``1g``, ``512kb`` (binary units)."""
    match = _RAM.match(text.strip())
    if match is None:
        raise InvalidParameter(f"invalid value for size: {text}")
    power = "kmgtp".find(match.group(2).lower()) + 1 if match.group(2) else 0
    return int(float(match.group(1)) * (1024 ** power))


def _csv_fields(value: str) -> list[str]:
    """The fields of a CSV line (``"a,b",c``), as Go's encoding/csv reads one record."""
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    index = 0
    at_start = True
    while index < len(value):
        char = value[index]
        if quoted:
            if char == '"':
                if value[index + 1:index + 2] == '"':
                    current.append('"')
                    index += 1
                else:
                    quoted = False
            else:
                current.append(char)
        elif char == '"' and at_start:
            quoted = True
            at_start = False
        elif char == ",":
            fields.append("".join(current))
            current = []
            at_start = True
        else:
            current.append(char)
            at_start = False
        index += 1
    if quoted:
        raise InvalidParameter('failed to parse csv mounts: parse error: extraneous or missing " in quoted-field')
    fields.append("".join(current))
    return fields


def commands_of(instructions: list[Instruction]) -> list[Command]:
    """Every instruction's typed command, in order (the first bad one raises, as Docker)."""
    return [parse_command(instruction) for instruction in instructions]


def env_mapping(pairs: list[tuple[str, str]]) -> Mapping[str, str]:
    """An ordered mapping of ENV-style pairs (the last value of a repeated name wins)."""
    return dict(pairs)
