"""Typed commands: each instruction's fields, flags and Docker's messages for bad ones."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import pytest

from moor.build.dockerfile import parse_dockerfile
from moor.build.instructions import (
    AddCommand,
    ArgCommand,
    BuildPlan,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    FromCommand,
    HealthcheckCommand,
    LabelCommand,
    MaintainerCommand,
    OnbuildCommand,
    RunCommand,
    RunMount,
    ShellCommand,
    StopsignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
    expand_command,
    heredoc_command_line,
    parse_command,
    parse_mount,
    parse_trigger,
    plan_stages,
    platform_args,
    stages_needed,
)
from moor.build.runmount import mount_target
from moor.build.shell_lexer import ShellLexer
from moor.errors import InvalidParameter


def command(line: str) -> Command:
    """The typed command of one instruction written after a FROM."""
    return parse_command(parse_dockerfile(f"FROM scratch\n{line}\n").instructions[1])


def test_from_forms() -> None:
    first = parse_command(parse_dockerfile("FROM --platform=linux/arm64 busybox:1 AS Build\n").instructions[0])
    assert first == FromCommand(image="busybox:1", stage_name="build", platform="linux/arm64", line=1,
                                original="FROM --platform=linux/arm64 busybox:1 AS Build")
    plain = parse_command(parse_dockerfile("FROM busybox\n").instructions[0])
    assert isinstance(plain, FromCommand) and plain.stage_name is None and plain.platform == ""


def test_run_shell_and_exec_forms() -> None:
    shell = command("RUN echo $HOME && true")
    assert isinstance(shell, RunCommand)
    assert shell.command == ["echo $HOME && true"] and shell.prepend_shell and shell.line == 2
    exec_form = command('RUN ["echo", "a b"]')
    assert isinstance(exec_form, RunCommand) and exec_form.command == ["echo", "a b"] and not exec_form.prepend_shell
    assert command("RUN --network=none true") == RunCommand(
        command=["true"], network="none", line=2, original="RUN --network=none true")


def test_run_mounts() -> None:
    run = command("RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=tok "
                  "--mount=type=bind,from=build,source=/out,target=/in,rw --mount=type=tmpfs,target=/t,size=64m true")
    assert isinstance(run, RunCommand)
    cache, secret, bind, tmpfs = run.mounts
    assert cache == RunMount(type="cache", target="/root/.cache", id="/root/.cache", sharing="shared",
                             readonly=False)
    assert secret == RunMount(type="secret", target="/run/secrets/tok", id="tok", readonly=True)
    assert bind == RunMount(type="bind", source="/out", target="/in", from_="build", readonly=False)
    assert tmpfs.size == 64 * 1024 * 1024 and not tmpfs.readonly


def test_mount_options() -> None:
    mount = parse_mount("type=cache,id=x,target=/c,sharing=locked,mode=0700,uid=1000,gid=100,ro")
    assert (mount.id, mount.sharing, mount.mode, mount.uid, mount.gid, mount.readonly) == (
        "x", "locked", 0o700, 1000, 100, True)
    assert parse_mount("type=secret,id=a,required").required
    assert parse_mount("target=/x,src=y").source == "y"
    assert parse_mount("type=bind,target=${T}", expand=lambda word: word.replace("${T}", "/t")).target == "/t"


@pytest.mark.parametrize(("value", "message"), [
    ("type=nope,target=/x", 'unsupported mount type "nope"'),
    ("target=/x,foo=1", "unexpected key 'foo' in 'foo=1'"),
    ("target=/x,bare", "invalid field 'bare' must be a key=value pair"),
    ("target=/x,required", "unexpected key 'required' for mount type 'bind'"),
    ("type=cache,target=/x,sharing=odd", 'unsupported sharing value "odd"'),
    ("type=cache,target=/x,mode=9", "invalid value 9 for mode"),
    ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
    ("target=/x,mode=0755", 'mode not allowed for "bind" type mounts'),
    ("target=/x,ro=maybe", "invalid value for ro: maybe"),
    ("type=secret,id=a,from=x", "secret mount should not have a from"),
    ("type=secret", "invalid secret mount. one of source, target required"),
    ("type=secret,id=a,source=b", "both source and id can't be set"),
    ("target=/x,sharing=shared", "invalid cache sharing set for bind mount"),
    ("target=/x,size=1m", "unexpected key 'size' for mount type 'bind'"),
    ("type=bind,from=$STAGE,target=/x", "'from' doesn't support variable expansion, define alias stage instead"),
])
def test_mount_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_mount(value)
    assert str(caught.value) == message


def test_mount_defaults_and_targets() -> None:
    cache = parse_mount("type=cache,target=/root/.cache/")
    assert cache.id == "/root/.cache"
    secret = parse_mount("type=secret,target=/etc/token")
    assert (secret.id, secret.target) == ("token", "/etc/token")
    assert parse_mount("type=secret,source=dir/key").target == "/run/secrets/key"
    assert mount_target(parse_mount("type=cache,target=cache"), "/app") == "/app/cache"
    assert mount_target(parse_mount("type=tmpfs"), "/app") == "/app"
    assert mount_target(parse_mount("type=bind,target=/x/../y/"), "/app") == "/y"
    with pytest.raises(InvalidParameter, match='^invalid mount target "/"$'):
        mount_target(parse_mount("type=tmpfs"), "/")


def test_copy_and_add() -> None:
    text = "COPY --from=build --chown=1:2 --chmod=0755 --link a b* /dst/"
    assert command(text) == CopyCommand(sources=["a", "b*"], dest="/dst/", from_stage="build", chown="1:2",
                                        chmod="0755", link=True, line=2, original=text)
    json_copy = command('COPY ["a b", "/c d/"]')
    assert isinstance(json_copy, CopyCommand) and json_copy.sources == ["a b"] and json_copy.dest == "/c d/"
    add = command("ADD --checksum=sha256:abc --keep-git-dir=true --link=false http://x/y /z")
    assert isinstance(add, AddCommand)
    assert (add.checksum, add.keep_git_dir, add.link, add.sources) == ("sha256:abc", True, False, ["http://x/y"])


def test_copy_heredoc_sources_are_in_heredocs() -> None:
    copy = parse_command(parse_dockerfile("FROM a\nCOPY <<EOF a /dst/\nhello\nEOF\n").instructions[1])
    assert isinstance(copy, CopyCommand)
    assert copy.sources == ["a"] and copy.dest == "/dst/"
    assert [(h.name, h.content) for h in copy.heredocs] == [("EOF", "hello\n")]


def test_config_commands() -> None:
    assert command('CMD ["sh"]') == CmdCommand(command=["sh"], prepend_shell=False, line=2, original='CMD ["sh"]')
    assert command("CMD") == CmdCommand(command=[], prepend_shell=True, line=2, original="CMD")
    assert command("ENTRYPOINT top -b") == EntrypointCommand(command=["top -b"], line=2,
                                                           original="ENTRYPOINT top -b")
    assert command('ENV A=1 B="two words"') == EnvCommand(pairs=[("A", "1"), ("B", '"two words"')], line=2,
                                                          original='ENV A=1 B="two words"')
    legacy = command("ENV A one two")
    assert isinstance(legacy, EnvCommand) and legacy.pairs == [("A", "one two")]
    arg = command("ARG A B=2 C=")
    assert isinstance(arg, ArgCommand) and arg.pairs == [("A", None), ("B", "2"), ("C", "")]
    label = command('LABEL "a b"="c" d=e')
    assert isinstance(label, LabelCommand) and label.pairs == [('"a b"', '"c"'), ("d", "e")]
    assert isinstance(command("MAINTAINER Jane Doe <j@x>"), MaintainerCommand)
    expose = command("EXPOSE 90 80/udp 8080")
    assert isinstance(expose, ExposeCommand) and expose.ports == ["80/udp", "8080", "90"]
    volume = command('VOLUME ["/a", "/b"]')
    assert isinstance(volume, VolumeCommand) and volume.paths == ["/a", "/b"]
    assert isinstance(command("VOLUME /a /b"), VolumeCommand)
    workdir = command("WORKDIR /a b")
    assert isinstance(workdir, WorkdirCommand) and workdir.path == "/a b"
    user = command("USER app:app")
    assert isinstance(user, UserCommand) and user.user == "app:app"
    assert isinstance(command("STOPSIGNAL SIGKILL"), StopsignalCommand)
    shell = command('SHELL ["/bin/bash", "-c"]')
    assert isinstance(shell, ShellCommand) and shell.shell == ["/bin/bash", "-c"]


def test_onbuild_expression() -> None:
    onbuild = command("onbuild   RUN echo hi")
    assert isinstance(onbuild, OnbuildCommand) and onbuild.expression == "RUN echo hi"


def test_healthcheck() -> None:
    check = command("HEALTHCHECK --interval=5s --timeout=1m30s --start-period=100ms --retries=3 CMD curl -f x")
    assert check == HealthcheckCommand(
        test=["CMD-SHELL", "curl -f x"], interval=5_000_000_000, timeout=90_000_000_000, start_period=100_000_000,
        retries=3, line=2,
        original="HEALTHCHECK --interval=5s --timeout=1m30s --start-period=100ms --retries=3 CMD curl -f x")
    exec_form = command('HEALTHCHECK CMD ["true", "x"]')
    assert isinstance(exec_form, HealthcheckCommand) and exec_form.test == ["CMD", "true", "x"]
    none = command("HEALTHCHECK NONE")
    assert isinstance(none, HealthcheckCommand) and none.test is None


@pytest.mark.parametrize(("line", "message"), [
    ("FOO bar", "unknown instruction: FOO"),
    ("COPY --foo=1 a b", "Unknown flag: foo"),
    ("COPY --from=a --from=b x y", "Duplicate flag specified: from"),
    ("COPY --from a b c", "Missing a value on flag: from"),
    ("COPY --link=maybe a b", "expecting boolean value for flag link, not: maybe"),
    ("RUN --network=bridge true", 'invalid network mode "bridge"'),
    ("RUN --security=odd true", 'security "odd" is not valid'),
    ("COPY a", "COPY requires at least two arguments, but only one was provided. Destination could not be "
               "determined"),
])
def test_errors_name_the_line(line: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        command(line)
    assert str(caught.value) == f"dockerfile parse error line 2: {message}"


# --------------------------------------------------------------------------- expansion

ENV = {"DIR": "/app", "PORTS": "80 443/udp", "USER": "app", "Q": "quoted"}


def expanded(line: str, env: dict[str, str] | None = None) -> Command:
    lexer = ShellLexer()
    return expand_command(command(line), lexer, ENV if env is None else env)


def test_expansion_where_docker_expands() -> None:
    copy = expanded("COPY --chown=$USER:$USER $DIR/a ${DIR}/b $DIR/")
    assert isinstance(copy, CopyCommand)
    assert (copy.sources, copy.dest, copy.chown) == (["/app/a", "/app/b"], "/app/", "app:app")
    env = expanded('ENV A=$DIR B="x $Q" C=\'$Q\'')
    assert isinstance(env, EnvCommand) and env.pairs == [("A", "/app"), ("B", "x quoted"), ("C", "$Q")]
    label = expanded('LABEL "k $Q"=$DIR')
    assert isinstance(label, LabelCommand) and label.pairs == [("k quoted", "/app")]
    expose = expanded("EXPOSE $PORTS 8080")
    assert isinstance(expose, ExposeCommand) and expose.ports == ["80", "443/udp", "8080"]
    assert isinstance(w := expanded("WORKDIR $DIR/sub"), WorkdirCommand) and w.path == "/app/sub"
    assert isinstance(u := expanded("USER ${USER}:1"), UserCommand) and u.user == "app:1"
    assert isinstance(v := expanded("VOLUME $DIR /data"), VolumeCommand) and v.paths == ["/app", "/data"]
    assert isinstance(s := expanded("STOPSIGNAL ${SIG:-SIGTERM}"), StopsignalCommand) and s.signal == "SIGTERM"
    arg = expanded("ARG X=$DIR Y")
    assert isinstance(arg, ArgCommand) and arg.pairs == [("X", "/app"), ("Y", None)]
    run = expanded("RUN --mount=type=cache,target=$DIR/cache true")
    assert isinstance(run, RunCommand) and run.mounts[0].target == "/app/cache"


def test_no_expansion_where_docker_keeps_the_text() -> None:
    for line in ("RUN echo $DIR", "CMD echo $DIR", "ENTRYPOINT echo $DIR", "HEALTHCHECK CMD echo $DIR",
                 "ONBUILD RUN echo $DIR", "MAINTAINER $USER", 'SHELL ["$DIR"]'):
        assert expanded(line) == command(line)


def test_copy_heredoc_expands_unless_quoted() -> None:
    text = 'FROM a\nCOPY <<EOF <<"RAW" /d/\nhome=$DIR "q"\nEOF\nraw=$DIR\nRAW\n'
    copy = expand_command(parse_command(parse_dockerfile(text).instructions[1]), ShellLexer(), ENV)
    assert isinstance(copy, CopyCommand)
    assert [h.content for h in copy.heredocs] == ['home=/app "q"\n', "raw=$DIR\n"]


def test_expansion_error_in_dockers_words() -> None:
    with pytest.raises(InvalidParameter, match=r'failed to process "\$\{X:\?set X\}": X: set X'):
        expanded("WORKDIR ${X:?set X}")


# --------------------------------------------------------------------------- stages


def plan(text: str, build_args: dict[str, str | None] | None = None, target: str = "", platform: str = "") -> BuildPlan:
    return plan_stages(parse_dockerfile(text), build_args or {}, target, platform)


MULTI = """\
ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS deps
RUN echo deps
FROM busybox AS Tools
ARG TAG
FROM deps AS build
COPY --from=tools /bin/x /x
RUN --mount=type=bind,from=1,target=/t true
FROM scratch AS unrelated
FROM build
COPY --from=0 /a /b
"""


def test_stages_and_meta_args() -> None:
    built = plan(MULTI, {"TAG": "1.36"})
    assert built.meta_args == {"BASE": "busybox", "TAG": "1.36"}
    assert [(s.index, s.name, s.base, s.image, s.base_stage) for s in built.stages] == [
        (0, "deps", "${BASE}:${TAG:-latest}", "busybox:1.36", None),
        (1, "tools", "busybox", "busybox", None),
        (2, "build", "deps", "deps", 0),
        (3, "unrelated", "scratch", "scratch", None),
        (4, None, "build", "build", 2)]
    assert built.target_index == 4
    assert built.total_steps == 2 + 12 - 2
    assert isinstance(built.stages[2].commands[0], CopyCommand)
    assert stages_needed(built) == [0, 1, 2, 4]


def test_target_and_its_needs() -> None:
    built = plan(MULTI, target="Tools")
    assert built.target_index == 1 and stages_needed(built) == [1]
    assert built.meta_args == {"BASE": "busybox", "TAG": None}
    assert stages_needed(plan(MULTI, target="build")) == [0, 1, 2]


def test_unknown_target() -> None:
    with pytest.raises(InvalidParameter, match="^failed to reach build target nope in Dockerfile$"):
        plan(MULTI, target="nope")


def test_arg_scoping_and_unused_build_args() -> None:
    text = "ARG V=meta\nARG ONLY_META\nFROM scratch\nARG V\nARG W=dflt\nARG Z\n"
    built = plan(text, {"W": "given", "HTTP_PROXY": "http://p", "EXTRA": "1", "AB": None, "ONLY_META": "m"})
    arg_v, arg_w, arg_z = built.stages[0].commands
    assert isinstance(arg_v, ArgCommand) and built.arg_values(arg_v) == [("V", "meta")]
    assert isinstance(arg_w, ArgCommand) and built.arg_values(arg_w) == [("W", "given")]
    assert isinstance(arg_z, ArgCommand) and built.arg_values(arg_z) == [("Z", None)]
    assert built.unused_build_args == ["AB", "EXTRA"]


def test_stage_reference_only_looks_back() -> None:
    built = plan("FROM scratch AS a\nCOPY --from=b x y\nFROM scratch AS b\nCOPY --from=a x y\n")
    assert built.stage_reference(0, "b") is None
    assert built.stage_reference(1, "a") == 0 and built.stage_reference(1, "0") == 0
    assert built.stage_reference(1, "1") is None
    assert stages_needed(built) == [0, 1]


@pytest.mark.parametrize(("text", "message"), [
    ("RUN true\n", "no build stage in current context"),
    ("ENV a=b\nFROM scratch\n", "no build stage in current context"),
    ("FROM scratch AS a\nFROM scratch AS a\n", "a stage name already used"),
    ("FROM scratch\nCOPY a\n", "dockerfile parse error line 2: COPY requires at least two arguments, but only one "
                               "was provided. Destination could not be determined"),
])
def test_plan_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        plan(text)
    assert str(caught.value) == message


# --------------------------------------------------------------------------- ONBUILD triggers in a child build


def test_trigger_expressions_as_docker_keeps_them() -> None:
    text = "FROM a\nONBUILD LABEL a=b \\\n   c=d\nONBUILD  label  e=f\nONBUILD RUN <<EOF\necho hi\nEOF\n"
    expressions = [parse_command(i) for i in parse_dockerfile(text).instructions[1:]]
    # Docker 20.10 stored ["LABEL a=b    c=d","label  e=f"] for the first two (docker inspect .Config.OnBuild)
    assert [c.expression for c in expressions if isinstance(c, OnbuildCommand)] == [
        "LABEL a=b    c=d", "label  e=f", "RUN <<EOF\necho hi\nEOF"]
    run = parse_trigger("RUN <<EOF\necho hi\nEOF")
    assert isinstance(run, RunCommand) and run.heredocs[0].content == "echo hi\n"
    label = parse_trigger("label  e=f")
    assert isinstance(label, LabelCommand) and label.pairs == [("e", "f")]


@pytest.mark.parametrize(("trigger", "message"), [
    # Docker 20.10's words when a child build runs a bad trigger (recorded: no line number)
    ("FOO x", "unknown instruction: FOO"),
    ("COPY a", "COPY requires at least two arguments, but only one was provided. Destination could not be "
               "determined"),
    ("ENV =x", "ENV names can not be blank"),
    ("HEALTHCHECK FOO", 'Unknown type "FOO" in HEALTHCHECK (try CMD)'),
    ("RUN --foo true", "Unknown flag: foo"),
    ("ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("from x", "FROM isn't allowed as an ONBUILD trigger"),
])
def test_trigger_errors(trigger: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_trigger(trigger)
    assert str(caught.value) == message


# --------------------------------------------------------------------------- BuildKit beyond the classic builder


def run_of(text: str) -> RunCommand:
    run = parse_command(parse_dockerfile(f"FROM a\n{text}").instructions[1])
    assert isinstance(run, RunCommand)
    return run


def test_heredoc_command_lines() -> None:
    assert heredoc_command_line(run_of("RUN echo hi\n")) == (["echo hi"], None)
    assert heredoc_command_line(run_of("RUN <<EOF\necho a\necho b\nEOF\n")) == (["echo a\necho b\n"], None)
    assert heredoc_command_line(run_of("RUN <<-EOF\n\techo a\n\tEOF\n")) == (["echo a\n"], None)
    line, script = heredoc_command_line(run_of("RUN <<run.py\n#!/usr/bin/env python3\nprint(1)\nrun.py\n"))
    assert line == ["/dev/pipes/run.py"] and script is not None and script.content.startswith("#!")
    assert heredoc_command_line(run_of("RUN <<EOF bash\necho $0\nEOF\n")) == (["<<EOF bash\necho $0\nEOF"], None)
    assert heredoc_command_line(run_of("RUN cat <<A <<B\n1\nA\n2\nB\n")) == (["cat <<A <<B\n1\nA\n2\nB"], None)


def test_copy_heredoc_cannot_be_the_destination() -> None:
    with pytest.raises(InvalidParameter, match="line 2: COPY cannot accept a heredoc as a destination$"):
        parse_command(parse_dockerfile("FROM a\nCOPY /foo <<EOF\nEOF\n").instructions[1])


def test_platform_args_in_from_and_declared_in_stages() -> None:
    text = "FROM --platform=$BUILDPLATFORM busybox:$TARGETARCH\nARG TARGETARCH\nARG TARGETOS=mine\nARG BUILDOS\n"
    built = plan(text, {}, platform="linux/arm64")
    assert built.stages[0].image == "busybox:arm64"
    assert built.stages[0].platform == built.platform_args["BUILDPLATFORM"]
    values = [built.arg_values(c) for c in built.stages[0].commands if isinstance(c, ArgCommand)]
    assert values == [[("TARGETARCH", "arm64")], [("TARGETOS", "mine")], [("BUILDOS", "linux")]]
    arm = platform_args("linux/arm/v7")
    assert (arm["TARGETPLATFORM"], arm["TARGETOS"], arm["TARGETARCH"], arm["TARGETVARIANT"]) == (
        "linux/arm/v7", "linux", "arm", "v7")
    assert platform_args("linux/arm64")["TARGETPLATFORM"] == "linux/arm64"
    assert plan("FROM scratch\n", {"TARGETARCH": "x"}).unused_build_args == []


EXPANSIONS = json.loads((Path(__file__).parent / "data" / "docker_expansion.json").read_text())["cases"]


@pytest.mark.parametrize("recorded", EXPANSIONS, ids=["default-escape", "backtick-escape"])
def test_expansion_matches_dockers_image_config(recorded: dict[str, Any]) -> None:
    """ARG/ENV scoping and every expanding instruction, against the config Docker 20.10 made (recorded)."""
    built = plan(recorded["dockerfile"], recorded["build_args"])
    assert built.unused_build_args == recorded["unused_build_args"]
    lexer = ShellLexer(built.escape)
    env: dict[str, str] = {}
    args: dict[str, str] = {}
    config: dict[str, Any] = {"ExposedPorts": {}, "Volumes": {}, "Labels": {}, "WorkingDir": "/"}
    for raw in built.stages[0].commands:
        step = expand_command(raw, lexer, {**args, **env})
        if isinstance(step, ArgCommand):
            args.update((name, value) for name, value in built.arg_values(step) if value is not None)
        elif isinstance(step, EnvCommand):
            env.update(step.pairs)
        elif isinstance(step, LabelCommand):
            config["Labels"].update(step.pairs)
        elif isinstance(step, WorkdirCommand):
            config["WorkingDir"] = posixpath.join(config["WorkingDir"], step.path)
        elif isinstance(step, UserCommand):
            config["User"] = step.user
        elif isinstance(step, ExposeCommand):
            config["ExposedPorts"].update({port if "/" in port else f"{port}/tcp": {} for port in step.ports})
        elif isinstance(step, VolumeCommand):
            config["Volumes"].update({path: {} for path in step.paths})
        elif isinstance(step, StopsignalCommand):
            config["StopSignal"] = step.signal
    config["Env"] = [f"{name}={value}" for name, value in env.items()]
    assert config == recorded["config"]
