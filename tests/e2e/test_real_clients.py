"""The real docker CLI and docker-py talk to moord unchanged."""

from __future__ import annotations

import json
import os
import subprocess

import docker

from moor.testing.daemon import DaemonProcess


def docker_run(docker_cli: str, daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": daemon.root}
    return subprocess.run([docker_cli, *args], capture_output=True, text=True, timeout=60, env=env)


def test_docker_version(docker_cli: str, daemon: DaemonProcess) -> None:
    result = docker_run(docker_cli, daemon, "version")
    assert result.returncode == 0, result.stderr
    assert "Server: moor Engine" in result.stdout
    formatted = docker_run(docker_cli, daemon, "version", "--format", "{{json .Server}}")
    assert json.loads(formatted.stdout)["ApiVersion"] == "1.44"


def test_docker_info(docker_cli: str, daemon: DaemonProcess) -> None:
    result = docker_run(docker_cli, daemon, "info")
    assert result.returncode == 0, result.stderr
    assert "Storage Driver: overlay" in result.stdout
    assert "Log: json-file none" in result.stdout
    formatted = docker_run(docker_cli, daemon, "info", "--format", "{{.LoggingDriver}} {{.DockerRootDir}}")
    assert formatted.stdout.strip() == f"json-file {daemon.data_root}"


def test_docker_py_version_ping_info(daemon: DaemonProcess) -> None:
    client = docker.DockerClient(base_url=daemon.host)
    try:
        assert client.ping() is True
        version = client.version()
        assert version["ApiVersion"] == "1.44" and version["Components"][0]["Name"] == "Engine"
        assert client.info()["Driver"] == "overlay"
    finally:
        client.close()


def test_docker_py_sees_docker_errors(daemon: DaemonProcess) -> None:
    client = docker.APIClient(base_url=daemon.host, version="1.41")
    try:
        response = client.get(client._url("/no/such/path"))
        assert response.status_code == 404
        assert response.json() == {"message": "page not found"}
    finally:
        client.close()
