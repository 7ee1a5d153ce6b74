"""Which containers' ``runc create`` runs without the other roots (moor.containers.launch.root_hiding)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moor.containers.launch import root_hiding

HOME = "/var/lib/moor/storage/overlay"
ROOT = f"{HOME}/c1/merged"


def bundle(tmp_path: Path, *binds: str) -> str:
    mounts = [{"destination": "/proc", "type": "proc", "source": "proc"},
              {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/moor/containers/c1/hosts",
               "options": ["rbind", "rprivate"]}]
    mounts += [{"destination": f"/b{n}", "type": "none", "source": source, "options": ["rbind", "ro"]}
               for n, source in enumerate(binds)]
    (tmp_path / "config.json").write_text(json.dumps({"root": {"path": ROOT}, "mounts": mounts}))
    return str(tmp_path)


def test_the_own_root_is_kept_and_the_home_hidden(tmp_path: Path) -> None:
    assert root_hiding(bundle(tmp_path, "/srv/data"), HOME) == ["--hide-roots", HOME, "--rootfs", ROOT]


def test_nothing_without_a_home_mount_or_when_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert root_hiding(bundle(tmp_path), "") == []
    monkeypatch.setenv("MOOR_HIDE_ROOTS", "0")
    assert root_hiding(bundle(tmp_path), HOME) == []


@pytest.mark.parametrize("source", ["/", "/var/lib", "/var/lib/moor/storage", "/var/lib/moor/storage/overlay/c2",
                                    "/var/lib/moor/storage/../storage/overlay"])
def test_a_bind_reaching_the_storage_root_sees_what_it_saw(tmp_path: Path, source: str) -> None:
    assert root_hiding(bundle(tmp_path, source), HOME) == ["--hide-roots", HOME]  # runc create sees every root


def test_an_exec_hides_every_root(tmp_path: Path) -> None:
    assert root_hiding(str(tmp_path / "nothing-read"), HOME, exec_process="process.json") == ["--hide-roots", HOME]


def test_a_neighbour_of_the_storage_root_is_no_reason(tmp_path: Path) -> None:
    assert root_hiding(bundle(tmp_path, "/var/lib/moor/storage-old", "/var/lib/moor/volumes"), HOME) != []
