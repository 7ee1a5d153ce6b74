"""load_project as a whole: project name, directory and environment; the loading half of bad input (issue 16
item 5): a schema failure, an unknown service, a missing ``:?`` variable, depends_on an undefined service, an
extends cycle; compose-go's consistency checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from moor.compose.errors import ComposeError, ComposeFileError, ComposeFileNotFound, DependencyError, ServiceNotFound
from moor.compose.labels import container_labels
from moor.compose.loader.project import normalize_project_name, project_name_only
from unit.compose.loaddata import LoadOptions, load, write

SERVICE = "services:\n  web: {image: busybox}\n"


def test_project_name_precedence(tmp_path: Path) -> None:
    root = write(tmp_path / "My.Project_Dir", {"compose.yaml": SERVICE})
    assert load(root).name == "myproject_dir"
    write(root, {"compose.yaml": "name: ${NAME:-From File}\n" + SERVICE})
    assert load(root).name == "fromfile"
    assert load(root, environ={"NAME": "env-name"}).name == "env-name"
    assert load(root, environ={"COMPOSE_PROJECT_NAME": "from-env"}).name == "from-env"
    assert load(root, project_name="flag", environ={"COMPOSE_PROJECT_NAME": "from-env"}).name == "flag"
    write(root, {".env": "COMPOSE_PROJECT_NAME=dotenv\n"})
    assert load(root).name == "dotenv"
    # the name is what interpolation sees as COMPOSE_PROJECT_NAME
    write(root, {".env": "", "compose.yaml": "services:\n  web: {image: 'x:${COMPOSE_PROJECT_NAME}'}\n"})
    assert load(root, project_name="p1").services["web"]["image"] == "x:p1"


@pytest.mark.parametrize("name", ["Upper", "-dash", "with space", "a.b"])
def test_an_invalid_name_given_explicitly_is_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path, {"compose.yaml": SERVICE})
    with pytest.raises(ComposeError, match=f'invalid project name "{name}": must consist only of lowercase'):
        load(tmp_path, project_name=name)
    with pytest.raises(ComposeError, match="invalid project name"):
        load(tmp_path, environ={"COMPOSE_PROJECT_NAME": name})


def test_normalize_project_name() -> None:
    assert normalize_project_name("My App-1_x") == "myapp-1_x"
    assert normalize_project_name("__-x") == "x"
    assert normalize_project_name("...") == ""


def test_project_name_only_needs_no_file_with_a_name_given(tmp_path: Path) -> None:
    empty = tmp_path / "Empty Dir"
    empty.mkdir()
    # compose v2: no file, no -p, no COMPOSE_PROJECT_NAME is an error, not the directory's name
    with pytest.raises(ComposeFileNotFound, match="^no configuration file provided: not found$") as caught:
        project_name_only(LoadOptions(working_directory=str(empty)))
    assert caught.value.exit_code == 14
    write(empty, {".env": "COMPOSE_PROJECT_NAME=dotenv\n"})  # a .env alone is no project either
    with pytest.raises(ComposeFileNotFound):
        project_name_only(LoadOptions(working_directory=str(empty)))
    assert project_name_only(LoadOptions(working_directory=str(empty), project_name="given")) == "given"
    assert project_name_only(LoadOptions(working_directory=str(empty),
                                         environ={"COMPOSE_PROJECT_NAME": "env"})) == "env"
    write(empty, {".env": "", "compose.yaml": SERVICE})
    assert project_name_only(LoadOptions(working_directory=str(empty))) == "emptydir"
    write(empty, {"compose.yaml": "name: named\n" + SERVICE})
    assert project_name_only(LoadOptions(working_directory=str(empty))) == "named"
    assert project_name_only(LoadOptions(working_directory=str(empty),
                                         environ={"COMPOSE_PROJECT_NAME": "env"})) == "env"


def test_project_directory_and_env_files(tmp_path: Path) -> None:
    write(tmp_path, {
        "files/compose.yaml": "services:\n  web: {image: 'busybox:${TAG}', build: ./ctx}\n",
        "files/.env": "TAG=files\n",
        "elsewhere/.env": "TAG=elsewhere\n",
        "a.env": "TAG=a\nOTHER=a\n",
        "b.env": "TAG=b\n",
    })
    project = load(tmp_path, files=["files/compose.yaml"])
    assert project.working_dir == str(tmp_path / "files")
    assert project.services["web"]["image"] == "busybox:files"
    assert project.env_files == [str(tmp_path / "files" / ".env")]
    project = load(tmp_path, files=["files/compose.yaml"], project_directory="elsewhere")
    assert project.working_dir == str(tmp_path / "elsewhere")
    assert project.services["web"]["image"] == "busybox:elsewhere"
    assert project.services["web"]["build"]["context"] == str(tmp_path / "elsewhere" / "ctx")
    # --env-file in order, later files over earlier ones, the process environment over all
    project = load(tmp_path, files=["files/compose.yaml"], env_files=["a.env", "b.env"])
    assert project.services["web"]["image"] == "busybox:b"
    assert project.environment["OTHER"] == "a"
    assert load(tmp_path, files=["files/compose.yaml"], env_files=["a.env"],
                environ={"TAG": "process"}).services["web"]["image"] == "busybox:process"
    assert load(tmp_path, files=["files/compose.yaml"],
                environ={"COMPOSE_ENV_FILES": "a.env,b.env"}).services["web"]["image"] == "busybox:b"
    with pytest.raises(ComposeFileNotFound, match="Couldn't find env file: .*missing.env"):
        load(tmp_path, files=["files/compose.yaml"], env_files=["missing.env"])


def test_only_env_files_named_explicitly_label_the_containers(tmp_path: Path) -> None:
    """compose v2 sets com.docker.compose.project.environment_file for --env-file / COMPOSE_ENV_FILES only,
    never for the default .env it read."""
    write(tmp_path, {"compose.yaml": SERVICE, ".env": "A=1\n", "a.env": "A=2\n"})
    label = "com.docker.compose.project.environment_file"
    default = load(tmp_path)
    assert default.env_files == [str(tmp_path / ".env")] and not default.env_files_explicit
    assert label not in container_labels(default, "web", 1, config_hash="h")
    flag = load(tmp_path, env_files=["a.env"])
    assert flag.env_files_explicit
    assert container_labels(flag, "web", 1, config_hash="h")[label] == str(tmp_path / "a.env")
    variable = load(tmp_path, environ={"COMPOSE_ENV_FILES": "a.env,.env"})
    assert container_labels(variable, "web", 1, config_hash="h")[label] == f"{tmp_path}/a.env,{tmp_path}/.env"


def test_extensions_and_anchors(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
        x-common: &common
          image: busybox
          environment: {SHARED: "1"}
        services:
          a:
            <<: *common
            x-note: kept
          b:
            <<: *common
            image: alpine
    """})
    project = load(tmp_path)
    assert project.extensions == {"x-common": {"image": "busybox", "environment": {"SHARED": "1"}}}
    assert project.services["a"]["image"] == "busybox"
    assert project.services["a"]["x-note"] == "kept"
    assert project.services["b"]["image"] == "alpine"
    assert project.services["b"]["environment"] == {"SHARED": "1"}


