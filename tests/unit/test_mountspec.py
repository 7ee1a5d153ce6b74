"""Parsing of -v / Binds, --mount / Mounts, --volumes-from and the safe in-root mount targets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moor.cli.mountflags import MountFlagError, parse_mount, split_volumes
from moor.containers.mountpoints import mount_view
from moor.containers.mountspec import parse_all, parse_api_mount, parse_bind, parse_volumes_from, tmpfs_option_list
from moor.containers.mounttarget import copy_up, prepare_target
from moor.errors import InvalidParameter


def test_named_volume_bind() -> None:
    request = parse_bind("data:/srv/data/")
    assert (request.type, request.source, request.destination, request.rw, request.mode) == \
        ("volume", "data", "/srv/data", True, "z")
    assert request.copy_data
    request = parse_bind("data:/d:ro,nocopy", volume_driver="other")
    assert (request.rw, request.copy_data, request.mode, request.driver) == (False, False, "ro,nocopy", "other")


def test_host_bind() -> None:
    request = parse_bind("/srv//x/:/d:ro,rslave")
    assert (request.type, request.source, request.rw, request.propagation, request.propagation_given) == \
        ("bind", "/srv/x", False, "rslave", True)
    request = parse_bind("/srv:/d")
    assert (request.propagation, request.propagation_given, request.create_source, request.mode) == \
        ("rprivate", False, True, "")


def test_anonymous_destination() -> None:
    request = parse_bind("/anon")
    assert (request.type, request.source, request.destination) == ("volume", "", "/anon")


@pytest.mark.parametrize(("spec", "message"), [
    ("v:/d:xyz", "invalid mode: xyz"),
    ("v:/d:ro,rw", "invalid mode: ro,rw"),
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("/data:ro", "invalid volume specification: '/data:ro'"),
    ("v:data", "invalid volume specification: 'v:data': invalid mount config for type \"volume\": invalid mount "
               "path: 'data' mount path must be absolute"),
    ("v:/", "invalid volume specification: 'v:/': invalid mount config for type \"volume\": invalid "
            "specification: destination can't be '/'"),
    ("/x:/d:nocopy", "field VolumeOptions must not be specified"),
    ("v:/d:rslave", "field BindOptions must not be specified"),
    ("/tmp/../etc:/d", "must not contain '..'"),
    ("../etc:/d", "includes invalid characters for a local volume name"),
    ("a\x00b:/d", "includes invalid characters"),
    ("/a\x00b:/d", "NUL"),
    ("v:/d\x00x", "NUL"),
])
def test_bad_binds(spec: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        parse_bind(spec)
    assert message in str(error.value)


def test_api_mounts(tmp_path: Path) -> None:
    request = parse_api_mount({"Type": "volume", "Source": "v", "Target": "/d", "VolumeOptions": {
        "NoCopy": True, "Labels": {"a": "b"}, "DriverConfig": {"Name": "drv", "Options": {"o": "1"}}}})
    assert (request.copy_data, request.labels, request.driver, request.driver_options, request.mode) == \
        (False, {"a": "b"}, "drv", {"o": "1"}, "z")
    request = parse_api_mount({"Type": "bind", "Source": str(tmp_path), "Target": "/b", "ReadOnly": True})
    assert (request.rw, request.propagation, request.create_source, request.recursive) == \
        (False, "rprivate", False, True)
    request = parse_api_mount({"Type": "bind", "Source": str(tmp_path), "Target": "/b",
                               "BindOptions": {"NonRecursive": True}})
    assert request.recursive is False
    request = parse_api_mount({"Type": "tmpfs", "Target": "/t", "ReadOnly": True,
                               "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1700}})
    assert request.tmpfs_options == ["ro", "mode=1700", "size=1m"]


@pytest.mark.parametrize(("mount", "message"), [
    ({"Type": "bind", "Source": "/no/such/dir", "Target": "/d"},
     'invalid mount config for type "bind": bind source path does not exist: /no/such/dir'),
    ({"Type": "bind", "Source": "rel", "Target": "/d"}, "invalid mount path: 'rel' mount path must be absolute"),
    ({"Type": "bind", "Source": "/tmp", "Target": "/d", "BindOptions": {"Propagation": "xx"}},
     "invalid propagation mode: xx"),
    ({"Type": "tmpfs", "Source": "x", "Target": "/t"}, "field Source must not be specified"),
    ({"Type": "volume", "Target": "/d", "ReadOnly": True}, "must not set ReadOnly mode when using anonymous volumes"),
    ({"Type": "foo", "Target": "/d"}, 'invalid mount config for type "foo": mount type unknown'),
    ({"Type": "volume", "Target": ""}, "field Target must not be empty"),
    ({"Type": "volume", "Source": "../x", "Target": "/d"}, "includes invalid characters"),
])
def test_bad_api_mounts(mount: dict, message: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        parse_api_mount(mount)
    assert message in str(error.value)


def test_duplicates_and_volumes_from() -> None:
    with pytest.raises(InvalidParameter, match="Duplicate mount point: /d"):
        parse_all({"Binds": ["a:/d"], "Mounts": [{"Type": "volume", "Target": "/d/"}]}, None)
    requests, anonymous, seen = parse_all({"Binds": ["a:/d"], "VolumeDriver": "drv"}, {"/d": {}, "/e": {}})
    assert [r.driver for r in requests] == ["drv"] and [a.destination for a in anonymous] == ["/d", "/e"]
    assert anonymous[0].mode == "" and seen == ["/d"]
    assert parse_volumes_from("other") == ("other", True)
    assert parse_volumes_from("other:ro") == ("other", False)
    with pytest.raises(InvalidParameter, match="invalid mode: xx"):
        parse_volumes_from("other:xx")


def test_tmpfs_sizes() -> None:
    assert tmpfs_option_list({"SizeBytes": 3 << 30}, False) == ["size=3g"]
    assert tmpfs_option_list({"SizeBytes": 1536}, False) == ["size=1536"]
    assert tmpfs_option_list({"SizeBytes": 2048}, False) == ["size=2k"]


def test_mount_view_hides_private_keys() -> None:
    point = {"Type": "bind", "Source": "/s", "Destination": "/d", "Mode": "", "RW": True, "Propagation": "rprivate",
             "CreateSource": True}
    assert mount_view(point) == {"Type": "bind", "Source": "/s", "Destination": "/d", "Mode": "", "RW": True,
                                 "Propagation": "rprivate"}


# ---------------------------------------------------------------------- the CLI


def test_cli_volume_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    binds, anonymous = split_volumes(("v:/d", "/anon", "./here:/h:ro"))
    assert binds == ["v:/d", f"{tmp_path}/here:/h:ro"] and anonymous == {"/anon": {}}
    with pytest.raises(MountFlagError, match="invalid spec: :/d: empty section between colons"):
        split_volumes((":/d",))


def test_cli_mount_flag() -> None:
    assert parse_mount("type=bind,src=/s,dst=/d,readonly,bind-propagation=rslave") == {
        "Type": "bind", "Source": "/s", "Target": "/d", "ReadOnly": True, "BindOptions": {"Propagation": "rslave"}}
    assert parse_mount("target=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-nocopy,volume-driver=x") == {
        "Type": "volume", "Target": "/d", "VolumeOptions": {
            "DriverConfig": {"Options": {"type": "tmpfs", "device": "tmpfs"}, "Name": "x"}, "NoCopy": True}}
    assert parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770,ro=false") == {
        "Type": "tmpfs", "Target": "/t", "ReadOnly": False, "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1770}}
    for value, message in (("type=volume,target=/d,foo=bar", "unexpected key 'foo' in 'foo=bar'"),
                           ("type=volume,source=v", "target is required"),
                           ("type=volume,dst=/d,readonly=maybe", "invalid value for readonly: maybe"),
                           ("type=tmpfs,dst=/t,tmpfs-size=abc", "invalid value for tmpfs-size: abc"),
                           ("type=bind,src=/s,dst=/d,volume-opt=a=b",
                            "cannot mix 'volume-*' options with mount type 'bind'"),
                           ("type=volume,src", "invalid field 'src' must be a key=value pair")):
        with pytest.raises(MountFlagError) as error:
            parse_mount(value)
        assert str(error.value) == message


# ---------------------------------------------------------------------- targets inside a root


def test_targets_resolve_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/../../../.." + str(outside), root / "climb")
    os.symlink(str(outside / "abs"), root / "abs")
    os.symlink("../../../../../.." + str(outside / "rel"), root / "etc" / "rel")
    with prepare_target(str(root), "/climb/sub") as target:
        assert target.path == str(outside) + "/sub" and not target.existed
    with prepare_target(str(root), "/abs") as target:
        assert target.path == str(outside / "abs")
    with prepare_target(str(root), "/etc/rel", make="file") as target:
        assert target.path == str(outside / "rel")
    with prepare_target(str(root), "/new/tmpfs", make="parent") as target:
        assert target.path == "/new/tmpfs"
    assert not outside.exists()
    assert (root / str(outside).lstrip("/") / "sub").is_dir()
    assert (root / str(outside).lstrip("/") / "rel").is_file()
    assert (root / "new").is_dir() and not (root / "new" / "tmpfs").exists()
    os.symlink("/", root / "top")
    with pytest.raises(InvalidParameter, match="resolves to the container's root"):
        prepare_target(str(root), "/top")


def test_copy_up(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "seed" / "sub").mkdir(parents=True)
    (root / "seed" / "file").write_text("data")
    (root / "seed" / "sub" / "deep").write_text("deep")
    os.symlink("/etc/passwd", root / "seed" / "link")
    os.chmod(root / "seed", 0o750)
    volume = tmp_path / "volume"
    volume.mkdir()
    with prepare_target(str(root), "/seed") as target:
        assert copy_up(target, str(volume))
    assert (volume / "file").read_text() == "data" and (volume / "sub" / "deep").read_text() == "deep"
    assert os.readlink(volume / "link") == "/etc/passwd"
    assert oct(os.stat(volume).st_mode & 0o7777) == oct(0o750)
    (volume / "file").write_text("changed")
    with prepare_target(str(root), "/seed") as target:
        assert not copy_up(target, str(volume))  # not empty any more
    assert (volume / "file").read_text() == "changed"
    empty = tmp_path / "empty"
    empty.mkdir()
    with prepare_target(str(root), "/missing") as target:
        assert not copy_up(target, str(empty))  # nothing in the image there
