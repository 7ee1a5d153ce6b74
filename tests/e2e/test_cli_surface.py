"""The docker CLI surface moor's CLI offers (issue 15, item 5).

Compared, command by command, with ``docker --help`` and each subcommand's ``--help`` of the docker CLI 20.10
(/usr/bin/docker) and 28 (/usr/local/bin/docker) on this machine, for containers, images, networks, volumes,
system, events, inspect and context. What moor lacked and gained, each checked here against the 20.10 CLI's
output, words and exit codes: the global ``-v/--version``, ``--config``, ``-c/--context``, ``-l/--log-level``
(and the TLS flags, accepted); ``completion bash|zsh|fish``; ``context ls/inspect/use/show/create/update/rm``
(kept in the docker CLI's store, so each CLI sees the other's); ``system prune`` and ``system events``;
``network connect --ip6/--link/--link-local-ip/--driver-opt``; the create/run flags checked in
``test_compat_objects.py``. Left as they are: swarm, stack, service, node, secret, config (moor's ``config`` is
its own), plugin, trust and manifest (Docker's swarm and registry tools).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import moor, moord, run_cli  # noqa: F401 - fixture
from moor import __version__
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture
def config_dir(tmp_path) -> Iterator[dict[str, str]]:
    """A docker config directory of the test's own: the environment that points both CLIs at it."""
    env = {"DOCKER_CONFIG": str(tmp_path / "docker-config"), "MOOR_HOST": "", "DOCKER_CONTEXT": ""}
    yield env


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    for key in ("MOOR_HOST", "DOCKER_CONTEXT", "DOCKER_HOST"):
        if not env.get(key):
            env.pop(key, None)
    return env


