"""Which files are read: -f, COMPOSE_FILE with COMPOSE_PATH_SEPARATOR, the default names searched upward, stdin."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from moor.compose.errors import ComposeFileError, ComposeFileNotFound
from moor.compose.loader.files import config_files, default_files, read_file
from unit.compose.loaddata import load, write

SERVICE = "services:\n  web: {image: busybox}\n"


def test_default_names_in_compose_go_order_with_their_override(tmp_path: Path) -> None:
    write(tmp_path, {"docker-compose.yml": SERVICE, "compose.yaml": SERVICE,
                     "docker-compose.override.yml": SERVICE})
    assert default_files(str(tmp_path)) == [str(tmp_path / "compose.yaml"),
                                            str(tmp_path / "docker-compose.override.yml")]
    (tmp_path / "compose.yaml").unlink()
    assert default_files(str(tmp_path))[0] == str(tmp_path / "docker-compose.yml")


def test_the_default_file_is_searched_upward_and_its_directory_is_the_project(tmp_path: Path) -> None:
    write(tmp_path / "proj", {"compose.yml": SERVICE, "deep/er/.keep": ""})
    project = load(tmp_path / "proj" / "deep" / "er")
    assert project.working_dir == str(tmp_path / "proj")
    assert project.name == "proj"
    assert project.config_files == [str(tmp_path / "proj" / "compose.yml")]


def test_no_file_at_all_is_compose_s_error_with_exit_code_14(tmp_path: Path) -> None:
    with pytest.raises(ComposeFileNotFound, match="no configuration file provided: not found") as caught:
        config_files([], {}, str(tmp_path))
    assert caught.value.exit_code == 14


def test_named_files_are_relative_to_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": SERVICE, "sub/b.yaml": SERVICE})
    assert config_files(["a.yaml", "sub/b.yaml", "-"], {}, str(tmp_path)) == [
        str(tmp_path / "a.yaml"), str(tmp_path / "sub" / "b.yaml"), "-"]
    with pytest.raises(ComposeFileNotFound, match="missing.yaml: no such file or directory"):
        config_files(["missing.yaml"], {}, str(tmp_path))


def test_compose_file_variable_and_its_separator(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": SERVICE, "b.yaml": SERVICE})
    assert config_files([], {"COMPOSE_FILE": "a.yaml:b.yaml"}, str(tmp_path)) == [
        str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    assert config_files([], {"COMPOSE_FILE": "a.yaml;b.yaml", "COMPOSE_PATH_SEPARATOR": ";"}, str(tmp_path)) == [
        str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    # -f wins over COMPOSE_FILE
    assert config_files(["b.yaml"], {"COMPOSE_FILE": "a.yaml"}, str(tmp_path)) == [str(tmp_path / "b.yaml")]


def test_compose_file_can_come_from_the_dotenv_file(tmp_path: Path) -> None:
    write(tmp_path, {".env": "COMPOSE_FILE=other.yaml\n", "other.yaml": "services:\n  other: {image: x}\n"})
    assert list(load(tmp_path).services) == ["other"]


def test_stdin(tmp_path: Path) -> None:
    project = load(tmp_path, files=["-"], stdin=io.BytesIO(b"services:\n  s: {image: x, build: ./b}\n"))
    assert project.config_files == ["-"]
    assert project.working_dir == str(tmp_path)
    assert project.services["s"]["build"]["context"] == str(tmp_path / "b")
    with pytest.raises(ComposeFileError):
        read_file("-", None)


def test_a_directory_or_a_huge_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ComposeFileError, match="is a directory"):
        read_file(str(tmp_path), None)
    with pytest.raises(ComposeFileError, match="file too large"):
        read_file("-", io.BytesIO(b"#" * (16 * 1024 * 1024 + 1)))
