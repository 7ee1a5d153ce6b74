"""Volume commands end to end: create/ls/inspect/rm/prune, options, hostile names, in-use refusal, real clients."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import docker
import pytest

from e2e.containerhelpers import moor, moord, mounts_under  # noqa: F401 - fixture
from moor.client import DaemonError
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

ANONYMOUS = "com.docker.volume.anonymous"


@pytest.fixture
def fresh(moord: DaemonProcess) -> Iterator[DaemonProcess]:
    """The module's daemon, with every volume (and container) the test made removed afterwards."""
    yield moord
    ids = moor(moord, "ps", "-aq").stdout.split()
    if ids:
        moor(moord, "rm", "-fv", *ids)
    names = moor(moord, "volume", "ls", "-q").stdout.split()
    if names:
        moor(moord, "volume", "rm", "-f", *names)
    for point in mounts_under(moord.root):
        if "/volumes/" in point:
            subprocess.run(["umount", "-l", point], capture_output=True)


def ok(daemon: DaemonProcess, *args: str, input: str | None = None) -> str:
    result = moor(daemon, *args, input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


def names(daemon: DaemonProcess, *filters: str) -> list[str]:
    return ok(daemon, "volume", "ls", "-q", *[a for f in filters for a in ("-f", f)]).split()


def test_create_ls_inspect_rm(fresh: DaemonProcess) -> None:
    assert ok(fresh, "volume", "create", "--label", "tier=db", "--label", "bare", "data1") == "data1\n"
    generated = ok(fresh, "volume", "create").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", generated)
    assert ok(fresh, "volume", "create", "data1") == "data1\n"  # an existing name is returned as is
    table = ok(fresh, "volume", "ls").splitlines()
    assert table[0] == "DRIVER    VOLUME NAME"
    assert sorted(table[1:]) == sorted([f"local     {generated}", "local     data1"])
    assert ok(fresh, "volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}",
              "-f", "name=data") == "data1 local local bare=,tier=db\n"
    assert names(fresh, "label=tier=db") == ["data1"] and names(fresh, "label=tier=web") == []
    assert names(fresh, "driver=local") == sorted([generated, "data1"])
    assert names(fresh, "dangling=true") == sorted([generated, "data1"])
    [shown] = json.loads(ok(fresh, "volume", "inspect", "data1"))
    assert shown["Mountpoint"] == os.path.join(fresh.data_root, "volumes", "data1", "_data")
    assert os.path.isdir(shown["Mountpoint"])
    assert {k: shown[k] for k in ("Name", "Driver", "Labels", "Options", "Scope")} == {
        "Name": "data1", "Driver": "local", "Labels": {"tier": "db", "bare": ""}, "Options": None, "Scope": "local"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shown["CreatedAt"])
    assert ok(fresh, "volume", "inspect", "-f", "{{.Name}}:{{.Driver}}", "data1") == "data1:local\n"
    assert ok(fresh, "inspect", "-f", "{{.Mountpoint}}", "data1") == shown["Mountpoint"] + "\n"  # as docker inspect
    assert ok(fresh, "inspect", "--type", "volume", "-f", "{{.Name}}", "data1") == "data1\n"
    missing = moor(fresh, "volume", "inspect", "data1", "nope")
    assert missing.returncode == 1 and missing.stderr == "Error response from daemon: get nope: no such volume\n"
    assert ok(fresh, "volume", "rm", "data1", generated) == f"data1\n{generated}\n"
    assert not os.path.exists(shown["Mountpoint"])
    gone = moor(fresh, "volume", "rm", "data1")
    assert gone.returncode == 1 and gone.stderr == "Error response from daemon: get data1: no such volume\n"
    assert ok(fresh, "volume", "rm", "-f", "data1") == "data1\n"
    bad_label = moor(fresh, "volume", "create", "--label", "=x", "data2")
    assert (bad_label.returncode, bad_label.stderr) == (
        125, 'invalid argument "=x" for "--label" flag: invalid label \'=x\': empty name\n')
    assert names(fresh) == []


def test_options_are_checked_as_dockers_local_driver_does(fresh: DaemonProcess) -> None:
    refused = moor(fresh, "volume", "create", "-o", "foo=bar", "optvol")
    assert refused.returncode == 1
    assert refused.stderr.strip() == 'Error response from daemon: create optvol: invalid option: "foo"'
    refused = moor(fresh, "volume", "create", "-o", "device=tmpfs", "optvol")
    assert 'missing required option: "type"' in refused.stderr
    unknown = moor(fresh, "volume", "create", "-d", "nosuch", "optvol")
    assert unknown.returncode == 1 and 'plugin "nosuch" not found' in unknown.stderr
    assert names(fresh) == []
    ok(fresh, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=8m,uid=1000", "tmpvol")
    [shown] = json.loads(ok(fresh, "volume", "inspect", "tmpvol"))
    assert shown["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=8m,uid=1000"}
    assert shown["Mountpoint"] not in mounts_under(shown["Mountpoint"])  # mounted only when used


@pytest.mark.parametrize("name", ["..", "../escape", "a/../../b", "x", "-rf", ".hidden"])
def test_hostile_names_are_refused_and_create_nothing(fresh: DaemonProcess, name: str) -> None:
    before = sorted(os.listdir(fresh.data_root)), sorted(os.listdir(os.path.join(fresh.data_root, "volumes")))
    result = moor(fresh, "volume", "create", "--", name)
    assert result.returncode == 1
    assert (f'create {name}: "{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed') in result.stderr
    after = sorted(os.listdir(fresh.data_root)), sorted(os.listdir(os.path.join(fresh.data_root, "volumes")))
    assert after == before
    assert names(fresh) == []


def test_hostile_names_through_the_api(fresh: DaemonProcess) -> None:
    client = fresh.client()
    for body in ({"Name": "nul\x00byte"}, {"Name": "../../etc"}, {"Name": "/abs"}):
        with pytest.raises(DaemonError) as caught:
            client.call("POST", "/volumes/create", body=body)
        assert caught.value.status == 400
    for name in ("..", "../volumes", "\x00"):
        with pytest.raises(DaemonError) as caught:
            client.call("DELETE", f"/volumes/{quote(name, safe='')}")
        assert caught.value.status == 404
    assert os.path.isdir(os.path.join(fresh.data_root, "volumes"))
    assert names(fresh) == []


def _api_create(daemon: DaemonProcess, labels: dict[str, str] | None = None, name: str = "") -> str:
    reply = daemon.client().call("POST", "/volumes/create", body={"Name": name, "Labels": labels or {}})
    return str(reply["Name"])


def test_prune_removes_only_what_it_should(fresh: DaemonProcess) -> None:
    anonymous = _api_create(fresh, {ANONYMOUS: ""})
    with open(os.path.join(fresh.data_root, "volumes", anonymous, "_data", "blob"), "wb") as handle:
        handle.write(b"x" * 100_000)
    kept_anonymous = _api_create(fresh, {ANONYMOUS: "", "keep": "1"})
    ok(fresh, "volume", "create", "named")
    ok(fresh, "volume", "create", "--label", "keep=1", "kept")
    refused = moor(fresh, "volume", "prune", input="n\n")
    assert refused.stdout == ("WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                              "Are you sure you want to continue? [y/N] ")
    assert len(names(fresh)) == 4
    report = ok(fresh, "volume", "prune", "-f", "--filter", "label!=keep")
    assert report.startswith(f"Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: ")
    assert re.search(r"Total reclaimed space: 10\dkB\n$", report)  # 100 kB of data in whole blocks, 3 digits
    assert sorted(names(fresh)) == sorted([kept_anonymous, "named", "kept"])
    assert ok(fresh, "volume", "prune", "-f", "-a", "--filter", "label!=keep") == (
        "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n")
    assert ok(fresh, "volume", "prune", "-f", "--filter", "label=keep=1") == (
        f"Deleted Volumes:\n{kept_anonymous}\n\nTotal reclaimed space: 0B\n")
    warning = moor(fresh, "volume", "prune", "-a", input="y\n").stdout
    assert warning.startswith("WARNING! This will remove all local volumes not used by at least one container.\n")
    assert "Deleted Volumes:\nkept\n" in warning
    assert ok(fresh, "volume", "prune", "-f") == "Total reclaimed space: 0B\n"


def test_in_use_volume_is_not_removed(fresh: DaemonProcess) -> None:
    ok(fresh, "volume", "create", "busy")
    container = ok(fresh, "run", "--name", "vol-user", "-v", "busy:/data", "busybox",
                   "sh", "-c", "echo kept > /data/file").strip()
    container_id = ok(fresh, "inspect", "-f", "{{.Id}}", "vol-user").strip()
    for args in (("volume", "rm", "busy"), ("volume", "rm", "-f", "busy")):
        refused = moor(fresh, *args)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (f"Error response from daemon: remove busy: volume is in use - "
                                          f"[{container_id}]")
    assert names(fresh, "dangling=false") == ["busy"] and names(fresh, "dangling=true") == []
    assert ok(fresh, "volume", "prune", "-af") == "Total reclaimed space: 0B\n"
    data = os.path.join(fresh.data_root, "volumes", "busy", "_data", "file")
    with open(data) as handle:
        assert handle.read() == "kept\n"
    assert container == ""
    ok(fresh, "rm", "vol-user")
    assert ok(fresh, "volume", "rm", "busy") == "busy\n"


def test_tmpfs_volume_is_mounted_while_a_container_uses_it(fresh: DaemonProcess) -> None:
    ok(fresh, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=8m,mode=0770", "scratch")
    inside = ok(fresh, "run", "--rm", "-v", "scratch:/scratch", "busybox", "sh", "-c",
                "grep ' /scratch ' /proc/mounts; stat -c %a /scratch; echo x > /scratch/f && cat /scratch/f")
    assert re.match(r"tmpfs /scratch tmpfs rw,.*size=8192k", inside.splitlines()[0])
    assert inside.splitlines()[1:] == ["770", "x"]
    mountpoint = os.path.join(fresh.data_root, "volumes", "scratch", "_data")
    assert mountpoint not in mounts_under(mountpoint) and os.listdir(mountpoint) == []  # unmounted after the last user


def test_system_df_counts_volumes(fresh: DaemonProcess) -> None:
    ok(fresh, "volume", "create", "dfvol")
    with open(os.path.join(fresh.data_root, "volumes", "dfvol", "_data", "blob"), "wb") as handle:
        handle.write(b"y" * 50_000)
    table = ok(fresh, "system", "df").splitlines()
    assert table[0] == "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"  # tabwriter's minimum width 10
    line = next(row for row in table if row.startswith("Local Volumes"))
    assert re.fullmatch(r"Local Volumes\s+1\s+0\s+5\d(\.\d+)?kB\s+5\d(\.\d+)?kB \(100%\)", line), line


def test_docker_cli_volume_commands(fresh: DaemonProcess, docker_cli: str) -> None:
    env = {**os.environ, "DOCKER_HOST": fresh.host, "DOCKER_CONFIG": fresh.root}

    def docker_(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([docker_cli, *args], capture_output=True, text=True, timeout=60, env=env)

    assert docker_("volume", "create", "--label", "via=docker", "dockervol").stdout == "dockervol\n"
    listed = docker_("volume", "ls", "--format", "{{.Driver}} {{.Name}} {{.Labels}}")
    assert listed.stdout == "local dockervol via=docker\n", listed.stderr
    [shown] = json.loads(docker_("volume", "inspect", "dockervol").stdout)
    assert shown["Mountpoint"] == os.path.join(fresh.data_root, "volumes", "dockervol", "_data")
    assert docker_("volume", "rm", "dockervol").stdout == "dockervol\n"
    assert "no such volume" in docker_("volume", "rm", "dockervol").stderr
    anonymous = _api_create(fresh, {ANONYMOUS: ""})
    pruned = docker_("volume", "prune", "-f")
    assert pruned.returncode == 0 and anonymous in pruned.stdout
    assert names(fresh) == []


def test_docker_py_volumes(fresh: DaemonProcess) -> None:
    client = docker.DockerClient(base_url=fresh.host, version="1.41")
    try:
        created = client.volumes.create(name="pyvol", driver="local", labels={"via": "docker-py"})
        assert created.name == "pyvol" and created.attrs["Labels"] == {"via": "docker-py"}
        assert [v.name for v in client.volumes.list()] == ["pyvol"]
        assert [v.name for v in client.volumes.list(filters={"label": "via=docker-py"})] == ["pyvol"]
        assert client.volumes.get("pyvol").attrs["Mountpoint"].endswith("/volumes/pyvol/_data")
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get("nope")
        tmp = client.volumes.create(name="pytmp", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
        assert tmp.attrs["Options"]["type"] == "tmpfs"
        with pytest.raises(docker.errors.APIError, match="invalid option"):
            client.volumes.create(name="pybad", driver_opts={"colour": "red"})
        created.remove()
        tmp.remove()
        assert client.volumes.list() == []
        assert client.volumes.prune()["VolumesDeleted"] == []
    finally:
        client.close()


def test_a_volume_made_without_a_name_is_anonymous_from_api_1_42(fresh: DaemonProcess) -> None:
    """Docker 23+ (API 1.42+) labels it anonymous, so the default prune (anonymous only) takes it, as docker-py's
    test_prune_volumes expects at 1.44; Docker 20.10 (1.41) labels nothing and its prune takes every volume."""
    for version, anonymous in (("1.44", True), ("1.41", False)):
        client = docker.APIClient(base_url=fresh.host, version=version)
        try:
            made = client.create_volume()
            assert (ANONYMOUS in (client.inspect_volume(made["Name"])["Labels"] or {})) is anonymous
            assert made["Name"] in client.prune_volumes()["VolumesDeleted"]
        finally:
            client.close()
