"""--format and -f of moor's commands side by side with the docker 20.10 CLI (Debian's docker.io).

Both CLIs talk to the same fake daemon (tests/unit/fakedaemon.py) with the same answers; exit code, stdout and
stderr must be the same. Skipped where no docker 20.10 CLI is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from unit.fakedaemon import Answer, FakeDaemon, json_answer, stream_answer

DOCKER_20 = "/usr/bin/docker"

CONTAINER = {
    "Id": "4f66ad9a0b2e" + "0" * 52, "Name": "/web", "Created": "2026-12-07T01:02:03.123456789Z", "Path": "sh",
    "Args": ["-c", "sleep 1"], "Image": "sha256:" + "a" * 64, "RestartCount": 2, "Driver": "overlay2",
    "State": {"Status": "running", "Running": True, "Pid": 4242, "ExitCode": 0, "Error": "",
              "StartedAt": "2026-12-07T01:02:03.123456789Z", "FinishedAt": "0001-01-01T00:00:00Z"},
    "Config": {"Hostname": "4f66ad9a0b2e", "Image": "busybox", "Cmd": ["sh", "-c", "sleep 1"],
               "Env": ["PATH=/bin", "A=b c"], "Labels": {"com.example.role": "web", "tier": "front"}},
    "HostConfig": {"NetworkMode": "default", "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
    "NetworkSettings": {"IPAddress": "172.17.0.2",
                        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
                        "Networks": {"front": {"IPAddress": "10.1.0.5", "Gateway": "10.1.0.1"},
                                     "bridge": {"IPAddress": "172.17.0.2", "Gateway": "172.17.0.1"}}},
    "Mounts": [{"Type": "volume", "Name": "data", "Source": "/var/lib/x/_data", "Destination": "/data", "RW": True}],
}
LISTED = {"Id": CONTAINER["Id"], "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:" + "a" * 64,
          "Command": "sleep 100", "Created": 1700000000, "Ports": [], "Labels": {"tier": "front"},
          "State": "running", "Status": "Up 2 minutes", "HostConfig": {"NetworkMode": "default"},
          "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}, "Mounts": []}
NETWORK = {"Name": "front", "Id": "9a8b7c6d5e4f" + "1" * 52, "Created": "2026-12-07T01:42:24.406110182Z",
           "Scope": "local", "Driver": "bridge", "EnableIPv6": False, "Internal": False, "Attachable": False,
           "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]},
           "Containers": {}, "Options": {}, "Labels": {"env": "prod"}}
VOLUME = {"Name": "data", "Driver": "local", "Mountpoint": "/var/lib/x/_data", "Labels": {"a": "1"}, "Scope": "local",
          "Options": None, "CreatedAt": "2026-12-07T01:00:00Z"}
INFO = {"ID": "X", "Name": "host", "NCPU": 2, "MemTotal": 4111400960, "ServerVersion": "20.10.24",
        "SecurityOptions": ["name=seccomp,profile=default"], "Driver": "overlay2",
        "IndexServerAddress": "https://index.docker.io/v1/"}
VERSION = {"Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64",
           "Components": [{"Name": "Engine", "Version": "20.10.24"}]}
EVENTS = [{"status": "start", "id": "4f66", "from": "busybox", "Type": "container", "Action": "start",
           "Actor": {"ID": "4f66", "Attributes": {"image": "busybox", "name": "web"}}, "scope": "local",
           "time": 1700000000, "timeNano": 1700000000123456789}]

IMAGES = [{"Id": "sha256:" + "1" * 64, "ParentId": "", "RepoTags": ["busybox:latest"],
           "RepoDigests": ["busybox@sha256:" + "ab" * 32], "Created": 1700000000, "Size": 4261550,
           "VirtualSize": 4261550, "SharedSize": -1, "Containers": -1, "Labels": None}]
HISTORY = [{"Id": "sha256:" + "1" * 64, "Created": 1700000000, "CreatedBy": "/bin/sh -c #(nop)  CMD [\"sh\"]",
            "Tags": ["busybox:latest"], "Size": 0, "Comment": ""},
           {"Id": "<missing>", "Created": 1699999999, "CreatedBy": "/bin/sh -c #(nop) ADD file:abc in / ",
            "Tags": None, "Size": 4261550, "Comment": ""}]
DF = {"LayersSize": 4261550, "Images": [{**IMAGES[0], "SharedSize": 0, "Containers": 1}],
      "Containers": [{**LISTED, "SizeRw": 12, "SizeRootFs": 4261562}],
      "Volumes": [{**VOLUME, "UsageData": {"Size": 100, "RefCount": 1}}], "BuildCache": []}

ROUTES: dict[tuple[str, str], Answer] = {
    ("GET", "/images/json"): json_answer(IMAGES),
    ("GET", "/images/search"): json_answer([{"name": "busybox", "description": "Busybox <base>", "star_count": 10,
                                             "is_official": True, "is_automated": False}]),
    ("GET", "/images/busybox/history"): json_answer(HISTORY),
    ("GET", "/system/df"): json_answer(DF),
    ("GET", "/containers/web/json"): json_answer(CONTAINER),
    ("GET", "/containers/json"): json_answer([LISTED]),
    ("GET", "/networks/front"): json_answer(NETWORK),
    ("GET", "/networks"): json_answer([NETWORK]),
    ("GET", "/volumes"): json_answer({"Volumes": [VOLUME], "Warnings": None}),
    ("GET", "/volumes/data"): json_answer(VOLUME),
    ("GET", "/info"): json_answer(INFO),
    ("GET", "/version"): json_answer(VERSION),
    ("GET", "/events"): stream_answer(EVENTS),
}

NETS = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
CASES: dict[str, list[str]] = {
    "inspect-range-values": ["inspect", "-f", NETS, "web"],
    "inspect-range-key-value": ["inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}};"
                                                 "{{end}}", "web"],
    "inspect-no-escapes-ints": ["inspect", "-f", "{{.Name}}\\t{{.State.Pid}} {{.RestartCount}} {{.ID}}", "web"],
    "inspect-functions": ["inspect", "-f", '{{json .Config.Labels}} {{index .Config.Labels "tier"}} '
                                           '{{join .Config.Cmd " "}} {{upper .State.Status}} {{len .Mounts}}', "web"],
    "inspect-ports": ["inspect", "-f", '{{range $p, $c := .NetworkSettings.Ports}}{{$p}}->{{(index $c 0).HostPort}}'
                                       '{{end}} {{if eq .State.Status "running"}}up{{else}}down{{end}}', "web"],
    "inspect-printf": ["inspect", "-f", '{{printf "%-6s|%5d|%q" .State.Status .State.Pid .Name}}', "web"],
    "inspect-parse-error": ["inspect", "-f", "{{foo}}", "web"],
    "inspect-exec-error": ["inspect", "-f", "{{.Name.X}}", "web"],
    "inspect-missing-object": ["inspect", "-f", "{{.Name}}", "web", "nope"],
    "network-inspect": ["network", "inspect", "-f", "{{.Name}} {{.ID}} {{range .IPAM.Config}}{{.Subnet}}{{end}}",
                        "front"],
    "volume-inspect": ["volume", "inspect", "-f", "{{.Name}} {{.Labels.a}} {{json .Labels}}", "data"],
    "ps": ["ps", "--format", '{{.ID}}\\t{{.Names}}|{{.Label "tier"}}|{{.State}}'],
    "ps-unknown-field": ["ps", "--format", "{{.Nope}}"],
    "ps-parse-error": ["ps", "--format", "{{foo}}"],
    "ps-table": ["ps", "--format", "table {{.Names}}\\t{{upper .State}}"],
    "ps-table-label": ["ps", "--format", 'table {{.ID}}\\t{{.Label "tier"}}\\t{{json .Names}}'],
    "ps-json": ["ps", "--format", "{{json .}}"],
    "ps-spaces": ["ps", "--format", "  {{.Names}} | {{.State}}  "],
    "ps-label-without-name": ["ps", "--format", "{{.Label}}"],
    "ps-label-not-a-string": ["ps", "--format", "{{.Label 1}}"],
    "ps-label-piped": ["ps", "--format", '{{"tier" | .Label}}'],
    "ps-if-range": ["ps", "--format", '{{if eq .State "running"}}{{range split .Labels ","}}<{{.}}>{{end}}{{end}}'],
    "network-ls-table": ["network", "ls", "--format", "table {{.ID}}\\t{{.Name}}\\t{{.CreatedAt}}"],
    "network-ls": ["network", "ls", "--format", '{{.Name}} {{.IPv6}} {{.Label "env"}} {{.Labels}} {{.Internal}}'],
    "network-ls-unknown-field": ["network", "ls", "--format", "{{.Name}}{{.Nope}}"],
    "images": ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.Containers}} {{.Digest}}"],
    "images-table": ["images", "--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.VirtualSize}}\\t{{.SharedSize}}"],
    "images-json": ["images", "--format", "{{json .}}"],
    "images-unknown-field": ["images", "--format", "{{.Nope}}"],
    "history": ["history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}", "busybox"],
    "history-unknown-field": ["history", "--format", "{{.Nope}}", "busybox"],
    "system-df": ["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}"],
    "system-df-json": ["system", "df", "--format", "{{json .}}"],
    "search": ["search", "--format", "{{.Name}} {{.StarCount}} {{.IsOfficial}} {{.Description}}", "busybox"],
    "search-json": ["search", "--format", "{{json .}}", "busybox"],
    "search-parse-error": ["search", "--format", "{{foo}}", "busybox"],
    "search-unknown-field": ["search", "--format", "{{.Nope}}", "busybox"],
    "volume-ls": ["volume", "ls", "--format", '{{.Name}}: {{.Label "a"}} {{.Driver}}'],
    "volume-ls-unknown-field": ["volume", "ls", "--format", "{{.Nope}}"],
    "info": ["info", "--format", "{{.NCPU}} {{json .SecurityOptions}}\\t{{.ServerVersion}}"],
    "info-exec-error": ["info", "--format", "{{.NCPU}} {{.Name.X}}"],
    "info-parse-error": ["info", "--format", "{{foo}}"],
    "version": ["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}"],
    "version-exec-error": ["version", "--format", "{{.Server.Nope}}"],
    "version-parse-error": ["version", "--format", "{{foo}}"],
    "events": ["events", "--since", "1", "--until", "2", "--format",
               "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.ID}} {{.Status}} {{.Time}} {{json .Actor}}"],
    "events-unknown-field": ["events", "--since", "1", "--until", "2", "--format", "{{.Nope}}"],
    "events-parse-error": ["events", "--since", "1", "--until", "2", "--format", "{{foo}}"],
}


def _docker_20() -> bool:
    try:
        version = subprocess.run([DOCKER_20, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return False
    return version.startswith("Docker version 20.10.")


pytestmark = pytest.mark.skipif(not _docker_20(), reason="no docker 20.10 CLI")


def _run(cli: list[str], args: list[str], root: Path) -> tuple[Any, ...]:
    root.mkdir(parents=True)
    config_dir = root / "cfg"
    config_dir.mkdir()
    with FakeDaemon(str(root)) as fake:
        fake.on("GET", "/_ping", Answer(200, b"OK", {"Api-Version": "1.41"}))
        fake.on("HEAD", "/_ping", Answer(200, b"", {"Api-Version": "1.41"}))
        for (method, path), answer in ROUTES.items():
            fake.on(method, path, answer)
        env = {**os.environ, "DOCKER_HOST": fake.host, "MOOR_HOST": fake.host, "DOCKER_CONFIG": str(config_dir)}
        env.pop("DOCKER_API_VERSION", None)
        result = subprocess.run([*cli, *args], capture_output=True, env=env, timeout=60)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_the_docker_20_10_cli(name: str, tmp_path: Path) -> None:
    docker = _run([DOCKER_20], CASES[name], tmp_path / "docker")
    moor = _run([sys.executable, "-m", "moor.cli"], CASES[name], tmp_path / "moor")
    assert moor == docker


def test_the_cases_cover_json() -> None:
    assert json.loads(json.dumps(CASES))
