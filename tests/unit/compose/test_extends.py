"""``extends``: same file, another file (its relative paths against its own directory), chains and cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from moor.compose.errors import ComposeFileError
from unit.compose.loaddata import copy_data, load, write


def test_extends_from_another_file_resolves_its_paths_there(tmp_path: Path) -> None:
    root = copy_data("extends", tmp_path)
    project = load(root)
    web = project.services["web"]
    common = root / "common"
    assert web["image"] == "example/app"
    assert web["labels"] == {"from": "minimal"}
    assert web["build"] == {"context": str(common / "app"), "dockerfile": "Dockerfile"}
    assert web["volumes"][0]["source"] == str(common / "static")
    assert web["env_file"] == [{"path": str(common / "base.env"), "required": True}]
    assert web["environment"] == {"FROM_BASE_FILE": "1", "LEVEL": "web", "BASE": "yes"}
    assert [p["target"] for p in web["ports"]] == [8000, 9000]
    assert "extends" not in web
    # worker extends web of the same file, which extends a service of another file
    worker = project.services["worker"]
    assert worker["command"] == ["worker"]
    assert worker["environment"]["LEVEL"] == "worker"
    assert worker["build"]["context"] == str(common / "app")


def test_an_extends_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
        services:
          a: {extends: b, image: x}
          b: {extends: c}
          c: {extends: a}
    """})
    with pytest.raises(ComposeFileError, match=r"Circular reference: a in .*compose.yaml, extends b in .*, "
                                               r"extends c in .*, extends a in"):
        load(tmp_path)


def test_an_extends_cycle_across_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "services:\n  a: {extends: {file: other.yaml, service: b}}\n",
        "other.yaml": "services:\n  b: {extends: {file: compose.yaml, service: a}}\n",
    })
    with pytest.raises(ComposeFileError, match="Circular reference"):
        load(tmp_path)


def test_extending_an_unknown_service_or_file(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  a: {extends: nope, image: x}\n"})
    with pytest.raises(ComposeFileError, match='cannot extend service "a" in .*compose.yaml: service "nope" '
                                               "not found"):
        load(tmp_path)
    write(tmp_path, {"compose.yaml": "services:\n  a: {extends: {file: gone.yaml, service: b}}\n"})
    with pytest.raises(ComposeFileError, match="gone.yaml: no such file or directory"):
        load(tmp_path)
