"""Resource limits, stats, update, pause/unpause against a private moord with real runc and cgroups."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from e2e.containerhelpers import inspect, moor, moord, wait_for  # noqa: F401 - fixture
from moor.containers.cgroups import cgroup_paths
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

MB = 1024 * 1024


def cgroup_value(daemon: DaemonProcess, name: str, v1: tuple[str, str], v2: str) -> str:
    """A cgroup file of a running container: ``v1`` is (controller, file), ``v2`` the unified file name."""
    paths = cgroup_paths(inspect(daemon, name)["State"]["Pid"])
    directory = paths.get(v1[0])
    assert directory is not None
    with open(os.path.join(directory, v2 if paths.unified else v1[1])) as handle:
        return handle.read().strip()


def memory_limit(daemon: DaemonProcess, name: str) -> str:
    return cgroup_value(daemon, name, ("memory", "memory.limit_in_bytes"), "memory.max")


def test_memory_limit_oom_kills(moord: DaemonProcess) -> None:
    import time

    since = str(time.time() - 1)
    result = moor(moord, "run", "--name", "hog", "-m", "16m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x; done",
                  timeout=120)
    assert result.returncode == 137, result.stderr
    events = moor(moord, "events", "--since", since, "--until", str(time.time() + 0.5), "--filter", "container=hog",
                  "--format", "{{.Action}}").stdout.split()
    assert "oom" in events and events.index("oom") < events.index("die")
    info = inspect(moord, "hog")
    assert info["State"]["OOMKilled"] is True and info["State"]["ExitCode"] == 137
    assert (info["HostConfig"]["Memory"], info["HostConfig"]["MemorySwap"]) == (16 * MB, 32 * MB)
    fine = moor(moord, "run", "--name", "modest", "-m", "16m", "busybox", "true")
    assert fine.returncode == 0 and inspect(moord, "modest")["State"]["OOMKilled"] is False
    assert moor(moord, "rm", "hog", "modest").returncode == 0


def test_pids_limit_holds_a_fork_bomb(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "bomb", "--pids-limit", "20", "--cpus", "0.5", "busybox", "sh", "-c",
         "f() { f | f & }; f; sleep 60")
    try:
        assert cgroup_value(moord, "bomb", ("pids", "pids.max"), "pids.max") == "20"
        assert wait_for(lambda: int(cgroup_value(moord, "bomb", ("pids", "pids.current"), "pids.current")) >= 15)
        time.sleep(1)
        assert int(cgroup_value(moord, "bomb", ("pids", "pids.current"), "pids.current")) <= 20
        assert inspect(moord, "bomb")["HostConfig"]["PidsLimit"] == 20
    finally:
        started = time.monotonic()
        assert moor(moord, "rm", "-f", "bomb").returncode == 0
        assert time.monotonic() - started < 20


def test_cpu_settings_reach_the_cgroup(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "cpus", "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
         "busybox", "sleep", "300")
    paths = cgroup_paths(inspect(moord, "cpus")["State"]["Pid"])
    if paths.unified:
        assert cgroup_value(moord, "cpus", ("cpu", ""), "cpu.max") == "50000 100000"
    else:
        assert cgroup_value(moord, "cpus", ("cpu", "cpu.cfs_quota_us"), "") == "50000"
        assert cgroup_value(moord, "cpus", ("cpu", "cpu.cfs_period_us"), "") == "100000"
        assert cgroup_value(moord, "cpus", ("cpu", "cpu.shares"), "") == "512"
    assert cgroup_value(moord, "cpus", ("cpuset", "cpuset.cpus"), "cpuset.cpus") == "0"
    host_config = inspect(moord, "cpus")["HostConfig"]
    assert (host_config["NanoCpus"], host_config["CpuShares"], host_config["CpusetCpus"]) == (5 * 10**8, 512, "0")
    assert moor(moord, "rm", "-f", "cpus").returncode == 0


@pytest.mark.parametrize(("flags", "message"), [
    (["-m", "1m"], "Minimum memory limit allowed is 6MB"),
    (["-m", "16m", "--memory-swap", "8m"], "Minimum memoryswap limit should be larger than memory limit"),
    (["--cpus", "99"], "Range of CPUs is from 0.01 to"),
    (["--cpuset-cpus", "0-99"], "Requested CPUs are not available - requested 0-99, available: "),
    (["--cpuset-cpus", "x"], "Invalid value x for cpuset cpus: invalid format: x"),
])  # fmt: skip
def test_refused_limits(moord: DaemonProcess, flags: list[str], message: str) -> None:
    result = moor(moord, "run", "--rm", *flags, "busybox", "true")
    assert result.returncode == 125 and message in result.stderr, result.stderr


def test_bad_flag_values(moord: DaemonProcess) -> None:
    result = moor(moord, "run", "--rm", "-m", "lots", "busybox", "true")
    assert result.returncode == 125
    assert result.stderr == ("invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'\n"
                             "See 'moor run --help'.\n")
    result = moor(moord, "update", "--cpus", "x", "nothing")
    assert result.returncode == 125 and "failed to parse x as a rational number" in result.stderr
    result = moor(moord, "update", "nothing")
    assert result.returncode == 1 and "you must provide one or more flags when using this command" in result.stderr


def test_stats(moord: DaemonProcess) -> None:
    cid = moor(moord, "run", "-d", "--name", "busy", "--cpus", "0.5", "-m", "64m", "busybox", "sh", "-c",
               "while true; do :; done").stdout.strip()
    moor(moord, "create", "--name", "idle", "busybox", "true")
    time.sleep(1)
    result = moor(moord, "stats", "--no-stream", "busy")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    # the columns are as wide as their widest cell (NET I/O holds the network counters)
    assert header.split("  ") and [c.strip() for c in header.split("   ") if c.strip()] == [
        "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
    fields = row.split()
    assert fields[0] == cid[:12] and fields[1] == "busy"
    assert 25.0 < float(fields[2].rstrip("%")) < 75.0  # half a CPU, busy
    assert fields[4:6] == ["/", "64MiB"] and fields[-1] == "1"
    formatted = moor(moord, "stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.PIDs}}", "busy")
    assert formatted.stdout == f"{cid} busy 1\n"
    everything = moor(moord, "stats", "--no-stream", "-a", "--format", "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}")
    rows = dict(line.split("|", 1) for line in everything.stdout.splitlines())
    assert rows["idle"] == "0.00%|0B / 0B" and rows["busy"].endswith(" / 64MiB")
    running_only = moor(moord, "stats", "--no-stream", "--format", "{{.Name}}")
    assert running_only.stdout == "busy\n"
    missing = moor(moord, "stats", "--no-stream", "nosuch")
    assert missing.returncode == 1 and "No such container: nosuch" in missing.stderr

    client = moord.client()
    one = client.get("/containers/busy/stats", stream="0")
    assert one["id"] == cid and one["name"] == "/busy" and one["pids_stats"]["current"] == 1
    assert one["precpu_stats"]["system_cpu_usage"] > 0 and one["preread"] != "0001-01-01T00:00:00Z"
    assert one["memory_stats"]["limit"] == 64 * MB and one["cpu_stats"]["online_cpus"] >= 1
    started = time.monotonic()
    shot = client.get("/containers/busy/stats", stream="0", **{"one-shot": "1"})
    assert time.monotonic() - started < 0.9 and "system_cpu_usage" not in shot["precpu_stats"]
    response = client.open("GET", "/containers/busy/stats", {"stream": "1"})
    samples = client.stream_json(response)
    first, second = next(samples), next(samples)
    response.close()
    assert second["precpu_stats"] == first["cpu_stats"] and second["preread"] == first["read"]
    stopped = client.get("/containers/idle/stats", stream="0")
    assert stopped["read"] == "0001-01-01T00:00:00Z" and stopped["memory_stats"] == {}

    streaming = subprocess.Popen([sys.executable, "-m", "moor.cli", "-H", moord.host, "stats", "busy"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    streaming.send_signal(signal.SIGINT)
    out, _ = streaming.communicate(timeout=10)
    assert out.count("\033[2J\033[H") >= 2 and out.count("CONTAINER ID") >= 2 and "busy" in out
    assert moor(moord, "rm", "-f", "busy", "idle").returncode == 0


def test_update(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "grow", "busybox", "sleep", "300")
    assert int(memory_limit(moord, "grow")) > 64 * MB  # no limit
    result = moor(moord, "update", "-m", "64m", "--cpus", "1", "--pids-limit", "30", "--restart", "on-failure:2",
                  "grow")
    assert (result.returncode, result.stdout) == (0, "grow\n"), result.stderr
    assert memory_limit(moord, "grow") == str(64 * MB)
    assert cgroup_value(moord, "grow", ("pids", "pids.max"), "pids.max") == "30"
    host_config = inspect(moord, "grow")["HostConfig"]
    assert (host_config["Memory"], host_config["NanoCpus"], host_config["PidsLimit"]) == (64 * MB, 10**9, 30)
    assert host_config["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert moor(moord, "update", "-m", "32m", "--memory-swap", "64m", "grow").returncode == 0
    assert memory_limit(moord, "grow") == str(32 * MB)
    refused = moor(moord, "update", "-m", "128m", "grow")
    assert refused.returncode == 1
    assert "Memory limit should be smaller than already set memoryswap limit" in refused.stderr
    too_small = moor(moord, "update", "-m", "1m", "grow")
    assert too_small.returncode == 1 and "Minimum memory limit allowed is 6MB" in too_small.stderr
    assert moor(moord, "update", "--pids-limit", "-1", "grow").returncode == 0
    assert cgroup_value(moord, "grow", ("pids", "pids.max"), "pids.max") == "max"
    assert moor(moord, "rm", "-f", "grow").returncode == 0

    moor(moord, "create", "--name", "later", "busybox", "sleep", "300")
    assert moor(moord, "update", "-m", "48m", "later").stdout == "later\n"
    assert moor(moord, "start", "later").returncode == 0
    assert memory_limit(moord, "later") == str(48 * MB)
    assert moor(moord, "rm", "-f", "later").returncode == 0


def test_pause_unpause(moord: DaemonProcess) -> None:
    start = time.time()
    cid = moor(moord, "run", "-d", "--name", "ticker", "busybox", "sh", "-c",
               "while true; do echo tick; sleep 0.1; done").stdout.strip()
    assert wait_for(lambda: len(moor(moord, "logs", "ticker").stdout.splitlines()) >= 3)
    assert moor(moord, "pause", "ticker").stdout == "ticker\n"
    state = inspect(moord, "ticker")["State"]
    assert (state["Status"], state["Paused"], state["Running"]) == ("paused", True, True)
    assert "(Paused)" in moor(moord, "ps").stdout
    assert moor(moord, "ps", "-q", "--filter", "status=paused").stdout.strip() == cid[:12]
    time.sleep(0.3)
    frozen = len(moor(moord, "logs", "ticker").stdout.splitlines())
    time.sleep(1)
    assert len(moor(moord, "logs", "ticker").stdout.splitlines()) == frozen
    again = moor(moord, "pause", "ticker")
    assert again.returncode == 1 and f"Container {cid} is already paused" in again.stderr
    assert moor(moord, "unpause", "ticker").stdout == "ticker\n"
    assert inspect(moord, "ticker")["State"]["Status"] == "running"
    assert wait_for(lambda: len(moor(moord, "logs", "ticker").stdout.splitlines()) > frozen + 3)
    not_paused = moor(moord, "unpause", "ticker")
    assert not_paused.returncode == 1 and f"Container {cid} is not paused" in not_paused.stderr
    response = moord.client().open("GET", "/events", {"since": str(start), "until": str(time.time() + 0.5),
                                                      "filters": json.dumps({"container": [cid]})})
    actions = [event["Action"] for event in moord.client().stream_json(response)]
    assert "pause" in actions and "unpause" in actions

    assert moor(moord, "pause", "ticker").returncode == 0
    started = time.monotonic()
    assert moor(moord, "rm", "-f", "ticker").returncode == 0  # a paused container still dies promptly
    assert time.monotonic() - started < 10
    moor(moord, "create", "--name", "sleepy", "busybox", "true")
    refused = moor(moord, "pause", "sleepy")
    assert refused.returncode == 1 and "is not running" in refused.stderr
    moor(moord, "rm", "sleepy")


def test_paused_container_stops(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "frozen", "busybox", "sleep", "300")
    moor(moord, "pause", "frozen")
    started = time.monotonic()
    assert moor(moord, "stop", "-t", "1", "frozen").returncode == 0
    assert time.monotonic() - started < 10
    state = inspect(moord, "frozen")["State"]
    assert (state["Status"], state["Paused"]) == ("exited", False)
    moor(moord, "rm", "frozen")


def docker(docker_cli: str, daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": daemon.root}
    return subprocess.run([docker_cli, *args], capture_output=True, text=True, timeout=60, env=env)


def test_docker_cli(docker_cli: str, moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "dock", "busybox", "sleep", "300")
    stats = docker(docker_cli, moord, "stats", "--no-stream", "dock")
    assert stats.returncode == 0, stats.stderr
    header, row = stats.stdout.splitlines()
    assert header.split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%", "NET",
                              "I/O", "BLOCK", "I/O", "PIDS"]
    assert row.split()[1] == "dock" and row.split()[-1] == "1"
    updated = docker(docker_cli, moord, "update", "-m", "40m", "--pids-limit", "25", "dock")
    assert (updated.returncode, updated.stdout) == (0, "dock\n"), updated.stderr
    assert memory_limit(moord, "dock") == str(40 * MB)
    assert docker(docker_cli, moord, "pause", "dock").stdout == "dock\n"
    formatted = docker(docker_cli, moord, "inspect", "-f", "{{.State.Status}} {{.HostConfig.Memory}}", "dock")
    assert formatted.stdout.strip() == f"paused {40 * MB}"
    assert docker(docker_cli, moord, "unpause", "dock").stdout == "dock\n"
    refused = docker(docker_cli, moord, "update", "-m", "1m", "dock")
    assert refused.returncode != 0 and "Minimum memory limit allowed is 6MB" in refused.stderr
    assert moor(moord, "rm", "-f", "dock").returncode == 0


def test_docker_py(moord: DaemonProcess) -> None:
    import docker as docker_py

    client = docker_py.DockerClient(base_url=moord.host, version="1.41")
    try:
        container = client.containers.run("busybox", ["sleep", "300"], name="py", detach=True, mem_limit="32m",
                                          nano_cpus=500_000_000)
        stats = container.stats(stream=False)
        assert stats["name"] == "/py" and stats["memory_stats"]["limit"] == 32 * MB
        assert stats["cpu_stats"]["system_cpu_usage"] > stats["precpu_stats"]["system_cpu_usage"] > 0
        container.update(mem_limit="48m", memswap_limit="96m")
        assert memory_limit(moord, "py") == str(48 * MB)
        container.reload()
        assert container.attrs["HostConfig"]["Memory"] == 48 * MB
        container.pause()
        container.reload()
        assert container.status == "paused"
        container.unpause()
        container.reload()
        assert container.status == "running"
        container.remove(force=True)
    finally:
        client.close()
