"""A RUN's diff without the engine's and the step's mount points (they never reach the step's layer)."""

from __future__ import annotations

import io
import tarfile

from moor.services.build.layerfilter import ENGINE_MOUNTS, filter_layer


def tar_of(entries: list[tuple[str, bytes | None]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                info.pax_headers = {"SCHILY.xattr.user.note": "kept"} if name.endswith("keep") else {}
                archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def entries(data: bytes) -> list[tuple[str, bytes | None]]:
    result: list[tuple[str, bytes | None]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.isreg() else None
            result.append((member.name, handle.read() if handle is not None else None))
    return result


def test_only_mount_points_is_no_layer() -> None:
    source = tar_of([("etc", None), ("etc/hosts", b""), ("etc/hostname", b""), ("etc/resolv.conf", b""),
                     ("run", None), ("run/secrets", None), ("run/secrets/token", b"")])
    assert filter_layer(source, io.BytesIO(), [*ENGINE_MOUNTS, "/run/secrets/token"]) is False


def test_real_changes_stay_byte_for_byte_and_their_directories_too() -> None:
    source = tar_of([("etc", None), ("etc/hosts", b""), ("etc/app.conf", b"x=1\n"), ("cache", None),
                     ("cache/junk", b"from the mount"), ("data.keep", b"payload" * 1000)])
    out = io.BytesIO()
    assert filter_layer(source, out, [*ENGINE_MOUNTS, "/cache"]) is True
    assert entries(out.getvalue()) == [("etc", None), ("etc/app.conf", b"x=1\n"), ("data.keep", b"payload" * 1000)]
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as archive:
        assert archive.getmember("data.keep").pax_headers["SCHILY.xattr.user.note"] == "kept"


def test_a_diff_without_mount_points_is_used_as_it_is() -> None:
    out = io.BytesIO()
    assert filter_layer(tar_of([("usr", None), ("usr/bin-tool", b"#!")]), out, ENGINE_MOUNTS) is None
    assert out.getvalue() == b""