def test_unused_resources_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
        services:
          web: {image: x, volumes: ["used:/u"], networks: [front]}
        volumes: {used: {}, unused: {}}
        networks: {front: {}, back: {}}
    """})
    project = load(tmp_path)
    assert list(project.volumes) == ["used"]
    assert list(project.networks) == ["front"]
    assert sorted(load(tmp_path, all_resources=True).volumes) == ["unused", "used"]


# --- bad input: one clear error each -------------------------------------------------------------------------


def test_a_file_failing_the_schema_names_the_file_line_and_key(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: busybox\n    restart_policy: always\n"})
    with pytest.raises(ComposeFileError) as caught:
        load(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "compose.yaml") in message
    assert "line 4" in message
    assert "restart_policy" in message


def test_a_missing_required_variable(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: 'busybox:${TAG:?set TAG first}'\n"})
    with pytest.raises(ComposeFileError, match="required variable TAG is missing a value: set TAG first"):
        load(tmp_path)
    with pytest.raises(ComposeFileError, match="required variable TAG"):
        load(tmp_path, environ={"TAG": ""})
    assert load(tmp_path, environ={"TAG": "1"}).services["web"]["image"] == "busybox:1"


def test_an_unknown_service_named_on_the_command_line(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": SERVICE})
    with pytest.raises(ServiceNotFound, match="no such service: db"):
        load(tmp_path, services=["web", "db"])
    with pytest.raises(ServiceNotFound, match="no such service: db"):
        load(tmp_path).service("db")


def test_depends_on_an_undefined_service_and_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web: {image: x, depends_on: {db: {condition: service_healthy}}}\n"})
    with pytest.raises(DependencyError, match='service "web" depends on undefined service "db"'):
        load(tmp_path)
    write(tmp_path, {"compose.yaml": """
        services:
          a: {image: x, depends_on: [b]}
          b: {image: x, depends_on: [c]}
          c: {image: x, depends_on: [a]}
    """})
    with pytest.raises(DependencyError, match="dependency cycle detected: a -> b -> c -> a"):
        load(tmp_path)


def test_an_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  a: {image: x, extends: a}\n"})
    with pytest.raises(ComposeFileError, match="Circular reference: a in .*, extends a in"):
        load(tmp_path)


@pytest.mark.parametrize(("compose", "message"), [
    ("services:\n  web: {restart: always}\n",
     'service "web" has neither an image nor a build context specified'),
    ("services:\n  web: {image: x, networks: [nope]}\n", 'service "web" refers to undefined network nope'),
    ("services:\n  web: {image: x, volumes: ['nope:/x']}\n", 'service "web" refers to undefined volume nope'),
    ("services:\n  web: {image: x, secrets: [nope]}\n", 'service "web" refers to undefined secret nope'),
    ("services:\n  web: {image: x, network_mode: host, networks: [default]}\n",
     "declares mutually exclusive `network_mode` and `networks`"),
    ("services:\n  web: {image: x, scale: 2, deploy: {replicas: 3}}\n",
     "can't set distinct values on 'scale' and 'deploy.replicas'"),
    ("services:\n  web: {image: x, tmpfs: [/a], volumes: ['v:/a']}\nvolumes: {v: {}}\n",
     r"services.web.volumes\[0\]: target /a already mounted as services.web.tmpfs\[0\]"),
    ("services:\n  web: {image: x, network_mode: 'service:db'}\n", 'service "web" depends on undefined service "db"'),
    ("services:\n  web: {image: x}\nsecrets:\n  s: {name: y}\n", 'secret "s" must declare either `file` or'),
    ("", "empty compose file"),
])
def test_consistency_checks(tmp_path: Path, compose: str, message: str) -> None:
    write(tmp_path, {"compose.yaml": compose})
    with pytest.raises(ComposeError, match=message):
        load(tmp_path)
    if "empty" not in message and "depends on" not in message:
        load(tmp_path, consistency=False)


def test_no_interpolation_keeps_the_templates(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web:\n    image: 'busybox:${TAG:?needed}'\n"
                                     "    ports: ['${PORT}:80']\n"})
    project = load(tmp_path, interpolate=False)
    assert project.services["web"]["image"] == "busybox:${TAG:?needed}"
    assert project.services["web"]["ports"] == ["${PORT}:80"]