def cli(*args: str, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``moor ARGS`` in the environment ``env`` (an empty value: unset)."""
    return subprocess.run([sys.executable, "-m", "moor.cli", *args], capture_output=True, text=True, input=input,
                          timeout=60, env=_env(env))


def test_version_flag_and_global_flags() -> None:
    """``moor --version``/``-v`` print one line as ``docker --version``; a bad ``--log-level`` and ``-H`` with
    ``-c`` are the docker CLI's errors (exit 1); the TLS flags and ``-D`` are accepted."""
    for flag in ("--version", "-v"):
        result = run_cli(flag)
        assert (result.returncode, result.stdout) == (0, f"moor version {__version__}, build {__version__}\n")
    bad = run_cli("-l", "bogus", "ps")
    assert (bad.returncode, bad.stderr) == (1, "Unable to parse logging level: bogus\n")
    both = run_cli("-H", "unix:///nonexistent.sock", "-c", "default", "ps")
    assert (both.returncode, both.stderr) == (1, "Conflicting options: either specify --host or --context, not both\n")
    accepted = run_cli("--tls", "--tlsverify", "--tlscacert", "/x", "-l", "debug", "-D", "--config", "/nonexistent",
                       "--help")
    assert accepted.returncode == 0 and "completion" in accepted.stdout and "context" in accepted.stdout


def test_completion_scripts_and_completing(tmp_path) -> None:
    """``moor completion bash|zsh|fish`` print a script that asks moor itself; completing works for commands,
    subcommands and flags (lazily loaded ones too)."""
    for shell, marker in (("bash", "complete -o nosort -F _moor_completion moor"), ("zsh", "#compdef moor"),
                          ("fish", "complete --no-files --command moor")):
        script = run_cli("completion", shell)
        assert script.returncode == 0 and marker in script.stdout and "_MOOR_COMPLETE" in script.stdout
    listing = run_cli("completion")
    assert listing.returncode == 0 and all(shell in listing.stdout for shell in ("bash", "zsh", "fish"))

    def complete(words: str, index: int) -> list[str]:
        result = run_cli(env={"COMP_WORDS": words, "COMP_CWORD": str(index), "_MOOR_COMPLETE": "bash_complete"})
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]

    assert complete("moor ima", 1) == ["image", "images"]
    assert complete("moor network cr", 2) == ["create"]
    assert "--pid" in complete("moor run --pi", 2)
    if shutil.which("bash"):
        script = tmp_path / "moor.bash"
        script.write_text(run_cli("completion", "bash").stdout)
        checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_contexts(moord: DaemonProcess, config_dir: dict[str, str], docker_cli: str) -> None:
    """``moor context``: the docker CLI 20.10's columns, messages and exit codes; a context moor makes is one the
    docker CLI lists and uses, and ``moor context use`` (or ``-c``) sends moor to it."""
    env = config_dir
    table = cli("context", "ls", env=env).stdout.splitlines()
    assert table[0].split() == ["NAME", "DESCRIPTION", "DOCKER", "ENDPOINT", "KUBERNETES", "ENDPOINT", "ORCHESTRATOR"]
    assert table[1].startswith("default *") and "unix:///run/moor/moor.sock" in table[1]
    made = cli("context", "create", "objctx", "--description", "a moor", "--docker", f"host={moord.host}", env=env)
    assert (made.returncode, made.stdout, made.stderr) == (0, "objctx\n", 'Successfully created context "objctx"\n')
    again = cli("context", "create", "objctx", "--docker", f"host={moord.host}", env=env)
    assert (again.returncode, again.stderr) == (1, 'context "objctx" already exists\n')
    rows = [json.loads(line) for line in cli("context", "ls", "--format", "{{json .}}", env=env).stdout.splitlines()]
    assert [(row["Name"], row["Current"], row["DockerEndpoint"]) for row in rows][1] == ("objctx", False, moord.host)
    assert cli("-c", "objctx", "images", "--format", "{{.Repository}}", env=env).stdout == "busybox\n"
    used = cli("context", "use", "objctx", env=env)
    assert (used.stdout, used.stderr) == ("objctx\n", 'Current context is now "objctx"\n')
    assert cli("images", "--format", "{{.Repository}}", env=env).stdout == "busybox\n"
    assert cli("context", "show", env=env).stdout == "objctx\n"
    [shown] = json.loads(cli("context", "inspect", env=env).stdout)
    assert shown["Endpoints"]["docker"] == {"Host": moord.host, "SkipTLSVerify": False}
    assert shown["Metadata"] == {"Description": "a moor"}
    docker_env = _env(env)
    listed = subprocess.run([docker_cli, "context", "ls", "-q"], capture_output=True, text=True, env=docker_env)
    assert listed.stdout.split() == ["default", "objctx"]
    by_docker = subprocess.run([docker_cli, "images", "--format", "{{.Repository}}"], capture_output=True,
                               text=True, env=docker_env, timeout=60)
    assert by_docker.stdout == "busybox\n", by_docker.stderr
    in_use = cli("context", "rm", "objctx", env=env)
    assert (in_use.returncode, in_use.stderr) == (1, "objctx: context is in use, set -f flag to force remove\n")
    missing = cli("context", "inspect", "nope", env=env)
    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "[]\n", 'context "nope" does not exist\n')
    assert cli("context", "use", "default", env=env).returncode == 0
    removed = cli("context", "rm", "objctx", "default", env=env)
    assert (removed.returncode, removed.stdout, removed.stderr) == (
        1, "objctx\n", "default: default context cannot be removed\n")


