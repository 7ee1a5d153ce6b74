"""Typed commands: each instruction's fields, flags and Docker's messages for bad ones."""

from __future__ import annotations

import pytest

from moor.build.dockerfile import parse_dockerfile
from moor.build.instructions import (
    AddCommand,
    ArgCommand,
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
    parse_command,
    parse_mount,
)
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
    ("type=cache", "mount destination (target) is required"),
])
def test_mount_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_mount(value)
    assert str(caught.value) == message


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
