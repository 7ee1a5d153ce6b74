"""--format and -f against a real moord: moor's CLI prints what the docker CLI prints for the same objects.

The idioms people use (a container's addresses, ports, labels, mounts, state; ps, images, network and volume
listings and inspection) through both CLIs against the same moord; a mismatch names the template.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from e2e.containerhelpers import docker_env, moor, moord, ok  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

DOCKER = "/usr/local/bin/docker"


@pytest.fixture(scope="module")
def objects(moord: DaemonProcess) -> None:
    ok(moor(moord, "network", "create", "--label", "env=test", "--subnet", "10.231.7.0/24", "fmtnet"))
    ok(moor(moord, "volume", "create", "--label", "a=1", "fmtvol"))
    ok(moor(moord, "run", "-d", "--name", "fmtweb", "--network", "fmtnet", "--label", "tier=front",
            "-v", "fmtvol:/data", "-e", "A=b c", "busybox", "sleep", "300"))
    ok(moor(moord, "network", "connect", "bridge", "fmtweb"))


CASES = [
    ("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "fmtweb"),
    ("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}};{{end}}", "fmtweb"),
    ("inspect", "-f", "{{.NetworkSettings.Networks.fmtnet.IPAddress}}", "fmtweb"),
    ("inspect", "-f", '{{(index .NetworkSettings.Networks "fmtnet").Gateway}}', "fmtweb"),
    ("inspect", "-f", "{{.Name}} {{.State.Status}} {{.State.Running}} {{.RestartCount}} {{.State.ExitCode}}",
     "fmtweb"),
    ("inspect", "-f", '{{index .Config.Labels "tier"}} {{json .Config.Labels}} {{join .Config.Cmd " "}}', "fmtweb"),
    ("inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", "fmtweb"),
    ("inspect", "-f", "[{{.Config.StopSignal}}]{{json .Config.MacAddress}}|{{json .Config.ExposedPorts}}", "fmtweb"),
    ("inspect", "-f", "{{range .Mounts}}{{.Name}}:{{.Destination}}:{{.RW}} {{end}}", "fmtweb"),
    ("inspect", "-f", "{{json .Mounts}}", "fmtweb"),
    ("inspect", "-f", "{{if .State.Running}}up{{else}}down{{end}} {{len .NetworkSettings.Networks}}", "fmtweb"),
    ("inspect", "-f", "{{.Id}}", "fmtweb"),
    ("inspect", "-f", "{{.Config.ExposedPorts}}|{{.HostConfig.PortBindings}}|{{.HostConfig.Binds}}", "fmtweb"),
    ("inspect", "-f", "{{.Config.Cmd}}|{{.Config.Entrypoint}}|{{.Args}}|{{.Path}}", "fmtweb"),
    ("inspect", "-f", "{{.State.Health}}|{{.Config.Healthcheck}}|{{if .State.Health}}h{{else}}none{{end}}", "fmtweb"),
    ("inspect", "-f", "{{json .State.Health}} {{json .Config.Entrypoint}}", "fmtweb"),
    ("image", "inspect", "-f", "{{.Config.Labels}}|{{.RepoDigests}}", "busybox"),
    ("inspect", "-f", "{{.State}}", "fmtweb"),
    ("inspect", "-f", "{{.Mounts}}", "fmtweb"),
    ("inspect", "-f", "{{.HostConfig.RestartPolicy}} {{.HostConfig.LogConfig}}", "fmtweb"),
    ("network", "inspect", "-f", "{{.Created}} {{json .Created}}", "fmtnet"),
    ("volume", "inspect", "-f", "{{.Options}}|{{.Labels}}|{{.Scope}}", "fmtvol"),
    ("inspect", "-f", "{{.ID}}", "fmtweb"),
    ("inspect", "-f", "{{json .State}} {{json .HostConfig.RestartPolicy}}", "fmtweb"),
    ("inspect", "-f", "{{foo}}", "fmtweb"),
    ("inspect", "-f", "{{.Name}}", "fmtweb", "nosuchthing"),
    ("network", "inspect", "-f", "{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Labels.env}}",
     "fmtnet"),
    ("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", "fmtnet"),
    ("volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels.a}} {{.Mountpoint}}", "fmtvol"),
    ("ps", "--format", '{{.Names}}\\t{{.Image}}|{{.Label "tier"}}|{{.State}}'),
    ("ps", "--format", "table {{.Names}}\\t{{.Image}}"),
    ("ps", "--format", "{{.Nope}}"),
    ("ps", "-a", "--format", "table"),
    ("images", "--format", "table"),
    ("network", "ls", "--format", "table"),
    ("volume", "ls", "--format", "table"),
    ("history", "--format", "table {{.ID}}\\t{{.CreatedBy}}", "busybox"),
    ("stats", "--no-stream", "--format", "{{.Name}} {{.Container}}"),
    ("stats", "--no-stream", "--format", "{{.Nope}}"),
    ("ps", "--format", "{{.Command}}|{{.Ports}}|{{.Mounts}}|{{.Size}}|{{.LocalVolumes}}|{{.Labels}}"),
    ("network", "ls", "--filter", "name=fmtnet", "--format", '{{.Name}} {{.Driver}} {{.Label "env"}}'),
    ("volume", "ls", "--filter", "name=fmtvol", "--format", '{{.Name}} {{.Driver}} {{.Label "a"}}'),
    ("images", "--format", "{{.Repository}}:{{.Tag}}"),
    ("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}} {{json .Server.Components}}"),
    ("info", "--format", "{{json .Plugins}}|{{.SecurityOptions}}|{{.Swarm.LocalNodeState}}"),
    ("history", "--format", "{{.ID}} {{.Size}} {{.Comment}}", "busybox"),
    ("image", "inspect", "-f", "{{.Size}}|{{.RepoTags}}|{{.Config.Cmd}}|{{.Os}}|{{len .RootFS.Layers}}", "busybox"),
    ("info", "--format", "{{.Containers}} {{.OSType}} {{json .Name}}"),
]


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="no docker CLI")
@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:60])
def test_moor_prints_what_docker_prints(moord: DaemonProcess, objects: None, args: tuple[str, ...]) -> None:
    # relative times ("1 second ago", "Up 2 seconds") may cross a second between the two commands: a
    # difference counts when it is there each of three times
    for _ in range(3):
        theirs = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=docker_env(moord), timeout=60)
        ours = moor(moord, *args)
        if (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr):
            break
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
