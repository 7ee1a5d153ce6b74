"""The build cache (moor.services.build.cache) over a fake storage driver: hits and misses, the cache kept
through ``rmi``, ``--cache-from``, ``builder prune``, ``system df`` rows, cache mounts, and records a crash
left half-written."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from moor.errors import Conflict, InvalidParameter, MoorError
from moor.images.store import ImageRecord, ImageStore, chain_ids
from moor.services.build.cache import BuildCache, CacheAwareImageUsers, entry_id
from moor.services.images import ImageService, NoImageUsers
from moor.testing.fakes import add_image, fake_drivers, layer_tar

API_FIELDS = {"ID", "Parent", "Type", "Description", "InUse", "Shared", "Size", "CreatedAt", "LastUsedAt",
              "UsageCount"}


class Builder:
    """An image store, its build cache and an image service that keeps what the cache holds."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.drivers = fake_drivers(tmp / "drivers")
        self.open()

    def open(self) -> None:
        """(Re)open the stores as moord does at start: the cache first, then the image service's recovery."""
        self.store = ImageStore(str(self.tmp / "image"), self.drivers.storage)
        self.cache = BuildCache(self.store, str(self.tmp / "build"))
        self.images = ImageService(self.store, CacheAwareImageUsers(NoImageUsers(), self.cache))
        self.images.recover()

    def step(self, parent: ImageRecord, created_by: str, files: dict[str, bytes | str] | None = None,
             config: dict[str, Any] | None = None) -> ImageRecord:
        """An image as a build step makes it on ``parent``: a layer of ``files`` (none: a config-only step)."""
        diff_ids = list(parent.diff_ids)
        entry: dict[str, Any] = {"created": "2026-01-01T00:00:01Z", "created_by": created_by}
        if files is not None:
            layer = self.store.add_layer(parent.top_layer, io.BytesIO(layer_tar(files)))
            diff_ids.append(layer.diff_id)
        else:
            entry["empty_layer"] = True
        document = {"architecture": "amd64", "os": "linux", "created": entry["created"],
                    "config": config if config is not None else dict(parent.config.get("config") or {}),
                    "history": list(parent.config.get("history") or []) + [entry],
                    "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        return self.store.add_image(json.dumps(document, separators=(",", ":")).encode(), parent=parent.id)

    def build(self, base: ImageRecord, steps: list[tuple[str, dict[str, bytes | str] | None]],
              tag: str = "", session: Any = None) -> list[ImageRecord]:
        """Each step looked up in the cache (or a session of it), else made and recorded (key: its created_by);
        the images made."""
        made, parent = [], base
        cache = session if session is not None else self.cache
        for created_by, files in steps:
            image = cache.lookup(parent.id, created_by)
            if image is None:
                image = self.step(parent, created_by, files)
                cache.record(parent.id, created_by, image)
            made.append(image)
            parent = image
        if tag:
            self.images.tag(parent.id, tag, "latest")
        return made


STEPS: list[tuple[str, dict[str, bytes | str] | None]] = [
    ("/bin/sh -c echo one > /one", {"one": b"one\n" * 100}),
    ("/bin/sh -c #(nop)  ENV A=b", None),
    ("/bin/sh -c echo two > /two", {"two": b"two\n" * 200}),
]


@pytest.fixture
def builder(tmp_path: Path) -> Builder:
    return Builder(tmp_path)


@pytest.fixture
def base(builder: Builder) -> ImageRecord:
    """A base image with its history, as pulled ones have."""
    layer = builder.store.add_layer(None, io.BytesIO(layer_tar({"bin/sh": b"#!fake\n"})))
    document = {"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
                "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:x in / "},
                            {"created": "2026-01-01T00:00:00Z", "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                             "empty_layer": True}]}
    image = builder.store.add_image(json.dumps(document).encode())
    builder.images.tag(image.id, "base", "latest")
    return image


def layers_of(image: ImageRecord) -> list[str]:
    return chain_ids(image.diff_ids)


def test_a_step_never_recorded_misses(builder: Builder, base: ImageRecord) -> None:
    assert builder.cache.lookup(base.id, "/bin/sh -c true") is None
    assert builder.cache.usage() == []


def test_a_recorded_step_hits_with_the_same_image(builder: Builder, base: ImageRecord) -> None:
    first = builder.build(base, STEPS)
    second = builder.build(base, STEPS)
    assert [i.id for i in second] == [i.id for i in first]
    assert builder.cache.lookup(base.id, "/bin/sh -c echo other") is None
    assert builder.cache.lookup(first[0].id, STEPS[0][0]) is None  # another parent: another step
    rows = builder.cache.usage()
    assert len(rows) == 3 and all(set(row) == API_FIELDS for row in rows)
    assert [row["UsageCount"] for row in rows] == [2, 2, 2]  # made, then used once
    assert [row["Description"] for row in rows] == [s for s, _ in STEPS]
    assert rows[0]["Parent"] == "" and rows[1]["Parent"] == rows[0]["ID"] and rows[2]["Parent"] == rows[1]["ID"]
    assert rows[0]["Size"] > 0 and rows[1]["Size"] == 0 and rows[2]["Size"] > 0
    assert all(row["Type"] == "regular" and row["Shared"] and not row["InUse"] for row in rows)


def test_a_hit_is_written_when_the_session_ends_without_a_rewrite_per_step(builder: Builder,
                                                                            base: ImageRecord) -> None:
    first = builder.build(base, STEPS)
    path = os.path.join(builder.cache.records_dir, entry_id(base.id, STEPS[0][0]) + ".json")
    written = os.stat(path).st_mtime_ns, Path(path).read_bytes()
    session = builder.cache.session()
    assert session.lookup(base.id, STEPS[0][0]) == first[0]
    assert (os.stat(path).st_mtime_ns, Path(path).read_bytes()) == written  # a hit rewrites nothing
    session.close()
    assert json.loads(Path(path).read_text())["usage_count"] == 2
    builder.open()  # what moord reads when it starts again
    assert next(row["UsageCount"] for row in builder.cache.usage()) == 2


def test_the_cache_survives_rmi_of_the_final_image(builder: Builder, base: ImageRecord) -> None:
    made = builder.build(base, STEPS, tag="app")
    report = builder.images.remove("app")
    assert {"Deleted": made[-1].id} in report and {"Deleted": made[0].id} in report  # the parents went too
    assert not any(r.get("Deleted") in layers_of(made[-1]) for r in report)  # the cache keeps the layers
    assert builder.store.get(made[-1].id) is None
    again = builder.build(base, STEPS)
    assert [i.id for i in again] == [i.id for i in made]
    remade = builder.store.get(made[-1].id)
    assert remade is not None and remade.parent == made[1].id


def test_without_the_cache_holds_rmi_takes_the_layers_and_the_record_goes(tmp_path: Path) -> None:
    builder = Builder(tmp_path)
    base = add_image(builder.store, "base:latest")
    made = builder.build(base, STEPS, tag="app")
    plain = ImageService(builder.store)  # an image service that does not ask the cache
    plain.remove("app")
    assert builder.store.get_layer(layers_of(made[-1])[-1]) is None
    assert builder.cache.lookup(made[1].id, STEPS[2][0]) is None
    assert len(builder.cache.usage()) == 2


def test_layers_held_by_the_cache_survive_the_garbage_collection_at_start(builder: Builder,
                                                                           base: ImageRecord) -> None:
    made = builder.build(base, STEPS, tag="app")
    builder.images.remove("app")
    builder.open()  # a restart: collect_garbage removes unused layers, but not the cache's
    assert all(builder.store.get_layer(c) is not None for c in layers_of(made[-1]))
    assert [i.id for i in builder.build(base, STEPS)] == [i.id for i in made]


def test_prune_frees_the_layers_no_image_uses(builder: Builder, base: ImageRecord) -> None:
    made = builder.build(base, STEPS, tag="app")
    assert builder.cache.prune({}, False, 0) == {"CachesDeleted": None, "SpaceReclaimed": 0}  # all shared
    builder.images.remove("app")
    rows = builder.cache.usage()
    assert not any(row["Shared"] for row in rows)
    report = builder.cache.prune({}, False, 0)
    assert sorted(report["CachesDeleted"]) == sorted(row["ID"] for row in rows)
    assert report["SpaceReclaimed"] == sum(row["Size"] for row in rows) > 0
    assert all(builder.store.get_layer(c) is None for c in layers_of(made[-1])[1:])
    assert builder.store.get_layer(layers_of(base)[0]) is not None  # the base image's layer stays
    assert builder.cache.usage() == []
    assert builder.cache.lookup(base.id, STEPS[0][0]) is None


def test_prune_all_forgets_steps_whose_images_remain(builder: Builder, base: ImageRecord) -> None:
    made = builder.build(base, STEPS, tag="app")
    report = builder.cache.prune({}, True, 0)
    assert len(report["CachesDeleted"]) == 3 and report["SpaceReclaimed"] == 0  # the images use the layers
    assert builder.cache.lookup(base.id, STEPS[0][0]) is None
    assert all(builder.store.get_layer(c) is not None for c in layers_of(made[-1]))
    builder.images.remove("app")  # now nothing holds them
    assert all(builder.store.get_layer(c) is None for c in layers_of(made[-1])[1:])


def test_keep_storage_prunes_the_least_recently_used_first(builder: Builder, base: ImageRecord) -> None:
    old = builder.build(base, [("/bin/sh -c old", {"old": b"o" * 40000})])[0]
    time.sleep(0.01)
    new = builder.build(base, [("/bin/sh -c new", {"new": b"n" * 40000})])[0]
    for image in (old, new):
        builder.store.delete_image(image.id, builder.images.usage.layer_in_use)
    sizes = {row["Description"]: row["Size"] for row in builder.cache.usage()}
    report = builder.cache.prune({}, False, sizes["/bin/sh -c new"])
    assert len(report["CachesDeleted"]) == 1 and report["SpaceReclaimed"] == sizes["/bin/sh -c old"]
    assert builder.cache.lookup(base.id, "/bin/sh -c old") is None
    assert builder.cache.lookup(base.id, "/bin/sh -c new") is not None
    assert builder.cache.prune({}, False, 10**9)["CachesDeleted"] is None  # already below the bound


def test_prune_filters(builder: Builder, base: ImageRecord) -> None:
    builder.build(base, STEPS)
    for image in builder.store.images():
        if image.id != base.id:
            builder.store.delete_image(image.id, builder.images.usage.layer_in_use)
    rows = builder.cache.usage()
    assert builder.cache.prune({"until": ["1h"]}, True, 0)["CachesDeleted"] is None  # all used just now
    assert builder.cache.prune({"id": ["^zzz"]}, True, 0)["CachesDeleted"] is None
    report = builder.cache.prune({"id": [rows[2]["ID"]]}, True, 0)
    assert report["CachesDeleted"] == [rows[2]["ID"]]
    report = builder.cache.prune({"description": [STEPS[1][0]]}, True, 0)
    assert report["CachesDeleted"] == [rows[1]["ID"]]
    with pytest.raises(InvalidParameter, match="invalid filter 'color'"):
        builder.cache.prune({"color": ["red"]}, True, 0)
    with pytest.raises(InvalidParameter, match='conflicting filters: "until" and "unused-for"'):
        builder.cache.prune({"until": ["1h"], "unused-for": ["1h"]}, True, 0)
    with pytest.raises(InvalidParameter, match="expects a duration"):
        builder.cache.prune({"until": ["soon"]}, True, 0)
    with pytest.raises(InvalidParameter, match="filters expect only one value"):
        builder.cache.prune({"id": ["a", "b"]}, True, 0)
    assert builder.cache.prune({"unused-for": ["0s"]}, True, 0)["CachesDeleted"] == [rows[0]["ID"]]


def test_a_half_written_record_is_ignored_and_removed(builder: Builder, base: ImageRecord) -> None:
    made = builder.build(base, STEPS[:1])
    records = Path(builder.cache.records_dir)
    whole = records / (entry_id(base.id, STEPS[0][0]) + ".json")
    half = records / (entry_id(base.id, "/bin/sh -c half") + ".json")
    half.write_bytes(whole.read_bytes()[:100])  # a crash in the middle of a write that did not rename
    (records / ".tmp-abc123").write_bytes(b'{"id": ')
    wrong = records / (entry_id(base.id, "/bin/sh -c wrong") + ".json")
    data = json.loads(whole.read_bytes())
    data["config"] = data["config"].replace("amd64", "arm64")  # no longer the image's config
    wrong.write_text(json.dumps(data))
    odd = records / (entry_id(base.id, "/bin/sh -c odd") + ".json")
    data = json.loads(whole.read_bytes())
    data.update(id=odd.name[:-5], chains=[[1]])  # not what moor writes
    odd.write_text(json.dumps(data))
    for name, changes in (("rootfs", {"config": '{"rootfs": [1]}'}), ("far", {"created": 1e20})):
        path = records / (entry_id(base.id, name) + ".json")
        data = json.loads(whole.read_bytes())
        data.update(id=path.name[:-5], **changes)
        if "config" in changes:
            data["image_id"] = "sha256:" + hashlib.sha256(changes["config"].encode()).hexdigest()
        path.write_text(json.dumps(data))
    builder.open()
    assert sorted(os.listdir(records)) == [whole.name]
    assert len(builder.cache.usage()) == 1
    assert builder.cache.lookup(base.id, STEPS[0][0]).id == made[0].id  # type: ignore[union-attr]


def test_a_record_whose_layer_is_gone_is_dropped(builder: Builder, base: ImageRecord) -> None:
    made = builder.build(base, STEPS[:1], tag="app")
    builder.cache.prune({}, True, 0)  # only the records go: the image holds the layer ...
    builder.cache.record(base.id, STEPS[0][0], made[0])
    builder.store.delete_image(made[0].id, lambda key: False)  # ... then the layer goes behind its back
    builder.open()
    assert builder.cache.usage() == []
    assert builder.cache.lookup(base.id, STEPS[0][0]) is None


def test_cache_from_matches_a_source_image_history(builder: Builder, base: ImageRecord) -> None:
    source = builder.build(base, STEPS, tag="source")[-1]
    builder.cache.prune({}, True, 0)  # nothing local: only the source can help
    for image in builder.store.images():
        if image.id not in (base.id, source.id):
            builder.store.delete_image(image.id, builder.images.usage.layer_in_use)
    sources = builder.cache.cache_from([source])
    config = dict(base.config.get("config") or {})
    first = sources.match(base.id, STEPS[0][0], config)
    assert first is not None and first.diff_ids == source.diff_ids[:2] and first.parent == base.id
    assert [h["created_by"] for h in first.config["history"]][2:] == [STEPS[0][0]]
    second = sources.match(first.id, STEPS[1][0], dict(config, Env=["A=b"]))
    assert second is not None and second.diff_ids == first.diff_ids
    assert second.config["config"]["Env"] == ["A=b"]
    assert sources.match(second.id, STEPS[2][0], config) == source  # the source's last step: itself
    assert sources.match(base.id, "/bin/sh -c echo other", config) is None
    assert sources.match(first.id, STEPS[2][0], config) is None  # the history does not continue so
    other = add_image(builder.store, "other:latest", {"bin/sh": b"other\n"})
    assert sources.match(other.id, STEPS[0][0], config) is None  # another parent
    assert builder.cache.cache_from([other]).match(base.id, STEPS[0][0], config) is None
    assert not builder.cache.cache_from([])


def test_cache_from_vouches_only_for_ancestors_of_its_sources(builder: Builder, base: ImageRecord) -> None:
    """Docker's classic builder: with --cache-from, a local cache hit counts only when it is a parent (by the
    parent chain) of a source; with sources it could not find, none does."""
    chain = builder.build(base, STEPS, tag="source")
    sources = builder.cache.cache_from([chain[-1]])
    assert all(sources.vouches_for(image.id) for image in chain[:-1])
    assert not sources.vouches_for(chain[-1].id)  # the source itself comes from its history (match)
    other = add_image(builder.store, "other:latest", {"bin/sh": b"other\n"})
    assert not sources.vouches_for(other.id)
    assert not builder.cache.cache_from([]).vouches_for(chain[0].id)


def test_cache_mounts_shared_private_and_locked(builder: Builder) -> None:
    with builder.cache.mount_dir("/root/.cache") as first, builder.cache.mount_dir("/root/.cache") as again:
        assert first.path == again.path and os.path.isdir(first.path)
        Path(first.path, "data").write_bytes(b"x" * 10000)
        with builder.cache.mount_dir("/root/.cache", "private") as private:
            assert private.path != first.path
    with builder.cache.mount_dir("/root/.cache", "private") as private:
        assert private.path == first.path  # the first instance is free again
    assert Path(first.path, "data").exists()  # kept between builds

    order: list[str] = []
    lease = builder.cache.mount_dir("apt", "locked")

    def second() -> None:
        with builder.cache.mount_dir("apt", "locked"):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    order.append("first done")
    lease.release()
    thread.join(10)
    assert order == ["first done", "second"]
    with pytest.raises(InvalidParameter):
        builder.cache.mount_dir("apt", "exclusive")
    with builder.cache.mount_dir("apt", "locked"), pytest.raises(MoorError, match="cancelled"):
        builder.cache.mount_dir("apt", "shared", cancelled=lambda: True)  # a build that ends stops waiting
    with builder.cache.mount_dir("apt", "locked"):  # and left nothing behind that keeps the lock
        pass


def test_cache_mounts_are_listed_and_pruned(builder: Builder) -> None:
    with builder.cache.mount_dir("/root/.cache", mode=0o700) as lease:
        Path(lease.path, "data").write_bytes(b"x" * 10000)
        assert os.stat(lease.path).st_mode & 0o777 == 0o700
        rows = builder.cache.usage()
        assert [(r["Type"], r["InUse"], r["Description"]) for r in rows] == [
            ("exec.cachemount", True, "cached mount /root/.cache")]
        assert rows[0]["Size"] >= 10000 and rows[0]["UsageCount"] == 1
        assert builder.cache.prune({}, True, 0)["CachesDeleted"] is None  # in use
    report = builder.cache.prune({"type": ["exec.cachemount"]}, False, 0)
    assert report == {"CachesDeleted": [rows[0]["ID"]], "SpaceReclaimed": rows[0]["Size"]}
    assert not os.path.exists(lease.path) and builder.cache.usage() == []


def test_a_cache_mount_half_made_or_half_removed_is_cleaned_at_start(builder: Builder) -> None:
    root = Path(builder.cache.mounts.root)
    (root / ".tmp-abc").mkdir()
    (root / ".trash-def").mkdir()
    (root / "orphan.json").write_text("{")
    with builder.cache.mount_dir("keep") as lease:
        pass
    Path(lease.path + ".json").write_text('{"id": "keep", "created": 1e300, "last_used": "soon"}')
    builder.open()
    assert len(os.listdir(root)) == 2  # the directory and its record
    assert [row["CreatedAt"] for row in builder.cache.usage()] == ["1970-01-01T00:00:00Z"]


def test_cache_from_ignores_a_parent_whose_history_does_not_tell_its_layers(builder: Builder) -> None:
    bare = add_image(builder.store, "bare:latest")  # one layer, no history (as an import may have)
    source = builder.build(bare, STEPS)[-1]
    assert builder.cache.cache_from([source]).match(bare.id, STEPS[0][0], {}) is None


def test_the_engine_keeps_cached_layers_through_rmi_and_a_restart(tmp_path: Path) -> None:
    from moor.services.disk_usage import disk_usage
    from unit.test_container_service import FakeEngine

    fake = FakeEngine(tmp_path)
    engine = fake.engine
    builder = Builder.__new__(Builder)  # the engine's own store, cache and image service
    builder.store, builder.cache, builder.images = engine.images.store, engine.build_cache, engine.images
    made = builder.build(fake.image, STEPS, tag="app")
    usage = disk_usage(engine.images, engine.volumes, engine.build_cache)
    assert len(usage["BuildCache"]) == 3 and usage["BuilderSize"] == 0  # every record shared with an image
    engine.images.remove("app")
    usage = disk_usage(engine.images, engine.volumes, engine.build_cache)
    assert usage["BuilderSize"] == sum(row["Size"] for row in usage["BuildCache"]) > 0
    engine = fake.restart().engine
    assert engine.build_cache.lookup(made[1].id, STEPS[2][0]) is not None  # made again, its parent image gone
    assert engine.images.store.get(made[-1].id) is not None


def test_the_cli_build_cache_line_counts_what_no_image_shares() -> None:
    from moor.cli.images import _build_cache_row

    rows = [{"ID": "a", "Size": 1000, "Shared": False, "InUse": False},
            {"ID": "b", "Size": 5000, "Shared": True, "InUse": False},
            {"ID": "c", "Size": 300, "Shared": False, "InUse": True}]
    assert _build_cache_row(rows) == {"Type": "Build Cache", "TotalCount": "3", "Active": "1", "Size": "1.3kB",
                                      "Reclaimable": "1kB"}
    assert _build_cache_row([])["Size"] == "0B"


def test_cache_from_compares_history_times_as_instants(builder: Builder) -> None:
    """The builder writes a parent's history times as Go does (``.12Z``); an import wrote ``.120000000Z``."""
    layer = builder.store.add_layer(None, io.BytesIO(layer_tar({"bin/sh": b"#!fake\n"})))
    history = [{"created": "2026-01-01T00:00:00.120000000Z", "comment": "Imported from -"}]
    document = {"architecture": "amd64", "os": "linux", "created": history[0]["created"], "config": {},
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}, "history": history}
    base = builder.store.add_image(json.dumps(document).encode())
    source = builder.step(base, "/bin/sh -c #(nop)  ENV A=b", None, {"Env": ["A=b"]})
    rewritten = json.loads(builder.store.get_blob(source.id))
    rewritten["history"][0]["created"] = "2026-01-01T00:00:00.12Z"
    rewritten["history"].append({"created": "2026-01-01T00:00:02Z", "created_by": "/bin/sh -c true",
                                 "empty_layer": True})
    source = builder.store.add_image(json.dumps(rewritten).encode())
    first = builder.cache.cache_from([source]).match(base.id, "/bin/sh -c #(nop)  ENV A=b", {"Env": ["A=b"]})
    assert first is not None and first.id != source.id
    rewritten["history"][0]["created"] = "2026-01-01T00:00:00.13Z"  # another instant: another parent
    other = builder.store.add_image(json.dumps(rewritten).encode())
    assert builder.cache.cache_from([other]).match(base.id, "/bin/sh -c #(nop)  ENV A=b", {"Env": ["A=b"]}) is None


def test_builds_prunes_and_rmi_at_once_neither_deadlock_nor_break_the_cache(builder: Builder,
                                                                           base: ImageRecord) -> None:
    """Lookups remake images while prunes drop records and rmi drops images: the locks never wait in a circle,
    and afterwards every record still has all its layers. (A build step whose parent was removed under it may
    fail: removing what a running build uses is the user's race.)"""
    failures: list[BaseException] = []

    def builds() -> None:
        for number in range(30):
            try:
                with builder.cache.session() as session:
                    builder.build(base, STEPS[:1] + [(f"/bin/sh -c echo {number % 3}", {"n": str(number)})],
                                  session=session if number % 2 else None)
            except MoorError:
                pass  # its parent went under it
            except Exception as err:  # noqa: BLE001 - handed to the test
                failures.append(err)

    def removals() -> None:
        try:
            for number in range(30):
                builder.cache.prune({}, number % 2 == 0, 0)
                for image in builder.store.images():
                    if image.id != base.id:
                        try:
                            builder.store.delete_image(image.id, builder.images.usage.layer_in_use)
                        except Conflict:
                            pass  # the storage driver keeps a layer a running step built on
        except Exception as err:  # noqa: BLE001 - handed to the test
            failures.append(err)

    threads = [threading.Thread(target=builds), threading.Thread(target=removals)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads) and failures == []
    for path in Path(builder.cache.records_dir).iterdir():
        entry = json.loads(path.read_bytes())
        assert all(builder.store.get_layer(chain) is not None for chain in entry["chains"])


def test_a_running_build_keeps_what_it_uses_through_prune_and_rmi(builder: Builder, base: ImageRecord) -> None:
    made = builder.build(base, STEPS, tag="app")
    with builder.cache.session() as session:
        assert session.lookup(base.id, STEPS[0][0]) == made[0]
        step = builder.step(made[0], "/bin/sh -c new", {"new": b"new\n"})
        session.record(made[0].id, "/bin/sh -c new", step)
        other = builder.step(base, "/bin/sh -c other", {"other": b"x\n"})
        session.hold(other)
        rows = {row["Description"]: row for row in builder.cache.usage()}
        assert rows[STEPS[0][0]]["InUse"] and rows["/bin/sh -c new"]["InUse"] and not rows[STEPS[2][0]]["InUse"]
        builder.images.remove("app")
        builder.store.delete_image(step.id, builder.images.usage.layer_in_use)
        builder.store.delete_image(other.id, builder.images.usage.layer_in_use)
        report = builder.cache.prune({}, True, 0)
        assert sorted(report["CachesDeleted"]) == sorted(rows[s]["ID"] for s, _ in STEPS[1:])  # not those in use
        for image in (made[0], step, other):  # the build can go on from any of them
            assert all(builder.store.get_layer(c) is not None for c in layers_of(image))
        assert builder.store.get_layer(layers_of(made[2])[-1]) is None  # what the build did not use went
    assert not any(row["InUse"] for row in builder.cache.usage())
    builder.cache.prune({}, True, 0)
    assert builder.store.get_layer(layers_of(step)[-1]) is None and builder.store.get_layer(layers_of(other)[-1]) \
        is None


def test_image_prune_counts_only_the_layers_that_went(builder: Builder, base: ImageRecord) -> None:
    made = builder.build(base, STEPS)
    report = builder.images.prune(False, {})  # the dangling ones: the build's, not the tagged base
    assert {"Deleted": made[-1].id} in report["ImagesDeleted"] and {"Deleted": made[0].id} in report["ImagesDeleted"]
    assert report["SpaceReclaimed"] == 0  # the build cache keeps every layer the build made
    builder.cache.prune({}, True, 0)
    lone = builder.step(base, "/bin/sh -c lone", {"lone": b"l" * 5000})  # no record holds it
    size = builder.store.get_layer(layers_of(lone)[-1]).disk_size  # type: ignore[union-attr]
    assert builder.images.prune(False, {})["SpaceReclaimed"] == size > 0  # its layer, not the base's
