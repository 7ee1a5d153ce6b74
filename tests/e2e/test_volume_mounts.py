"""Volumes, binds and tmpfs mounts in real containers (runc, overlayfs) against a private moord.

Covers ``-v``, ``--mount``, ``--volumes-from``, the image's VOLUME, copy-up, ``rm -v`` / ``--rm``,
inspect's ``Mounts`` and the safety rules: links planted in the image over a mount target never
make moor mount or create anything outside the container's root.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from e2e.containerhelpers import import_busybox, inspect, moor, moord, ok  # noqa: F401 - fixture
from e2e.imagehelpers import REPO
from moor.client import DaemonError
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def volumes(daemon: DaemonProcess) -> list[str]:
    return ok(moor(daemon, "volume", "ls", "-q")).split()


def import_image(daemon: DaemonProcess, tag: str, extra: dict[str, tuple[str, bytes | str, int]],
                 *changes: str) -> None:
    """busybox plus ``extra`` (path -> ("file"|"dir"|"link", content or link target, mode)) as ``tag``."""
    base = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(base)) as source, tarfile.open(fileobj=out, mode="w") as target:
        for member in source.getmembers():
            if member.name.lstrip("./") in extra:
                continue
            target.addfile(member, source.extractfile(member) if member.isreg() else None)
        for path, (kind, content, mode) in extra.items():
            info = tarfile.TarInfo(path)
            info.mode, info.uid, info.gid = mode, 1234, 5678
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                target.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, str(content)
                target.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size = len(data)
                target.addfile(info, io.BytesIO(data))
    args = [arg for change in changes for arg in ("-c", change)]
    result = subprocess.run([sys.executable, "-m", "moor.cli", "-H", daemon.host, "import", *args, "-", tag],
                            input=out.getvalue(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def seeded(moord: DaemonProcess) -> DaemonProcess:
    """busybox plus an image with files under /seed and a VOLUME, for copy-up and VOLUME tests."""
    import_image(moord, "seeded:1", {
        "seed": ("dir", "", 0o750),
        "seed/hello": ("file", "hello from the image\n", 0o640),
        "seed/sub": ("dir", "", 0o755),
        "seed/sub/deep": ("file", "deep\n", 0o600),
        "seed/link": ("link", "hello", 0o777),
    }, 'CMD ["sh"]', "VOLUME /seed")
    return moord


# ---------------------------------------------------------------------- named volumes, binds, tmpfs


def test_named_volume_carries_data_between_containers(moord: DaemonProcess) -> None:
    name = unique("data")
    try:
        ok(moor(moord, "run", "--rm", "-v", f"{name}:/data", "busybox", "sh", "-c", "echo kept > /data/file"))
        assert name in volumes(moord)
        assert ok(moor(moord, "run", "--rm", "-v", f"{name}:/data:ro", "busybox", "cat", "/data/file")) == "kept\n"
        failed = moor(moord, "run", "--rm", "-v", f"{name}:/data:ro", "busybox", "sh", "-c", "echo x > /data/file")
        assert failed.returncode != 0 and "Read-only file system" in failed.stderr
        # --mount names the same volume; readonly there too
        assert ok(moor(moord, "run", "--rm", "--mount", f"type=volume,source={name},target=/v,readonly",
                       "busybox", "sh", "-c", "cat /v/file; touch /v/x 2>&1 || echo refused")) == \
            "kept\ntouch: /v/x: Read-only file system\nrefused\n"
    finally:
        moor(moord, "volume", "rm", "-f", name)


def test_volume_in_use_cannot_be_removed(moord: DaemonProcess) -> None:
    name, holder = unique("busy"), unique("holder")
    try:
        container_id = ok(moor(moord, "create", "--name", holder, "-v", f"{name}:/data", "busybox", "true")).strip()
        removed = moor(moord, "volume", "rm", name)
        assert removed.returncode == 1
        assert f"remove {name}: volume is in use - [{container_id}]" in removed.stderr
        assert name in volumes(moord)
        ok(moor(moord, "rm", "-v", holder))  # -v keeps named volumes
        assert name in volumes(moord)
        ok(moor(moord, "volume", "rm", name))
    finally:
        moor(moord, "rm", "-f", holder)
        moor(moord, "volume", "rm", "-f", name)


def test_bind_mounts_both_ways(moord: DaemonProcess, tmp_path: Path) -> None:
    host = tmp_path / "shared"
    host.mkdir()
    (host / "from-host").write_text("host data\n")
    out = ok(moor(moord, "run", "--rm", "-v", f"{host}:/shared", "busybox", "sh", "-c",
                  "cat /shared/from-host; echo container data > /shared/from-container"))
    assert out == "host data\n"
    assert (host / "from-container").read_text() == "container data\n"
    failed = moor(moord, "run", "--rm", "--mount", f"type=bind,src={host},dst=/shared,readonly", "busybox",
                  "sh", "-c", "echo x > /shared/from-host")
    assert failed.returncode != 0 and "Read-only file system" in failed.stderr
    assert (host / "from-host").read_text() == "host data\n"
    single = tmp_path / "one-file"
    single.write_text("just a file\n")
    assert ok(moor(moord, "run", "--rm", "-v", f"{single}:/etc/one:ro", "busybox", "cat", "/etc/one")) == \
        "just a file\n"
    # a bind over /etc/hosts replaces moor's own /etc/hosts mount, as in Docker
    assert ok(moor(moord, "run", "--rm", "-v", f"{single}:/etc/hosts", "busybox", "sh", "-c",
                   "cat /etc/hosts; grep -c ' /etc/hosts ' /proc/mounts")) == "just a file\n1\n"


def test_missing_bind_source(moord: DaemonProcess, tmp_path: Path) -> None:
    created = tmp_path / "made" / "by-v"
    ok(moor(moord, "run", "--rm", "-v", f"{created}:/x", "busybox", "true"))
    assert created.is_dir()
    missing = tmp_path / "nowhere"
    result = moor(moord, "run", "--rm", "--mount", f"type=bind,source={missing},target=/x", "busybox", "true")
    assert result.returncode == 125
    assert f'invalid mount config for type "bind": bind source path does not exist: {missing}' in result.stderr
    assert not missing.exists()


def test_spec_errors(moord: DaemonProcess) -> None:
    cases = {
        ("-v", "vol:/data:xyz"): "invalid mode: xyz",
        ("-v", "a:b:c:d"): "invalid volume specification: 'a:b:c:d'",
        ("-v", "vol:data"): "invalid volume specification: 'vol:data': invalid mount config for type \"volume\": "
                            "invalid mount path: 'data' mount path must be absolute",
        ("-v", ":/data"): "invalid spec: :/data: empty section between colons",
        ("-v", "/tmp/../etc:/data"): "invalid mount path: '/tmp/../etc' must not contain '..'",
        ("-v", "vol:/"): "destination can't be '/'",
        ("--mount", "type=volume,target=/d,foo=bar"): "unexpected key 'foo' in 'foo=bar'",
        ("--mount", "type=volume,source=v"): "target is required",
        ("--mount", "type=bind,src=/tmp,dst=/d,bind-propagation=xx"): "invalid propagation mode: xx",
        ("--mount", "type=tmpfs,source=x,target=/t"): 'invalid mount config for type "tmpfs": '
                                                      "field Source must not be specified",
        ("--mount", "type=foo,dst=/d"): 'invalid mount config for type "foo": mount type unknown',
        ("--mount", "type=volume,dst=/d,ro"): "must not set ReadOnly mode when using anonymous volumes",
        ("--mount", "type=bind,src=/tmp,dst=/d,volume-opt=a=b"): "cannot mix 'volume-*' options with mount "
                                                                 "type 'bind'",
    }
    before = volumes(moord)
    for args, message in cases.items():
        result = moor(moord, "create", *args, "busybox", "true")
        # docker create: 1 for what the daemon refuses, 125 for what the CLI refuses itself
        assert result.returncode == (1 if result.stderr.startswith("Error response from daemon") else 125), args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    dup = moor(moord, "create", "-v", "x1:/d", "--mount", "type=bind,src=/tmp,dst=/d", "busybox", "true")
    assert "Duplicate mount point: /d" in dup.stderr
    assert volumes(moord) == before


def test_tmpfs_mount(moord: DaemonProcess) -> None:
    out = ok(moor(moord, "run", "--rm", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
                  "busybox", "sh", "-c", "grep ' /scratch ' /proc/mounts; stat -c %a /scratch"))
    assert out.startswith("tmpfs /scratch tmpfs ") and "size=1024k" in out and "mode=1770" in out
    assert out.endswith("1770\n")


def test_bind_nonrecursive_leaves_submounts_out(moord: DaemonProcess, tmp_path: Path) -> None:
    """--mount bind-nonrecursive binds the source alone (bind, not rbind), as Docker does."""
    sub = tmp_path / "sub"
    sub.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(sub)], check=True)
    try:
        count = "grep -c ' /b/sub ' /proc/mounts || true"
        recursive = ok(moor(moord, "run", "--rm", "--mount", f"type=bind,src={tmp_path},dst=/b", "busybox",
                            "sh", "-c", count))
        alone = ok(moor(moord, "run", "--rm", "--mount", f"type=bind,src={tmp_path},dst=/b,bind-nonrecursive",
                        "busybox", "sh", "-c", count))
        assert (recursive, alone) == ("1\n", "0\n")
    finally:
        subprocess.run(["umount", "-l", str(sub)], check=False)


def test_shared_and_slave_binds_need_such_a_source(moord: DaemonProcess, tmp_path: Path) -> None:
    """As in Docker: a shared bind needs a shared source mount (a slave one a shared or slave source), and
    a mount made in the container under a shared bind reaches the host."""
    source = tmp_path / "src"
    source.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(source)], check=True)
    try:
        subprocess.run(["mount", "--make-private", str(source)], check=True)
        for mode, kind in (("rshared", "shared"), ("slave", "shared or slave")):
            refused = moor(moord, "run", "--rm", "-v", f"{source}:/b:{mode}", "busybox", "true")
            assert refused.returncode == 125
            assert f"path {source} is mounted on {source} but it is not a {kind} mount" in refused.stderr
        subprocess.run(["mount", "--make-shared", str(source)], check=True)
        ok(moor(moord, "run", "--rm", "--privileged", "-v", f"{source}:/b:rshared", "busybox", "sh", "-c",
                "mkdir /b/inner && mount -t tmpfs tmpfs /b/inner"))
        assert str(source / "inner") in host_mount_points()
    finally:
        subprocess.run(["umount", "-R", "-l", str(source)], check=False)


# ---------------------------------------------------------------------- volumes-from, VOLUME, rm -v, --rm


def test_volumes_from_shares_volumes(moord: DaemonProcess, tmp_path: Path) -> None:
    source, name = unique("src"), unique("shared")
    try:
        ok(moor(moord, "create", "--name", source, "-v", f"{name}:/shared", "-v", "/anon", "-v",
                f"{tmp_path}:/hostdir", "busybox", "true"))
        ok(moor(moord, "run", "--rm", "--volumes-from", source, "busybox", "sh", "-c",
                "echo one > /shared/a; echo two > /anon/b; echo three > /hostdir/c"))
        assert (tmp_path / "c").read_text() == "three\n"
        out = ok(moor(moord, "run", "--rm", "--volumes-from", f"{source}:ro", "busybox", "sh", "-c",
                      "cat /shared/a /anon/b; touch /shared/x 2>/dev/null || echo read-only"))
        assert out == "one\ntwo\nread-only\n"
        missing = moor(moord, "create", "--volumes-from", "no-such-container", "busybox", "true")
        assert missing.returncode == 1 and "No such container: no-such-container" in missing.stderr  # as docker create
        with pytest.raises(DaemonError) as caught:  # 400 as Docker: a 404 makes docker run try to pull the image
            moord.client().call("POST", "/containers/create", body={
                "Image": "busybox", "HostConfig": {"VolumesFrom": ["no-such-container"]}})
        assert (caught.value.status, caught.value.message) == (400, "No such container: no-such-container")
    finally:
        moor(moord, "rm", "-fv", source)
        moor(moord, "volume", "rm", "-f", name)


def test_copy_up_fills_new_volume(seeded: DaemonProcess) -> None:
    name = unique("copied")
    try:
        out = ok(moor(seeded, "run", "--rm", "-v", f"{name}:/seed", "seeded:1", "sh", "-c",
                      "cat /seed/hello /seed/sub/deep; readlink /seed/link; stat -c '%a %u:%g' /seed /seed/hello"))
        assert out == "hello from the image\ndeep\nhello\n750 1234:5678\n640 1234:5678\n"
        # the volume keeps its content: a later container sees the change, not the image's files again
        ok(moor(seeded, "run", "--rm", "-v", f"{name}:/seed", "seeded:1", "sh", "-c",
                "echo changed > /seed/hello; rm /seed/sub/deep"))
        assert ok(moor(seeded, "run", "--rm", "-v", f"{name}:/seed", "seeded:1", "sh", "-c",
                       "cat /seed/hello; ls /seed/sub")) == "changed\n"
        # busybox's /etc into a fresh volume; nocopy leaves it empty
        other, empty = unique("etc"), unique("nocopy")
        try:
            assert "passwd" in ok(moor(seeded, "run", "--rm", "-v", f"{other}:/etc", "busybox", "ls", "/etc"))
            assert ok(moor(seeded, "run", "--rm", "-v", f"{empty}:/seed:nocopy", "seeded:1", "ls", "-A",
                           "/seed")) == ""
        finally:
            moor(seeded, "volume", "rm", "-f", other, empty)
    finally:
        moor(seeded, "volume", "rm", "-f", name)


def test_image_volume_is_anonymous_and_rm_v_removes_it(seeded: DaemonProcess) -> None:
    name = unique("imgvol")
    before = set(volumes(seeded))
    ok(moor(seeded, "create", "--name", name, "seeded:1", "true"))
    try:
        mounts = inspect(seeded, name)["Mounts"]
        assert len(mounts) == 1
        mount = mounts[0]
        assert mount["Type"] == "volume" and mount["Destination"] == "/seed" and len(mount["Name"]) == 64
        assert set(volumes(seeded)) - before == {mount["Name"]}
        ok(moor(seeded, "start", "-a", name))
        ok(moor(seeded, "rm", "-v", name))
        # the image's files at /seed were copied up into the anonymous volume
        assert ok(moor(seeded, "run", "--rm", "seeded:1", "cat", "/seed/hello")) == "hello from the image\n"
        assert set(volumes(seeded)) == before
        # a -v on the same path replaces the image's VOLUME: no anonymous volume
        named = unique("instead")
        try:
            ok(moor(seeded, "run", "--rm", "-v", f"{named}:/seed", "seeded:1", "true"))
            assert set(volumes(seeded)) - before == {named}
        finally:
            moor(seeded, "volume", "rm", "-f", named)
    finally:
        moor(seeded, "rm", "-f", name)


def test_auto_remove_removes_anonymous_volumes(seeded: DaemonProcess) -> None:
    before = set(volumes(seeded))
    ok(moor(seeded, "run", "--rm", "-v", "/scratch", "seeded:1", "sh", "-c", "touch /scratch/x /seed/y"))
    assert set(volumes(seeded)) == before
    kept = unique("kept")
    ok(moor(seeded, "run", "--name", kept, "-v", "/scratch", "busybox", "true"))
    try:
        assert len(set(volumes(seeded)) - before) == 1  # rm without -v keeps it
        anonymous = (set(volumes(seeded)) - before).pop()
        ok(moor(seeded, "rm", kept))
        assert anonymous in volumes(seeded)
        ok(moor(seeded, "volume", "rm", anonymous))
    finally:
        moor(seeded, "rm", "-f", kept)


def test_volume_events_of_a_run(seeded: DaemonProcess) -> None:
    """Docker's volume events for a container's volumes: create, mount, unmount and (rm -v) destroy."""
    since = time.time() - 1
    name, named = unique("evrun"), unique("evvol")
    ok(moor(seeded, "run", "--name", name, "-v", f"{named}:/n:ro", "seeded:1", "true"))
    try:
        anonymous = next(m["Name"] for m in inspect(seeded, name)["Mounts"] if m["Destination"] == "/seed")
        ok(moor(seeded, "rm", "-v", name))
        until = time.time() + 1
        lines = ok(moor(seeded, "events", "--since", str(since), "--until", str(until), "--filter", "type=volume",
                        "--format", "{{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}")).splitlines()
        mine = [line for line in lines if named in line or anonymous in line]
        actions = [line.split()[:2] for line in mine]
        assert sorted(actions) == sorted([["create", named], ["create", anonymous], ["mount", named],
                                          ["mount", anonymous], ["unmount", named], ["unmount", anonymous],
                                          ["destroy", anonymous]])
        mount = json.loads(next(line for line in mine if line.startswith(f"mount {named}")).split(" ", 2)[2])
        assert mount == {"container": inspect_id(seeded, since, name), "destination": "/n", "driver": "local",
                         "propagation": "", "read/write": "false"}
        only = ok(moor(seeded, "events", "--since", str(since), "--until", str(until), "--filter", f"volume={named}",
                       "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")).splitlines()
        assert only == [f"volume create {named}", f"volume mount {named}", f"volume unmount {named}"]
    finally:
        moor(seeded, "rm", "-f", name)
        moor(seeded, "volume", "rm", "-f", named)


def inspect_id(daemon: DaemonProcess, since: float, name: str) -> str:
    """The ID of the (removed) container ``name`` from its create event."""
    return ok(moor(daemon, "events", "--since", str(since), "--until", str(time.time() + 1), "--filter",
                   f"container={name}", "--filter", "event=create", "--format", "{{.Actor.ID}}")).split()[0]


# ---------------------------------------------------------------------- inspect


def test_inspect_mounts_shape(moord: DaemonProcess, tmp_path: Path) -> None:
    name, vol = unique("shape"), unique("vol")
    data_root = moord.data_root
    try:
        ok(moor(moord, "create", "--name", name, "-v", f"{vol}:/data", "-v", f"{tmp_path}:/bind:ro", "-v", "/anon",
                "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "--mount", f"type=volume,src={vol}x,dst=/m",
                "busybox", "true"))
        info = inspect(moord, name)
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert mounts["/data"] == {"Type": "volume", "Name": vol, "Source": f"{data_root}/volumes/{vol}/_data",
                                   "Destination": "/data", "Driver": "local", "Mode": "z", "RW": True,
                                   "Propagation": ""}
        assert mounts["/bind"] == {"Type": "bind", "Source": str(tmp_path), "Destination": "/bind", "Mode": "ro",
                                   "RW": False, "Propagation": "rprivate"}
        assert mounts["/anon"]["Mode"] == "" and mounts["/anon"]["Driver"] == "local"
        assert mounts["/t"] == {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": True,
                                "Propagation": ""}
        assert mounts["/m"]["Mode"] == "z" and mounts["/m"]["Name"] == f"{vol}x"
        assert info["HostConfig"]["Binds"] == [f"{vol}:/data", f"{tmp_path}:/bind:ro"]
        assert info["HostConfig"]["Mounts"][0] == {"Type": "tmpfs", "Target": "/t",
                                                   "TmpfsOptions": {"SizeBytes": 1048576}}
        assert info["Config"]["Volumes"] == {"/anon": {}}
        shown = ok(moor(moord, "ps", "-a", "--filter", f"name={name}", "--format", "{{.Mounts}}")).strip()
        assert vol in shown.split(",") and str(tmp_path)[:14] + "…" in shown
        for wanted in (vol, "/anon", str(tmp_path)):
            assert ok(moor(moord, "ps", "-a", "--filter", f"volume={wanted}", "--format", "{{.Names}}")) == \
                f"{name}\n"
        assert ok(moor(moord, "ps", "-a", "--filter", "volume=no-such-volume", "-q")) == ""
    finally:
        moor(moord, "rm", "-fv", name)
        moor(moord, "volume", "rm", "-f", vol, f"{vol}x")


# ---------------------------------------------------------------------- safety


def api_create(daemon: DaemonProcess, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from moor.testing.daemon import UnixHTTPConnection

    connection = UnixHTTPConnection(daemon.socket, timeout=30)
    try:
        connection.request("POST", "/v1.41/containers/create", body=json.dumps(body),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def host_mount_points() -> set[str]:
    with open("/proc/self/mounts") as handle:
        return {line.split()[1] for line in handle}


def test_hostile_names_and_paths_are_refused(moord: DaemonProcess) -> None:
    before = volumes(moord)
    for binds in (["../../etc:/data"], ["a/../../b:/data"], ["vol\x00x:/data"], ["/tmp/../etc:/data"],
                  ["/tmp/a\x00b:/data"], ["vol:/da\x00ta"]):
        status, answer = api_create(moord, {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": binds}})
        assert status == 400, (binds, answer)
    for mount in ({"Type": "volume", "Source": "../x", "Target": "/d"},
                  {"Type": "bind", "Source": "/tmp/../etc", "Target": "/d"},
                  {"Type": "volume", "Source": "x\x00y", "Target": "/d"}):
        status, answer = api_create(moord, {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Mounts": [mount]}})
        assert status == 400, (mount, answer)
    assert volumes(moord) == before


def test_links_planted_over_mount_targets_stay_inside_the_root(moord: DaemonProcess,
                                                               tmp_path: Path) -> None:
    """An image whose mount targets are links to host paths: nothing is made or mounted on the host."""
    outside = tmp_path / "outside"  # must never appear
    existing = tmp_path / "existing"  # exists on the host: must not be mounted over nor copied from
    existing.mkdir()
    (existing / "secret").write_text("host secret\n")
    file_target = tmp_path / "host-file"
    file_target.write_text("host file\n")
    climb = "/etc/../../../../../.." + str(outside)
    tag = unique("hostile")
    import_image(moord, f"{tag}:1", {
        "data": ("link", climb, 0o777),
        "abs": ("link", str(outside / "abs"), 0o777),
        "rel": ("link", "../../../../../../.." + str(outside / "rel"), 0o777),
        "copy": ("link", str(existing), 0o777),
        "deep": ("link", str(outside / "deep"), 0o777),
        "tlink": ("link", str(outside / "tmpfs"), 0o777),
        "etc/onefile": ("link", str(file_target), 0o777),
    }, 'CMD ["sh"]')
    bind_source = tmp_path / "bind-source"
    bind_source.mkdir()
    one_file = tmp_path / "one-file"
    one_file.write_text("bound file\n")
    names = [unique("v") for _ in range(4)]
    container = unique("hostile")
    try:
        container_id = ok(moor(moord, "run", "-d", "--name", container, "-v", f"{names[0]}:/data",
                               "-v", f"{names[1]}:/abs", "-v", f"{bind_source}:/rel", "-v", f"{names[2]}:/copy",
                               "--mount", "type=tmpfs,dst=/deep/sub/dir", "-v", f"{names[3]}:/deep/vol",
                               "-v", f"{one_file}:/etc/onefile:ro", "--tmpfs", "/tlink", f"{tag}:1", "sleep",
                               "60")).strip()
        bundle = Path(moord.exec_root) / "containers" / container_id / "bundle" / "config.json"
        destinations = {m["destination"] for m in json.loads(bundle.read_text())["mounts"]}
        # runc is handed the targets as resolved inside the root: no link left for it to follow
        assert {str(outside), str(outside / "abs"), str(outside / "rel"), str(existing), str(outside / "deep/vol"),
                str(outside / "deep/sub/dir"), str(file_target), str(outside / "tmpfs")} <= destinations
        out = ok(moor(moord, "exec", container, "sh", "-c",
                      "echo in-volume > /data/f; echo in-abs > /abs/f; echo in-bind > /rel/f; ls -A /copy; "
                      "cat /etc/onefile; grep -q ' /tmp/.*/deep/sub/dir tmpfs' /proc/mounts && echo deep-ok"))
        assert out == "bound file\ndeep-ok\n"  # /copy is a new empty volume: nothing was copied from the host
        assert not outside.exists()
        assert sorted(p.name for p in existing.iterdir()) == ["secret"]
        assert file_target.read_text() == "host file\n"
        assert (bind_source / "f").read_text() == "in-bind\n"
        assert not [m for m in host_mount_points() if m.startswith(str(tmp_path))]
        data_root = Path(moord.data_root)
        assert (data_root / "volumes" / names[0] / "_data" / "f").read_text() == "in-volume\n"
        assert (data_root / "volumes" / names[1] / "_data" / "f").read_text() == "in-abs\n"
        assert not any((data_root / "volumes" / names[2] / "_data").iterdir())
    finally:
        moor(moord, "rm", "-f", container)
        moor(moord, "volume", "rm", "-f", *names)
        moor(moord, "rmi", f"{tag}:1")
    assert not outside.exists()


# ---------------------------------------------------------------------- lifecycle across a moord restart


def wait_gone(pid: int) -> None:
    for _ in range(600):
        if not os.path.exists(f"/proc/{pid}"):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs")


def test_tmpfs_volume_released_when_container_exits_while_moord_is_down() -> None:
    daemon = DaemonProcess()
    daemon.start()
    try:
        import_busybox(daemon)
        ok(moor(daemon, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=4m", "tv"))
        data = os.path.join(daemon.data_root, "volumes", "tv", "_data")
        container_id = ok(moor(daemon, "run", "-d", "--name", "user", "-v", "tv:/data", "busybox", "sh", "-c",
                               "grep ' /data ' /proc/mounts > /data/mounted; "
                               "while [ ! -e /data/stop ]; do sleep 0.1; done")).strip()
        for _ in range(200):  # the shell makes the file before grep writes it: wait for its content
            if os.path.exists(os.path.join(data, "mounted")) and os.path.getsize(os.path.join(data, "mounted")):
                break
            time.sleep(0.05)
        assert open(os.path.join(data, "mounted")).read().startswith("tmpfs /data tmpfs ")
        assert data in host_mount_points()
        pid = inspect(daemon, "user")["State"]["Pid"]
        daemon.kill()
        open(os.path.join(data, "stop"), "w").close()
        wait_gone(pid)
        daemon.start()
        assert inspect(daemon, "user")["State"]["Status"] == "exited"
        assert data not in host_mount_points()  # released by the recovery: the driver unmounted its tmpfs
        refused = moor(daemon, "volume", "rm", "tv")
        assert f"remove tv: volume is in use - [{container_id}]" in refused.stderr  # stopped containers count
        ok(moor(daemon, "rm", "user"))
        ok(moor(daemon, "volume", "rm", "tv"))
    finally:
        daemon.cleanup()


# ---------------------------------------------------------------------- the docker CLI and docker-py


def test_docker_cli_volumes_and_mounts(moord: DaemonProcess, docker_cli: str, tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": moord.host, "DOCKER_CONFIG": str(tmp_path)}

    def docker(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([docker_cli, *args], capture_output=True, text=True, timeout=60, env=env)

    name = unique("dockercli")
    try:
        ok(docker("run", "--rm", "-v", f"{name}:/data", "busybox", "sh", "-c", "echo from-docker > /data/f"))
        assert ok(docker("run", "--rm", "--mount", f"type=volume,src={name},dst=/d,readonly", "busybox",
                         "cat", "/d/f")) == "from-docker\n"
        refused = docker("run", "--rm", "-v", f"{name}:/d:ro", "busybox", "touch", "/d/x")
        assert refused.returncode != 0 and "Read-only file system" in refused.stderr
        bad = docker("run", "--rm", "-v", f"{name}:/d:xyz", "busybox", "true")
        assert "invalid mode: xyz" in bad.stderr
        ok(docker("create", "--name", name, "-v", f"{name}:/data", "--mount", "type=tmpfs,dst=/t", "busybox"))
        mounts = json.loads(ok(docker("inspect", "--format", "{{json .Mounts}}", name)))
        assert {(m["Type"], m["Destination"], m.get("Name", "")) for m in mounts} == {
            ("volume", "/data", name), ("tmpfs", "/t", "")}
    finally:
        docker("rm", "-f", name)
        docker("volume", "rm", "-f", name)


def test_docker_py_volumes(moord: DaemonProcess) -> None:
    import docker

    client = docker.DockerClient(base_url=moord.host, version="1.41")
    name = unique("dockerpy")
    try:
        output = client.containers.run("busybox", ["sh", "-c", "echo from-py > /data/f; cat /data/f"],
                                       volumes={name: {"bind": "/data", "mode": "rw"}}, remove=True)
        assert output == b"from-py\n"
        assert client.containers.run("busybox", ["cat", "/data/f"], volumes={name: {"bind": "/data", "mode": "ro"}},
                                     remove=True) == b"from-py\n"
        with pytest.raises(docker.errors.ContainerError):
            client.containers.run("busybox", ["touch", "/data/x"], volumes={name: {"bind": "/data", "mode": "ro"}},
                                  remove=True)
        mount = docker.types.Mount(target="/m", source=name, type="volume", read_only=True)
        assert client.containers.run("busybox", ["cat", "/m/f"], mounts=[mount], remove=True) == b"from-py\n"
    finally:
        client.volumes.get(name).remove(force=True)
        client.close()


def test_bind_holding_the_data_root_is_a_slave_mount(moord: DaemonProcess) -> None:
    """A bind whose source holds moord's data root gets rslave (Docker's rule), so unmounts reach it."""
    name = unique("slave")
    try:
        container_id = ok(moor(moord, "run", "-d", "--name", name, "-v", f"{moord.root}:/moor-root:ro", "busybox",
                               "sleep", "60")).strip()
        spec = json.loads((Path(moord.exec_root) / "containers" / container_id / "bundle" / "config.json").read_text())
        options = next(m["options"] for m in spec["mounts"] if m["destination"] == "/moor-root")
        assert options == ["rbind", "ro", "rslave"]
        assert inspect(moord, name)["Mounts"][0]["Propagation"] == "rprivate"
    finally:
        moor(moord, "rm", "-f", name)
    refused = moor(moord, "run", "--rm", "-v", f"{moord.root}:/moor-root:rprivate", "busybox", "true")
    assert refused.returncode == 125
    assert 'invalid mount config: must use either propagation mode "rslave" or "rshared" when mount source is ' \
           f'within the daemon root, daemon root: "{moord.data_root}", bind mount source: "{moord.root}", ' \
           'propagation: "rprivate"' in refused.stderr


def test_host_config_defaults_as_docker_shows_them(moord: DaemonProcess) -> None:
    status, answer = api_create(moord, {"Image": "busybox", "Cmd": ["true"]})  # no HostConfig at all
    assert status == 201, answer
    name = answer["Id"]
    try:
        info = inspect(moord, name)
        assert info["Mounts"] == []
        host_config = info["HostConfig"]
        assert (host_config["Binds"], host_config["VolumeDriver"], host_config["VolumesFrom"]) == (None, "", None)
    finally:
        moor(moord, "rm", name)
