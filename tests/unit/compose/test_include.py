"""``include``: other projects' services added, with their own directory, .env and env_file."""

from __future__ import annotations

from pathlib import Path

import pytest

from moor.compose.errors import ComposeFileError, ComposeFileNotFound
from unit.compose.loaddata import copy_data, load, write


def test_included_projects_keep_their_directory_and_environment(tmp_path: Path) -> None:
    root = copy_data("include", tmp_path)
    project = load(root)
    assert sorted(project.services) == ["api", "cache", "web"]
    api = project.services["api"]
    assert api["build"]["context"] == str(root / "backend")
    assert api["volumes"][0]["source"] == str(root / "backend" / "src")
    # backend/.env is the included project's .env
    assert api["environment"] == {"DB": "from-backend-dotenv"}
    assert project.services["cache"]["image"] == "redis:7"
    assert project.name == "include"
    assert project.networks == {"default": {"name": "include_default"}}


def test_the_process_environment_wins_over_an_included_env_file(tmp_path: Path) -> None:
    root = copy_data("include", tmp_path)
    assert load(root, environ={"REDIS_TAG": "6"}).services["cache"]["image"] == "redis:6"


def test_a_local_definition_is_merged_over_an_included_one(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": """
            include: [lib/compose.yaml]
            services:
              api:
                environment: {LOCAL: "1"}
        """,
        "lib/compose.yaml": "services:\n  api: {image: api, environment: {LIB: '1'}}\n",
    })
    api = load(tmp_path).services["api"]
    assert api["image"] == "api"
    assert api["environment"] == {"LIB": "1", "LOCAL": "1"}


def test_an_include_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {
        "compose.yaml": "include: [a/compose.yaml]\nservices: {x: {image: x}}\n",
        "a/compose.yaml": "include: [../compose.yaml]\nservices: {y: {image: y}}\n",
    })
    with pytest.raises(ComposeFileError, match="include cycle detected"):
        load(tmp_path)


def test_a_missing_included_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "include: [nowhere.yaml]\nservices: {x: {image: x}}\n"})
    with pytest.raises(ComposeFileNotFound, match="nowhere.yaml: no such file or directory"):
        load(tmp_path)