def test_system_prune_and_events(moord: DaemonProcess) -> None:
    """``system prune`` as the docker CLI 20.10: its warning, the sections of what went, the total; ``--volumes``
    with ``until`` refused in its words; ``system events`` is ``events``."""
    refused = moor(moord, "system", "prune", input="n\n")
    assert refused.stdout == ("WARNING! This will remove:\n  - all stopped containers\n"
                              "  - all networks not used by at least one container\n  - all dangling images\n"
                              "  - all dangling build cache\n\nAre you sure you want to continue? [y/N] ")
    assert "  - all volumes not used by at least one container\n" in moor(
        moord, "system", "prune", "--volumes", input="n\n").stdout
    moor(moord, "network", "create", "objprune")
    moor(moord, "create", "--name", "objprunec", "busybox", "true")
    moor(moord, "volume", "create", "objprunev")
    pruned = moor(moord, "system", "prune", "-f", "--volumes")
    assert pruned.returncode == 0
    assert "Deleted Containers:\n" in pruned.stdout and "Deleted Networks:\nobjprune\n\n" in pruned.stdout
    assert "Deleted Volumes:\nobjprunev\n\n" in pruned.stdout and pruned.stdout.endswith("B\n")
    until = moor(moord, "system", "prune", "-f", "--volumes", "--filter", "until=1h")
    assert (until.returncode, until.stderr) == (1, 'ERROR: The "until" filter is not supported with "--volumes"\n')
    events = moor(moord, "system", "events", "--since", "5m", "--until", "0s", "--filter", "type=network",
                  "--format", "{{.Type}} {{.Action}}")
    assert events.returncode == 0 and "network destroy" in events.stdout


def test_network_connect_flags(moord: DaemonProcess) -> None:
    """``network connect`` takes the 20.10 CLI's ``--ip6``, ``--link``, ``--link-local-ip`` and ``--driver-opt``."""
    moor(moord, "network", "create", "--ipv6", "--subnet", "10.126.9.0/24", "--subnet", "fd00:6a:9::/64", "objnc")
    moor(moord, "create", "--name", "objncc", "busybox", "true")
    try:
        result = moor(moord, "network", "connect", "--ip", "10.126.9.9", "--ip6", "fd00:6a:9::9", "--driver-opt",
                      "a=b", "objnc", "objncc")
        assert result.returncode == 0, result.stderr
        settings = json.loads(moor(moord, "inspect", "-f", "{{json .NetworkSettings.Networks.objnc}}",
                                   "objncc").stdout)
        assert settings["IPAMConfig"] == {"IPv4Address": "10.126.9.9", "IPv6Address": "fd00:6a:9::9"}
    finally:
        moor(moord, "rm", "-f", "objncc")
        moor(moord, "network", "rm", "objnc")


def test_network_create_flags_and_container_subcommands(moord: DaemonProcess) -> None:
    """``network create`` takes the 20.10 CLI's ``--ipam-opt`` (kept in IPAM.Options), ``--ipam-driver``, ``--scope``,
    ``--ingress``, ``--config-only``/``--config-from`` with Docker's refusals on a host without swarm;
    ``network inspect --verbose``; ``moor container`` has the 20.10 CLI's commit, diff, exec, attach and port."""
    swarm = moor(moord, "network", "create", "--scope", "swarm", "objsw")
    assert (swarm.returncode, swarm.stderr) == (
        1, "Error response from daemon: cannot create a swarm scoped network when swarm is not active\n")
    ingress = moor(moord, "network", "create", "--ingress", "objing")
    assert ingress.stderr == "Error response from daemon: Ingress network can only be global scope network\n"
    plugin = moor(moord, "network", "create", "--ipam-driver", "foo", "objipam")
    assert plugin.stderr == 'Error response from daemon: plugin "foo" not found\n'
    moor(moord, "network", "create", "--ipam-opt", "a=b", "--subnet", "10.126.10.0/24", "objopt")
    try:
        shown = moor(moord, "network", "inspect", "--verbose", "-f", "{{json .IPAM.Options}}", "objopt")
        assert shown.stdout == '{"a":"b"}\n'
    finally:
        moor(moord, "network", "rm", "objopt")
    listed = moor(moord, "container", "--help").stdout
    for command in ("attach", "commit", "diff", "exec", "port"):
        assert f"\n  {command} " in listed
    moor(moord, "container", "run", "-d", "--name", "objsub", "busybox", "sleep", "30")
    try:
        assert moor(moord, "container", "exec", "objsub", "echo", "hi").stdout == "hi\n"
        assert moor(moord, "container", "port", "objsub").returncode == 0
    finally:
        moor(moord, "rm", "-f", "objsub")


