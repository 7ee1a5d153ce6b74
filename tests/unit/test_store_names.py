"""The container store finds a container by name through an index, kept over renames, removals and a reload."""

from __future__ import annotations

from pathlib import Path

from moor.containers.record import Container, ContainerStore


def _container(number: int, name: str) -> Container:
    return Container(id=f"{number:064x}", name=name, created="", image_id="", image="busybox", path="true", args=[],
                     config={}, host_config={})


def test_names_found_after_save_rename_delete_and_reload(tmp_path: Path) -> None:
    store = ContainerStore(str(tmp_path))
    first, second = _container(1, "web"), _container(2, "db")
    store.save(first)
    store.save(second)
    assert store.by_name("web") is first and store.by_name("/db") is second and store.by_name("cache") is None
    first.name = "front"  # a rename: the record is saved with its new name
    store.save(first)
    assert store.by_name("front") is first and store.by_name("web") is None
    third = _container(3, "web")  # the old name is free again
    store.save(third)
    assert store.by_name("web") is third
    store.delete(third.id)
    assert store.by_name("web") is None
    store.forget(second.id)
    assert store.by_name("db") is None
    reloaded = ContainerStore(str(tmp_path))
    found = reloaded.by_name("front")
    assert found is not None and found.id == first.id and reloaded.find("front") is found
    assert reloaded.by_name("web") is None
