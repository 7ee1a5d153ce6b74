"""``moor compose config`` through click's CliRunner (no daemon): the output and each flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from moor.cli.main import cli
from unit.compose.loaddata import write

COMPOSE = """
    name: demo
    services:
      web:
        image: "nginx:${TAG:-1.25}"
        command: echo "$$HOME"
        ports: ["127.0.0.1:8080:80"]
        environment: [MODE=prod]
        volumes: [data:/data, ./html:/usr/share/nginx/html:ro]
        depends_on: [db]
      db:
        image: postgres
        healthcheck:
          test: pg_isready
          interval: 5s
      tool:
        image: busybox
        profiles: [tools]
    volumes:
      data: {}
"""


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path, {"compose.yaml": COMPOSE})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def compose(*args: str, env: dict[str, str | None] | None = None) -> Result:
    base: dict[str, str | None] = {"TAG": None, "COMPOSE_FILE": None, "COMPOSE_PROJECT_NAME": None,
                                   "COMPOSE_PROFILES": None, "COMPOSE_ENV_FILES": None}
    return CliRunner().invoke(cli, ["compose", *args], prog_name="moor", env={**base, **(env or {})})


def test_config_prints_the_normalised_model_as_docker_compose_does(project_dir: Path) -> None:
    result = compose("config")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"""name: demo
services:
  db:
    healthcheck:
      test:
        - CMD-SHELL
        - pg_isready
      interval: 5s
    image: postgres
    networks:
      default: null
  web:
    command:
      - echo
      - $$HOME
    depends_on:
      db:
        condition: service_started
        required: true
    environment:
      MODE: prod
    image: nginx:1.25
    networks:
      default: null
    ports:
      - mode: ingress
        host_ip: 127.0.0.1
        target: 80
        published: "8080"
        protocol: tcp
    volumes:
      - type: volume
        source: data
        target: /data
        volume: {{}}
      - type: bind
        source: {project_dir}/html
        target: /usr/share/nginx/html
        read_only: true
        bind:
          create_host_path: true
networks:
  default:
    name: demo_default
volumes:
  data:
    name: demo_data
"""


def test_json_output_to_a_file(project_dir: Path) -> None:
    result = compose("config", "--format", "json", "-o", "out.json", env={"TAG": "2"})
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    data = json.loads((project_dir / "out.json").read_text())
    assert data["services"]["web"]["image"] == "nginx:2"
    assert list(data) == ["name", "services", "networks", "volumes"]


def test_listing_flags(project_dir: Path) -> None:
    assert compose("config", "--services").stdout == "db\nweb\n"
    assert compose("--profile", "tools", "config", "--services").stdout == "db\ntool\nweb\n"
    assert compose("config", "--volumes").stdout == "data\n"
    assert compose("config", "--networks").stdout == "default\n"
    assert compose("config", "--profiles").stdout == "tools\n"
    assert compose("config", "--images").stdout == "postgres\nnginx:1.25\n"
    hashes = compose("config", "--hash", "web,db").stdout.splitlines()
    assert [line.split()[0] for line in hashes] == ["db", "web"]
    assert all(len(line.split()[1]) == 64 for line in hashes)
    assert compose("config", "--hash", "*").stdout.count("\n") == 2
    environment = compose("config", "--environment", env={"TAG": "3"}).stdout.splitlines()
    assert "TAG=3" in environment
    assert "COMPOSE_PROJECT_NAME=demo" in environment


def test_variables(project_dir: Path) -> None:
    result = compose("config", "--variables")
    assert result.stdout.splitlines() == [
        "NAME                REQUIRED            DEFAULT VALUE       ALTERNATE VALUE",
        "TAG                 false               1.25",
    ]
    data = json.loads(compose("config", "--variables", "--format", "json").stdout)
    assert data == {"TAG": {"Name": "TAG", "DefaultValue": "1.25", "PresenceValue": "", "Required": False}}


def test_selected_services_and_the_no_flags(project_dir: Path) -> None:
    result = compose("config", "db")
    assert "web:" not in result.stdout
    assert "  db:" in result.stdout
    assert "volumes:\n  data" not in result.stdout
    raw = compose("config", "--no-interpolate", "--no-path-resolution").stdout
    assert "image: nginx:${TAG:-1.25}" in raw
    assert "source: ./html" in raw
    plain = compose("config", "--no-normalize").stdout
    assert "networks:" not in plain
    assert compose("config", "tool").stdout.count("tool:") == 1


def test_quiet_only_validates(project_dir: Path) -> None:
    result = compose("config", "-q")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_errors_are_one_line_with_compose_s_exit_codes(project_dir: Path, tmp_path: Path) -> None:
    result = compose("config", "nope")
    assert result.exit_code == 1
    assert result.stderr == "no such service: nope\n"
    write(project_dir, {"compose.yaml": "services:\n  web:\n    image: x\n    bogus: 1\n"})
    result = compose("config")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "compose.yaml" in result.stderr and "line 4" in result.stderr and "bogus" in result.stderr
    (project_dir / "compose.yaml").unlink()
    result = compose("config")
    assert result.exit_code == 14
    assert result.stderr == "no configuration file provided: not found\n"
    assert compose("config", "--format", "toml").stderr == 'unsupported format "toml"\n'
    assert "Traceback" not in result.output