def test_rm_link_and_update_flags_are_sent_as_the_docker_cli_sends_them() -> None:
    """``rm -l/--link`` and ``update --cpu-rt-period/--cpu-rt-runtime/--kernel-memory`` exist as in the 20.10 CLI."""
    assert "-l, --link" in run_cli("rm", "--help").stdout
    update_help = run_cli("update", "--help").stdout
    for flag in ("--cpu-rt-period", "--cpu-rt-runtime", "--kernel-memory"):
        assert flag in update_help
    bad = run_cli("-H", "unix:///nonexistent.sock", "update", "--kernel-memory", "lots", "x")
    assert bad.returncode == 125 and "kernel-memory" in bad.stderr


DOCKER_20_10 = "/usr/bin/docker"


def comparable(command: list[str], output: str) -> str:
    """``output`` without what each call measures anew: top's C column (the process's CPU share over its lifetime,
    asked of ps at each call) becomes ``*`` (its width kept)."""
    if command[0] != "top":
        return output
    header, *rows = output.split("\n")
    return "\n".join([header, *(re.sub(r"^(\S+\s+\S+\s+\S+\s+)\d+", lambda m: m[1] + "*" * (len(m[0]) - len(m[1])), row)
                                for row in rows)])


@pytest.mark.skipif(not os.path.exists(DOCKER_20_10), reason="the docker CLI 20.10 is not installed")
def test_tables_print_as_the_docker_cli_20_10_prints_them(moord: DaemonProcess) -> None:
    """Against the same moord, these print byte for byte what the docker CLI 20.10 prints (network ls sorted by
    name, minimum column widths, top's 20-wide columns, ``system df -v`` with its containers and volumes, ``info``
    with its Client section, Swarm, runc version, Registry, Labels, Experimental, Insecure Registries)."""
    moor(moord, "network", "create", "objtab2")
    moor(moord, "network", "create", "objtab10")
    moor(moord, "volume", "create", "objtabv")
    moor(moord, "run", "-d", "--name", "objtabc", "-v", "objtabv:/data", "busybox", "sleep", "60")
    env = {**os.environ, "DOCKER_HOST": moord.host, "DOCKER_CONFIG": moord.root}
    try:
        for command in (["network", "ls"], ["network", "ls", "--no-trunc"], ["volume", "ls"], ["top", "objtabc"],
                        ["info"],
                        ["history", "busybox"], ["system", "df"], ["system", "df", "-v"], ["images"],
                        ["container", "ls", "--format", "{{.Names}} {{.Image}} {{.Command}}"]):
            for _ in range(3):  # a second boundary between the two runs changes "N seconds ago"
                theirs = subprocess.run([DOCKER_20_10, *command], capture_output=True, text=True, env=env, timeout=60)
                ours = moor(moord, *command, env={"DOCKER_CONFIG": moord.root})
                if comparable(command, ours.stdout) == comparable(command, theirs.stdout):
                    break
            assert comparable(command, ours.stdout) == comparable(command, theirs.stdout), command
    finally:
        moor(moord, "rm", "-f", "objtabc")
        moor(moord, "volume", "rm", "objtabv")
        moor(moord, "network", "rm", "objtab2", "objtab10")


