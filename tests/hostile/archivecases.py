"""Malicious archives for ``load``, ``import`` and ``PUT /containers/{id}/archive``.

Every builder takes the sentinel directory (a host directory outside the data root that escapes aim
at: it holds ``target``, a file hard links and writes aim at, and ``victim``, a file whiteouts aim at) and
returns the bytes to send. :data:`CASES` pairs each with the statuses a sound daemon answers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Member = tuple[tarfile.TarInfo, bytes | None] | tarfile.TarInfo
Builder = Callable[[str], bytes]

#: the decompressed size of the bombs: past moor's guard (1 GiB at 100x), made of repeated 64 MiB members
BOMB_BYTES = (1 << 30) + (128 << 20)


def info(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, **fields: Any) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.size = size
    member.mode = fields.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
    member.mtime = fields.pop("mtime", 1_700_000_000)
    for key, value in fields.items():
        setattr(member, key, value)
    return member


def file(name: str, data: bytes = b"pwned\n", **fields: Any) -> tuple[tarfile.TarInfo, bytes]:
    return info(name, size=len(data), **fields), data


def tar(members: list[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for entry in members:
            member, data = (entry, None) if isinstance(entry, tarfile.TarInfo) else entry
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


# ----------------------------------------------------------------------------- layer (rootfs) contents
def escapes(sentinel: str) -> dict[str, list[Member]]:
    """Tar contents that try to reach the sentinel directory, by name: each is a rootfs or layer."""
    up = "../" * 12 + sentinel.lstrip("/")
    return {
        "dotdot": [file(f"{up}/pwned")],
        "dotdot-inner": [info("a", tarfile.DIRTYPE), file(f"a/../../{'../' * 10}{sentinel.lstrip('/')}/pwned")],
        "absolute": [file(f"{sentinel}/pwned")],
        "symlink-then-write": [info("esc", tarfile.SYMTYPE, linkname=sentinel), file("esc/pwned")],
        "symlink-relative-then-write": [info("esc", tarfile.SYMTYPE, linkname=up), file("esc/pwned")],
        "symlink-chain": [info("l1", tarfile.SYMTYPE, linkname="l2"), info("l2", tarfile.SYMTYPE, linkname=sentinel),
                          file("l1/pwned")],
        "symlink-then-dir": [info("esc", tarfile.SYMTYPE, linkname=sentinel), info("esc/newdir", tarfile.DIRTYPE)],
        "hardlink-absolute": [info("hl", tarfile.LNKTYPE, linkname=f"{sentinel}/target"), file("hl", b"overwritten")],
        "hardlink-dotdot": [info("hl", tarfile.LNKTYPE, linkname=f"{up}/target")],
        "hardlink-through-symlink": [info("esc", tarfile.SYMTYPE, linkname=sentinel),
                                     info("hl", tarfile.LNKTYPE, linkname="esc/target")],
        "whiteout-dotdot": [file(f"{up}/.wh.victim", b"")],
        "whiteout-through-symlink": [info("esc", tarfile.SYMTYPE, linkname=sentinel), file("esc/.wh.victim", b"")],
        "opaque-through-symlink": [info("esc", tarfile.SYMTYPE, linkname=sentinel), file("esc/.wh..wh..opq", b"")],
    }


def odd_members() -> dict[str, list[Member]]:
    """Contents that stay inside but are unusual: device nodes, fifos, odd names, duplicates."""
    return {
        "device-nodes": [info("dev", tarfile.DIRTYPE), info("dev/mem2", tarfile.CHRTYPE, devmajor=1, devminor=1),
                         info("dev/sda9", tarfile.BLKTYPE, devmajor=8, devminor=0), info("fifo", tarfile.FIFOTYPE)],
        "setuid-file": [file("suid", b"#!/bin/sh\n", mode=0o4755)],
        "non-utf8-name": [file("caf\udce9")],
        "duplicate-entries": [file("dup", b"one"), file("dup", b"two"), info("dup", tarfile.DIRTYPE)],
        "dot-entries": [info(".", tarfile.DIRTYPE, mode=0o700), info("./", tarfile.DIRTYPE), file("./x")],
    }


def pax(member: tarfile.TarInfo, headers: dict[str, str]) -> tarfile.TarInfo:
    member.pax_headers = headers
    return member


def header_bombs() -> dict[str, list[Member]]:
    """Header tricks: huge PAX records, CPU-costly digit runs, sparse entries declaring a terabyte."""
    sparse_map = b"1\n%d\n1\n" % ((1 << 40) - 1)
    sparse_map += b"\0" * (512 - len(sparse_map))
    return {
        "pax-huge": [(pax(info("big", size=1), {"comment": "x" * (8 << 20)}), b"x")],
        "pax-digits": [(pax(info("slow", size=1), {"comment": "0" * 900_000}), b"x")],
        "pax-many-records": [(pax(info("many", size=1), {f"MOOR.k{i}": "v" for i in range(60_000)}), b"x")],
        "sparse-01-terabyte": [(pax(info("bomb", size=1), {"GNU.sparse.size": str(1 << 40),
                                                          "GNU.sparse.map": f"{(1 << 40) - 1},1"}), b"x")],
        "sparse-10-terabyte": [(pax(info("bomb", size=513), {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                                                            "GNU.sparse.realsize": str(1 << 40),
                                                            "GNU.sparse.name": "bomb"}), sparse_map + b"x")],
        "sparse-negative": [(pax(info("bomb", size=1), {"GNU.sparse.size": "-1", "GNU.sparse.map": "-5,1"}), b"x")],
        "pax-mtime-inf": [(pax(info("t", size=1), {"mtime": "1e999"}), b"x")],
        "pax-mtime-nan": [(pax(info("t", size=1), {"mtime": "nan"}), b"x")],
        "pax-uid-negative": [(pax(info("t", size=1), {"uid": "-1", "gid": "-1"}), b"x")],
        "pax-uid-huge": [(pax(info("t", size=1), {"uid": str(2**80), "gid": str(2**80)}), b"x")],
        "pax-size-negative": [(pax(info("t", size=1), {"size": "-512"}), b"x")],
        "pax-path-nul": [(pax(info("t", size=1), {"path": "a\x00b"}), b"x")],
        "pax-linkpath-escape": [(pax(info("t", tarfile.SYMTYPE), {"linkpath": "/" + "x" * 5000}), None)],
    }


def _zeros_tar() -> bytes:
    """A tar header for one file of BOMB_BYTES zeros (the zeros themselves are streamed by the bombs)."""
    header = info("zeros", size=BOMB_BYTES).tobuf(tarfile.PAX_FORMAT)
    return header


def gzip_bomb(prefix: bytes) -> bytes:
    """``prefix`` then BOMB_BYTES zeros, as one gzip member (~5 MiB: a ratio past 200)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"\0" * (64 << 20)
    parts = [compressor.compress(prefix)]
    parts += [compressor.compress(block) for _ in range(BOMB_BYTES // len(block) + 1)]
    return b"".join(parts) + compressor.flush()


def xz_bomb(prefix: bytes) -> bytes:
    """The same bomb, xz-compressed, as one stream (xz streams do not repeat as gzip members do)."""
    compressor = lzma.LZMACompressor(preset=1)
    parts = [compressor.compress(prefix)]
    block = b"\0" * (64 << 20)
    for _ in range(BOMB_BYTES // len(block) + 1):
        parts.append(compressor.compress(block))
    parts.append(compressor.flush())
    return b"".join(parts)


# ----------------------------------------------------------------------------- docker-save archives
def docker_save(layers: list[bytes], config: dict[str, Any] | None = None, config_bytes: bytes | None = None,
                manifest: Any = None, extra: list[Member] | None = None, tag: str = "hostile/load:latest",
                diff_ids: list[str] | None = None) -> bytes:
    """A docker-save archive of one image of ``layers`` (tar bytes, maybe compressed), with overrides."""
    names = [f"{hashlib.sha256(layer).hexdigest()}/layer.tar" for layer in layers]
    if diff_ids is None:
        diff_ids = []
        for layer in layers:
            plain = gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer
            diff_ids.append("sha256:" + hashlib.sha256(plain).hexdigest())
    if config_bytes is None:
        config_bytes = json.dumps(config if config is not None else {
            "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    if manifest is None:
        manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": names}]
    members = [file(name, layer) for name, layer in zip(names, layers)]
    members += [file(config_name, config_bytes), file("manifest.json", json.dumps(manifest).encode())]
    return tar(members + (extra or []))


def _layer(members: list[Member]) -> bytes:
    return tar(members)


PLAIN = _layer([info("etc", tarfile.DIRTYPE), file("etc/hello", b"hello\n")])
PLAIN_NAME = hashlib.sha256(PLAIN).hexdigest() + "/layer.tar"


def _config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(PLAIN).hexdigest()]},
    }
    config.update(overrides)
    return config


def _raw_config(text: str) -> Builder:
    """A config given as raw JSON text (``1e999`` and the like), the manifest pointing at it."""
    return lambda sentinel: docker_save([PLAIN], config_bytes=text.encode())


# ----------------------------------------------------------------------------- the cases
@dataclass
class ArchiveCase:
    id: str
    target: str  # "load", "import" or "put"
    build: Builder
    expect: frozenset[int]
    #: a word the refusal's message must contain (lower case), "" when any one-line message will do
    says: str = ""


REFUSED = frozenset({400})
CONTAINED = frozenset({200})
LOAD_OK = frozenset({200})
CASES: list[ArchiveCase] = []


def add(case_id: str, target: str, build: Builder, expect: frozenset[int], says: str = "") -> None:
    CASES.append(ArchiveCase(f"{target}-{case_id}", target, build, expect, says))


def _escape_builder(name: str, wrap: Callable[[bytes], bytes]) -> Builder:
    return lambda sentinel: wrap(tar(escapes(sentinel)[name]))


def _members_builder(members: list[Member], wrap: Callable[[bytes], bytes]) -> Builder:
    return lambda sentinel: wrap(tar(members))


def _as_load(layer: bytes) -> bytes:
    return docker_save([layer])


def _same(data: bytes) -> bytes:
    return data


#: where each target may refuse or contain an escape: all must leave the sentinel untouched
for _name in escapes("/s"):
    add(_name, "load", _escape_builder(_name, _as_load), REFUSED | CONTAINED)
    add(_name, "import", _escape_builder(_name, _same), REFUSED | CONTAINED)
    add(_name, "put", _escape_builder(_name, _same), REFUSED | CONTAINED)
for _name, _members in odd_members().items():
    add(_name, "load", _members_builder(_members, _as_load), CONTAINED)
    add(_name, "import", _members_builder(_members, _same), CONTAINED)
    add(_name, "put", _members_builder(_members, _same), CONTAINED)
for _name, _members in header_bombs().items():
    _expect = REFUSED if not _name.startswith(("pax-uid", "pax-linkpath", "pax-many")) else REFUSED | CONTAINED
    add(_name, "load", _members_builder(_members, _as_load), _expect)
    add(_name, "import", _members_builder(_members, _same), _expect)
    add(_name, "put", _members_builder(_members, _same), _expect)
add("gzip-bomb-layer", "load", lambda s: docker_save([gzip_bomb(_zeros_tar())],
                                                     diff_ids=["sha256:" + "0" * 64]), REFUSED, "bomb")
add("xz-bomb", "import", lambda s: xz_bomb(_zeros_tar()), REFUSED, "bomb")
add("gzip-bomb", "put", lambda s: gzip_bomb(_zeros_tar()), REFUSED, "bomb")
for _target in ("load", "import", "put"):
    add("truncated", _target, lambda s: docker_save([PLAIN])[:1500] if True else b"", REFUSED)
    # docker load streams "Error processing tar file(...)" with a 200 for data that is no tar, as Docker 20.10
    add("not-a-tar", _target, lambda s: b"\x01" + os.urandom(4095), CONTAINED if _target == "load" else REFUSED)
    add("zero-blocks-only", _target, lambda s: b"\0" * 10240, REFUSED | CONTAINED)
    add("bad-checksum", _target, lambda s: PLAIN[:148] + b"0000000\0" + PLAIN[156:],
        CONTAINED if _target == "load" else REFUSED)
    add("truncated-gzip", _target, lambda s: gzip.compress(PLAIN)[:-20], REFUSED)
    add("garbage-after-gzip", _target, lambda s: gzip.compress(PLAIN) + os.urandom(300), REFUSED | CONTAINED)
add("empty-body", "load", lambda s: b"", REFUSED)
add("empty-body", "import", lambda s: b"", REFUSED | CONTAINED)
add("manifest-config-dotdot", "load", lambda s: docker_save(
    [PLAIN], manifest=[{"Config": "../../../../../etc/passwd", "RepoTags": [], "Layers": []}]), REFUSED)
add("manifest-config-absolute", "load", lambda s: docker_save(
    [PLAIN], manifest=[{"Config": "/etc/passwd", "RepoTags": [], "Layers": []}]), REFUSED)
add("manifest-layer-dotdot", "load", lambda s: docker_save(
    [PLAIN], manifest=[{"Config": "x.json", "RepoTags": [], "Layers": ["../../../../etc/passwd"]}]), REFUSED)
add("manifest-layer-symlink-out", "load", lambda s: docker_save(
    [PLAIN], manifest=[{"Config": hashlib.sha256(json.dumps(_config()).encode()).hexdigest() + ".json",
                        "RepoTags": [], "Layers": ["evil/layer.tar"]}], config=_config(),
    extra=[info("evil", tarfile.DIRTYPE), info("evil/layer.tar", tarfile.SYMTYPE, linkname="/etc/shadow")]),
    REFUSED)
add("manifest-not-json", "load", lambda s: tar([file("manifest.json", b"{not json")]), REFUSED)
add("manifest-object", "load", lambda s: docker_save([PLAIN], manifest={"Config": "x"}), REFUSED)
add("manifest-empty-list", "load", lambda s: docker_save([PLAIN], manifest=[]), REFUSED | CONTAINED)
add("manifest-deep", "load", lambda s: tar([file("manifest.json", b"[" * 100_000 + b"]" * 100_000)]), REFUSED)
add("manifest-tags-upper", "load", lambda s: docker_save([PLAIN], tag="UPPER:tag"), REFUSED)
add("manifest-tags-number", "load", lambda s: docker_save(
    [PLAIN], manifest=[{"Config": "x.json", "RepoTags": [1], "Layers": []}]), REFUSED)
add("manifest-duplicate", "load", lambda s: docker_save(
    [PLAIN], extra=[file("manifest.json", b'[{"Config": "../../etc/passwd", "Layers": []}]')]), REFUSED | LOAD_OK)
add("config-digest-mismatch", "load", lambda s: tar([
    file(PLAIN_NAME, PLAIN), file("0" * 64 + ".json", json.dumps(_config()).encode()),
    file("manifest.json", json.dumps([{"Config": "0" * 64 + ".json", "RepoTags": [],
                                       "Layers": [PLAIN_NAME]}]).encode())]), REFUSED | LOAD_OK)
add("diff-id-mismatch", "load", lambda s: docker_save([PLAIN], diff_ids=["sha256:" + "1" * 64]), REFUSED)
add("diff-id-malformed", "load", lambda s: docker_save([PLAIN], diff_ids=["sha256:../../../etc"]), REFUSED)
add("layer-not-tar", "load", lambda s: docker_save([os.urandom(2048)]), REFUSED)
add("layer-missing", "load", lambda s: docker_save(
    [PLAIN], manifest=[{"Config": "x.json", "RepoTags": [], "Layers": ["nope/layer.tar"]}]), REFUSED)
add("too-many-layers", "load", lambda s: docker_save(
    [_layer([file(f"f{i}", str(i).encode())]) for i in range(130)]), REFUSED, "max depth exceeded")
for _label, _config_value in {
    "config-string": _config(config="not an object"),
    "config-env-string": _config(config={"Env": "PATH=/bin"}),
    "config-cmd-number": _config(config={"Cmd": 1}),
    "config-labels-list": _config(config={"Labels": ["a"]}),
    "config-exposed-list": _config(config={"ExposedPorts": ["80/tcp"]}),
    "created-number": _config(created=12),
    "created-garbage": _config(created="yesterday"),
    "rootfs-list": _config(rootfs=[]),
    "rootfs-type-bad": _config(rootfs={"type": "nope", "diff_ids": []}),
    "diff-ids-string": _config(rootfs={"type": "layers", "diff_ids": "sha256:00"}),
    "history-object": _config(history={"a": 1}),
    "history-entries-wrong": _config(history=[{"created": 1, "empty_layer": "yes"}]),
    "architecture-number": _config(architecture=64),
    "os-list": _config(os=["linux"]),
}.items():
    add(_label, "load", (lambda value: lambda s: docker_save([PLAIN], config=value))(_config_value), REFUSED)
add("created-1e999", "load", _raw_config(
    json.dumps(_config()).replace('"2024-01-01T00:00:00Z"', "1e999")), REFUSED)
add("config-not-json", "load", _raw_config("{not json"), REFUSED)
add("config-list", "load", _raw_config("[]"), REFUSED)
add("config-deep", "load", _raw_config("[" * 100_000 + "]" * 100_000), REFUSED)