def test_messages_and_exit_codes_of_the_docker_cli_20_10(moord: DaemonProcess) -> None:
    """Checked against the docker CLI 20.10 (and 28, which agrees): ``start`` ends with ``Error: failed to start
    containers: a, b``; ``rename`` with ``Error: failed to rename container named a``; ``inspect --type foo``
    exits 1; ``logs``/``events`` parse ``--since``/``--until`` as the CLI does (Go durations, unix times, dates
    sent as seconds), refusing anything else in its words."""
    started = moor(moord, "start", "objnope1", "objnope2")
    assert (started.returncode, started.stderr) == (1, "Error response from daemon: No such container: objnope1\n"
                                                       "Error response from daemon: No such container: objnope2\n"
                                                       "Error: failed to start containers: objnope1, objnope2\n")
    renamed = moor(moord, "rename", "objnope1", "x")
    assert (renamed.returncode, renamed.stderr) == (1, "Error response from daemon: No such container: objnope1\n"
                                                       "Error: failed to rename container named objnope1\n")
    typed = moor(moord, "inspect", "--type", "foo", "x")
    assert (typed.returncode, typed.stderr) == (1, '"foo" is not a valid value for --type\n')
    moor(moord, "run", "--name", "objlogs", "busybox", "echo", "logged")
    try:
        for since in ("1h30m", "1.5", "2020-01-02", "2020-01-02T03:04:05Z"):
            result = moor(moord, "logs", "--since", since, "objlogs")
            assert (result.returncode, result.stdout) == (0, "logged\n"), since
        bad = moor(moord, "logs", "--until", "foo", "objlogs")
        assert (bad.returncode, bad.stderr) == (
            1, 'invalid value for "until": failed to parse value as time or duration: "foo"\n')
        bad = moor(moord, "events", "--since", "foo")
        assert (bad.returncode, bad.stderr) == (1, 'failed to parse value as time or duration: "foo"\n')
    finally:
        moor(moord, "rm", "-f", "objlogs")


def test_version_shows_what_the_docker_cli_20_10_shows(moord: DaemonProcess, tmp_path) -> None:
    """``moor version``: the client's Git commit, Built, Context and Experimental lines and JSON keys as the
    docker CLI 20.10's (its ``{{json .Client}}`` key order), the server's Git commit and Built lines."""
    shown = moor(moord, "version").stdout.splitlines()
    assert [line.split(":")[0] for line in shown[:9]] == [
        "Client", " Version", " API version", " Go version", " Git commit", " Built", " OS/Arch", " Context",
        " Experimental"]
    assert "  Git commit:       " in shown and "  Built:            " in shown
    client = json.loads(moor(moord, "version", "--format", "{{json .Client}}",
                             env={"DOCKER_CONFIG": str(tmp_path)}).stdout)
    assert list(client) == ["Platform", "Version", "ApiVersion", "DefaultAPIVersion", "GitCommit", "GoVersion", "Os",
                            "Arch", "BuildTime", "Context", "Experimental"]
    assert client["Context"] == "default"


def test_tag_checks_both_names_as_the_docker_cli_20_10() -> None:
    """``tag`` checks the source, then the target, before asking the daemon, in the 20.10 CLI's words (exit 1)."""
    for source, target, shown in (("busybox", "Bad:tag", "Bad:tag"), ("Bad", "x", "Bad"), ("busybox", "a b", "a b")):
        result = run_cli("-H", "unix:///nonexistent.sock", "tag", source, target)
        reason = "invalid reference format" + (": repository name must be lowercase" if "B" in shown else "")
        assert (result.returncode, result.stderr) == (
            1, f'Error parsing reference: "{shown}" is not a valid repository/tag: {reason}\n')


def test_no_command_and_an_unknown_one() -> None:
    """``moor`` alone prints the help and exits 0; ``moor nosuch`` is the docker CLI's ``'x' is not a docker
    command`` line (exit 1)."""
    alone = run_cli()
    assert alone.returncode == 0 and "Usage: moor" in alone.stdout and "context" in alone.stdout
    unknown = run_cli("nosuch")
    assert (unknown.returncode, unknown.stderr) == (1, "moor: 'nosuch' is not a moor command.\nSee 'moor --help'\n")
