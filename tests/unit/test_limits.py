"""Resource limits: Docker's validation messages, the OCI mapping, update merging, flags, cgroup readers, stats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest

from moor.cli import resources as cli_resources
from moor.cli.resourceflags import (
    parse_cpus,
    parse_restart_policy,
    ram_in_bytes,
    resource_flags_to_host_config,
)
from moor.containers import cgroups
from moor.containers.limits import (
    apply_resource_defaults,
    format_list,
    merge_update,
    oci_resources,
    parse_list,
    update_flags,
    validate_resources,
)
from moor.containers.record import Container
from moor.errors import Conflict, InvalidParameter
from moor.services import stats as stats_service
from moor.timefmt import rfc3339_nano

MB = 1024 * 1024


def validate(host_config: dict[str, Any], update: bool = False) -> None:
    validate_resources(host_config, update, cpus=2, cpuset="0-1", mems="0")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("host_config", "message"), [
    ({"Memory": 1 * MB}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": -5}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 16 * MB, "MemorySwap": 8 * MB},
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"MemorySwap": 32 * MB}, "You should always set the Memory limit when using Memoryswap limit, see usage"),
    ({"Memory": 16 * MB, "MemorySwap": -2}, "Invalid value: -2, valid memory swap values are -1"),
    ({"MemorySwappiness": 101}, "Invalid value: 101, valid memory swappiness range is 0-100"),
    ({"MemoryReservation": 1 * MB}, "Minimum memory reservation allowed is 6MB"),
    ({"Memory": 16 * MB, "MemoryReservation": 32 * MB},
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    ({"NanoCpus": 10**9, "CpuPeriod": 100000}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    ({"NanoCpus": 10**9, "CpuQuota": 50000}, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    ({"NanoCpus": 3 * 10**9}, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"),
    ({"NanoCpus": -1}, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"),
    ({"CpuShares": -1}, "invalid CPU shares (-1): value must be a positive integer"),
    ({"CpuPeriod": 500}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"CpuPeriod": -1}, "CPU cfs period can not be less than 1ms"),
    ({"CpuQuota": 999}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ({"CpuQuota": 2**63 - 1}, "CPU cfs quota can not be larger than 17592186044415 microseconds"),
    ({"CpusetCpus": "0-99"}, "Requested CPUs are not available - requested 0-99, available: 0-1"),
    ({"CpusetCpus": "a"}, "Invalid value a for cpuset cpus: invalid format: a"),
    ({"CpusetCpus": "3-1"}, "Invalid value 3-1 for cpuset cpus: invalid format: 3-1"),
    ({"CpusetCpus": "0-9000"}, "Invalid value 0-9000 for cpuset cpus: value of out range, maximum is 8192"),
    ({"CpusetMems": "1"}, "Requested memory nodes are not available - requested 1, available: 0"),
    ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
    ({"Memory": "16m"}, "json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64"),
    ({"NanoCpus": 1.5}, "json: cannot unmarshal number 1.5 into Go struct field HostConfig.NanoCpus of type int64"),
    ({"PidsLimit": True}, "json: cannot unmarshal bool into Go struct field HostConfig.PidsLimit of type int64"),
    ({"CpusetCpus": 1}, "json: cannot unmarshal number 1 into Go struct field HostConfig.CpusetCpus of type string"),
])  # fmt: skip
def test_docker_refusals(host_config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        validate(host_config)
    assert str(error.value).startswith(message)
    assert error.value.status == 400


@pytest.mark.parametrize("host_config", [
    {}, {"Memory": 6 * MB}, {"Memory": 16 * MB, "MemorySwap": -1}, {"Memory": 16 * MB, "MemorySwap": 16 * MB},
    {"NanoCpus": 2 * 10**9}, {"NanoCpus": 10**7}, {"CpuQuota": -1, "CpuPeriod": 100000}, {"CpuShares": 512},
    {"CpusetCpus": "0,1"}, {"CpusetCpus": "1"}, {"PidsLimit": -1}, {"PidsLimit": 0}, {"PidsLimit": None},
    {"MemorySwappiness": -1}, {"MemorySwappiness": 0}, {"BlkioWeight": 0}, {"BlkioWeight": 10},
])  # fmt: skip
def test_accepted(host_config: dict[str, Any]) -> None:
    validate(host_config)


def test_swap_without_memory_is_fine_on_update() -> None:
    validate({"MemorySwap": 64 * MB}, update=True)


def test_the_kernels_largest_quota_is_taken() -> None:
    validate({"CpuQuota": 2**44 - 1})


@pytest.mark.parametrize("field", ["IOMaximumIOps", "IOMaximumBandwidth"])
def test_an_update_of_windows_io_limits_is_refused_in_dockers_words(field: str) -> None:
    with pytest.raises(InvalidParameter, match="^Invalid QoS settings: linux does not support Maximum IO Bandwidth "
                                               "or Maximum IO IOps$"):
        validate({field: 1}, update=True)


def test_lists() -> None:
    assert parse_list("0-2,4") == {0, 1, 2, 4}
    assert parse_list("") == set()
    assert format_list([0, 1, 2, 4, 6, 7]) == "0-2,4,6-7"
    with pytest.raises(ValueError, match="invalid format: 1-"):
        parse_list("1-")


# --------------------------------------------------------------------------- defaults and the OCI mapping


def test_defaults_double_the_swap_like_docker() -> None:
    host_config = apply_resource_defaults({"Memory": 16 * MB}, swap_supported=True)
    assert host_config["MemorySwap"] == 32 * MB
    assert host_config["NanoCpus"] == 0 and host_config["CpusetCpus"] == "" and host_config["PidsLimit"] is None
    assert apply_resource_defaults({"Memory": 16 * MB, "MemorySwap": -1}, swap_supported=True)["MemorySwap"] == -1
    assert apply_resource_defaults({"Memory": 16 * MB}, swap_supported=False)["MemorySwap"] == -1
    assert apply_resource_defaults({}, swap_supported=True)["MemorySwap"] == 0
    assert apply_resource_defaults({"MemorySwappiness": -1}, swap_supported=True)["MemorySwappiness"] is None


@pytest.mark.parametrize(("given", "kept"), [(0, None), (-1, None), (None, None), (20, 20)])
def test_a_pids_limit_of_zero_or_less_is_kept_as_null(given: int | None, kept: int | None) -> None:
    """Docker 20.10's inspect shows null for PidsLimit 0 (what the docker CLI sends) or -1: unlimited."""
    assert apply_resource_defaults({"PidsLimit": given}, swap_supported=True)["PidsLimit"] == kept


def test_oci_resources() -> None:
    host_config = {"Memory": 16 * MB, "MemorySwap": 32 * MB, "NanoCpus": 5 * 10**8, "CpuShares": 512,
                   "CpusetCpus": "0", "PidsLimit": 20, "MemoryReservation": 8 * MB, "BlkioWeight": 300}
    assert oci_resources(host_config, v1_memory=True) == {
        "memory": {"limit": 16 * MB, "reservation": 8 * MB, "swap": 32 * MB},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 20},
        "blockIO": {"weight": 300},
    }
    assert oci_resources({}, v1_memory=True) == {}
    assert oci_resources(apply_resource_defaults({}, swap_supported=True), v1_memory=True) == {}
    assert oci_resources({"Memory": 16 * MB, "MemorySwap": -1}) == {"memory": {"limit": 16 * MB}}
    assert oci_resources({"NanoCpus": 1_500_000_000})["cpu"] == {"quota": 150000, "period": 100000}
    assert oci_resources({"CpuQuota": 20000, "CpuPeriod": 50000})["cpu"] == {"quota": 20000, "period": 50000}
    assert oci_resources({"PidsLimit": 0})["pids"] == {"limit": -1}
    assert oci_resources({"PidsLimit": -5})["pids"] == {"limit": -1}
    assert "pids" not in oci_resources({"PidsLimit": None})
    assert oci_resources({"MemorySwappiness": 10, "OomKillDisable": True}, v1_memory=True) == {
        "memory": {"swappiness": 10, "disableOOMKiller": True}}
    assert oci_resources({"MemorySwappiness": 10, "OomKillDisable": True}, v1_memory=False) == {}


def test_spec_carries_the_resources_next_to_the_device_rules() -> None:
    from moor.containers.model import ProcessSpec, RuntimeSpecInput
    from moor.containers.spec import resources

    spec = RuntimeSpecInput(id="x", rootfs="/", hostname="h", domainname="", process=ProcessSpec(["sh"], []),
                            resources=oci_resources({"Memory": 16 * MB, "PidsLimit": 20}))
    built = resources(spec)
    assert built["memory"] == {"limit": 16 * MB} and built["pids"] == {"limit": 20}
    assert built["devices"][0] == {"allow": False, "access": "rwm"}


# --------------------------------------------------------------------------- update


def test_merge_update() -> None:
    current = apply_resource_defaults({"Memory": 16 * MB, "AutoRemove": False}, swap_supported=True)
    merged = merge_update("c1", current, {"Memory": 20 * MB, "PidsLimit": 30, "CpuShares": 0,
                                          "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}},
                          swap_supported=True)
    assert (merged["Memory"], merged["MemorySwap"], merged["PidsLimit"]) == (20 * MB, 32 * MB, 30)
    assert merged["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert current["Memory"] == 16 * MB  # not modified
    assert merge_update("c1", current, {"Memory": 64 * MB, "MemorySwap": 128 * MB}, True)["MemorySwap"] == 128 * MB
    unlimited = apply_resource_defaults({}, swap_supported=True)
    assert merge_update("c1", unlimited, {"Memory": 64 * MB}, swap_supported=True)["Memory"] == 64 * MB
    assert merge_update("c1", unlimited, {"PidsLimit": 0}, swap_supported=True)["PidsLimit"] == 0
    assert merge_update("c1", unlimited, {}, swap_supported=True) == unlimited


@pytest.mark.parametrize(("current", "changes", "message"), [
    ({"Memory": 16 * MB, "MemorySwap": 32 * MB}, {"Memory": 64 * MB},
     "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"),
    ({"CpuPeriod": 100000}, {"NanoCpus": 10**9},
     "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"),
    ({"CpuQuota": 50000}, {"NanoCpus": 10**9},
     "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"),
    ({"NanoCpus": 10**9}, {"CpuPeriod": 100000},
     "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"),
    ({"NanoCpus": 10**9}, {"CpuQuota": 50000},
     "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"),
    ({"AutoRemove": True}, {"RestartPolicy": {"Name": "always"}},
     "Restart policy cannot be updated because AutoRemove is enabled for the container"),
])  # fmt: skip
def test_update_conflicts(current: dict[str, Any], changes: dict[str, Any], message: str) -> None:
    with pytest.raises(Conflict) as error:
        merge_update("c1", current, changes, swap_supported=True)
    assert str(error.value) == f"Cannot update container c1: {message}"
    assert error.value.status == 409


def test_update_flags() -> None:
    assert update_flags({"Memory": 64 * MB, "MemorySwap": 128 * MB, "NanoCpus": 10**9, "CpuShares": 512,
                         "CpusetCpus": "0", "PidsLimit": 30}, swap_supported=True) == [
        f"--memory={64 * MB}", f"--memory-swap={128 * MB}", "--cpu-share=512", "--cpu-period=100000",
        "--cpu-quota=100000", "--cpuset-cpus=0", "--pids-limit=30"]
    assert update_flags({"PidsLimit": 0}) == ["--pids-limit=-1"]
    assert update_flags({"CpuQuota": -1}) == ["--cpu-quota=-1"]
    assert update_flags({"MemorySwap": -1}, swap_supported=False) == []
    assert update_flags({"RestartPolicy": {"Name": "always"}, "Memory": 0}) == []


# --------------------------------------------------------------------------- CLI flags


def test_flags_to_host_config() -> None:
    assert resource_flags_to_host_config("16m", "-1", "1.5", "512", "0-1", "20") == {
        "Memory": 16 * MB, "MemorySwap": -1, "NanoCpus": 1_500_000_000, "CpuShares": 512, "CpusetCpus": "0-1",
        "PidsLimit": 20}
    assert resource_flags_to_host_config() == {}
    assert resource_flags_to_host_config(memory="1g", memory_swap="2g", cpu_period="50000", cpu_quota="-1") == {
        "Memory": 1024 * MB, "MemorySwap": 2048 * MB, "CpuPeriod": 50000, "CpuQuota": -1}
    assert ram_in_bytes("512k") == 512 * 1024 and ram_in_bytes("1.5GB") == 1536 * MB and ram_in_bytes("100") == 100
    assert parse_cpus("0.5") == 500_000_000 and parse_cpus("3/2") == 1_500_000_000


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"memory": "lots"}, 'invalid argument "lots" for "-m, --memory" flag: invalid size: \'lots\''),
    ({"memory_swap": "-2"}, 'invalid argument "-2" for "--memory-swap" flag: invalid size: \'-2\''),
    ({"cpus": "abc"}, 'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number'),
    ({"cpus": "0.0000000001"}, 'invalid argument "0.0000000001" for "--cpus" flag: value is too precise'),
    ({"cpu_shares": "x"},
     'invalid argument "x" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "x": invalid syntax'),
    ({"pids_limit": "1.5"},
     'invalid argument "1.5" for "--pids-limit" flag: strconv.ParseInt: parsing "1.5": invalid syntax'),
])  # fmt: skip
def test_flag_errors(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(click.UsageError) as error:
        resource_flags_to_host_config(**kwargs)
    assert error.value.format_message() == message


def test_restart_policy_flag() -> None:
    assert parse_restart_policy("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert parse_restart_policy("always") == {"Name": "always", "MaximumRetryCount": 0}
    with pytest.raises(click.UsageError, match="maximum retry count must be an integer"):
        parse_restart_policy("on-failure:x")
    with pytest.raises(click.UsageError, match="invalid restart policy format"):
        parse_restart_policy("a:b:c")


# --------------------------------------------------------------------------- cgroups

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_PROC = """\
9:name=systemd:/moor/abc
8:pids:/moor/abc
4:memory:/moor/abc
1:cpu,cpuacct:/moor/abc
0::/moor/abc
"""


def test_cgroup_paths_on_a_hybrid_host() -> None:
    paths = cgroups.parse_proc_cgroup(HYBRID_PROC, HYBRID_MOUNTINFO, unified=False)
    assert paths.get("memory") == "/sys/fs/cgroup/memory/moor/abc"
    assert paths.get("cpuacct") == paths.get("cpu") == "/sys/fs/cgroup/cpu,cpuacct/moor/abc"
    assert paths.get("pids") == "/sys/fs/cgroup/pids/moor/abc"
    assert paths.get("blkio") is None
    assert "" not in paths.dirs  # the v2 group of a hybrid host holds nothing we read


def test_cgroup_paths_on_a_v2_host_and_mount_roots() -> None:
    mountinfo = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
    paths = cgroups.parse_proc_cgroup("0::/moor/abc\n", mountinfo, unified=True)
    assert paths.get("memory") == paths.get("pids") == "/sys/fs/cgroup/moor/abc"
    nested = "30 23 0:26 /daemon /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    assert cgroups.parse_proc_cgroup("0::/daemon/moor/abc\n", nested, True).get("io") == "/sys/fs/cgroup/moor/abc"


def write_files(directory: Path, files: dict[str, str]) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return str(directory)


def test_v1_readers(tmp_path: Path) -> None:
    memory = write_files(tmp_path / "memory", {
        "memory.usage_in_bytes": "1000000\n", "memory.max_usage_in_bytes": "2000000\n", "memory.failcnt": "3\n",
        "memory.limit_in_bytes": "16777216\n", "memory.stat": "cache 4096\nrss 8192\ntotal_inactive_file 100\n",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"})
    cpu = write_files(tmp_path / "cpu", {
        "cpuacct.usage": "5000\n", "cpuacct.usage_percpu": "3000 2000 \n", "cpuacct.stat": "user 2\nsystem 1\n",
        "cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 999\n"})
    pids = write_files(tmp_path / "pids", {"pids.current": "3\n", "pids.max": "max\n"})
    blkio = write_files(tmp_path / "blkio", {
        "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n",
        "blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 2\nTotal 3\n"})
    paths = cgroups.CgroupPaths(unified=False, dirs={"memory": memory, "cpu": cpu, "cpuacct": cpu, "pids": pids,
                                                     "blkio": blkio})
    stats = cgroups.memory_stats(paths)
    assert (stats["usage"], stats["max_usage"], stats["failcnt"], stats["limit"]) == (1000000, 2000000, 3, 16777216)
    assert stats["stats"]["cache"] == 4096 and stats["stats"]["total_inactive_file"] == 100
    assert list(stats["stats"]) == list(cgroups.V1_MEMORY_STAT_KEYS)
    ticks = cgroups.clock_ticks()
    assert cgroups.cpu_stats(paths) == {
        "cpu_usage": {"total_usage": 5000, "percpu_usage": [3000, 2000], "usage_in_kernelmode": 10**9 // ticks,
                      "usage_in_usermode": 2 * 10**9 // ticks},
        "throttling_data": {"periods": 10, "throttled_periods": 4, "throttled_time": 999}}
    assert cgroups.pids_stats(paths) == {"current": 3}
    blk = cgroups.blkio_stats(paths)
    assert blk["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096}, {"major": 8, "minor": 0, "op": "Write", "value": 8192},
        {"major": 8, "minor": 0, "op": "Total", "value": 12288}]
    assert len(blk["io_serviced_recursive"]) == 2 and blk["sectors_recursive"] is None
    assert cgroups.oom_killed(paths)
    assert not cgroups.oom_killed(cgroups.CgroupPaths(unified=False, dirs={"memory": str(tmp_path / "gone")}))


def test_v2_readers(tmp_path: Path) -> None:
    group = write_files(tmp_path / "g", {
        "memory.current": "2000\n", "memory.max": "max\n", "memory.stat": "anon 100\ninactive_file 50\n",
        "memory.events": "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n",
        "cpu.stat": "usage_usec 7\nuser_usec 4\nsystem_usec 3\nnr_periods 2\nnr_throttled 1\nthrottled_usec 5\n",
        "pids.current": "4\n", "pids.max": "20\n",
        "io.stat": "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"})
    paths = cgroups.CgroupPaths(unified=True, dirs={"": group})
    assert cgroups.memory_stats(paths) == {"usage": 2000, "stats": {"anon": 100, "inactive_file": 50},
                                           "limit": cgroups.UNLIMITED, "failcnt": 2}
    assert cgroups.cpu_stats(paths) == {
        "cpu_usage": {"total_usage": 7000, "usage_in_kernelmode": 3000, "usage_in_usermode": 4000},
        "throttling_data": {"periods": 2, "throttled_periods": 1, "throttled_time": 5000}}
    assert cgroups.pids_stats(paths) == {"current": 4, "limit": 20}
    assert cgroups.blkio_stats(paths)["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 10}, {"major": 8, "minor": 0, "op": "write", "value": 20}]
    assert cgroups.oom_killed(paths)


# --------------------------------------------------------------------------- stats JSON and the CLI's figures


def test_system_cpu_usage_and_times() -> None:
    text = "cpu  100 0 50 800 10 0 5 7 0 0\ncpu0 50 0 25 400 5 0 2 3 0 0\n"
    assert stats_service.system_cpu_usage(text, ticks=100) == (100 + 50 + 800 + 10 + 5) * 10**9 // 100
    assert rfc3339_nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


def test_empty_stats_of_a_stopped_container() -> None:
    container = Container(id="f" * 64, name="web", created="", image_id="", image="busybox", path="sh", args=[],
                          config={}, host_config={})
    empty = stats_service.stats_json(None, container, None)  # type: ignore[arg-type]
    assert list(empty) == ["read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
                           "cpu_stats", "precpu_stats", "memory_stats", "name", "id"]
    assert (empty["read"], empty["name"], empty["memory_stats"]) == ("0001-01-01T00:00:00Z", "/web", {})
    row = cli_resources.stats_row("web", empty, no_trunc=False)
    assert row == {"BlockIO": "0B / 0B", "CPUPerc": "0.00%", "Container": "web", "ID": "f" * 12, "MemPerc": "0.00%",
                   "MemUsage": "0B / 0B", "Name": "web", "NetIO": "0B / 0B", "PIDs": "0"}


def test_cli_figures() -> None:
    stats = {
        "id": "a" * 64, "name": "/web",
        "cpu_stats": {"cpu_usage": {"total_usage": 3 * 10**8, "percpu_usage": [1, 2]}, "system_cpu_usage": 4 * 10**9,
                      "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 10**8}, "system_cpu_usage": 2 * 10**9},
        "memory_stats": {"usage": 10 * MB + 100, "limit": 16 * MB, "stats": {"total_inactive_file": 100}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 1500}, {"op": "Write", "value": 2},
                                                       {"op": "Total", "value": 1502}]},
        "pids_stats": {"current": 5},
        "networks": {"eth0": {"rx_bytes": 1234567, "tx_bytes": 0}},
    }
    assert cli_resources.cpu_percent(stats) == pytest.approx(20.0)
    row = cli_resources.stats_row("web", stats, no_trunc=False)
    assert row["CPUPerc"] == "20.00%" and row["MemUsage"] == "10MiB / 16MiB" and row["MemPerc"] == "62.50%"
    assert row["BlockIO"] == "1.5kB / 2B" and row["NetIO"] == "1.23MB / 0B" and row["PIDs"] == "5"
    assert cli_resources.bytes_size(16_384_000) == "15.62MiB" and cli_resources.bytes_size(0) == "0B"
    lines = cli_resources.render_stats("", [row])
    assert lines[0] == ("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       BLOCK I/O    "
                        "PIDS")
    assert lines[1] == "aaaaaaaaaaaa   web       20.00%    10MiB / 16MiB       62.50%    1.23MB / 0B   1.5kB / 2B   5"
    assert cli_resources.render_stats("{{.Name}}: {{.CPUPerc}}", [row]) == ["web: 20.00%"]
    assert cli_resources.render_stats("table {{.Container}}\t{{.PIDs}}", [row]) == ["CONTAINER   PIDS", "web         5"]
    unknown = cli_resources.stats_row("gone", None, no_trunc=False)
    assert (unknown["CPUPerc"], unknown["MemUsage"]) == ("--", "-- / --")


@pytest.mark.parametrize(("value", "limit"), [(None, None), (0, -1), (-5, -1), (100, 100), (4 * 1024 * 1024, 4194304),
                                              (4 * 1024 * 1024 + 1, -1), (2**63 - 1, -1)])
def test_pids_limits_past_what_the_kernel_counts_are_unlimited(value: int | None, limit: int | None) -> None:
    from moor.containers.limits import pids_limit

    assert pids_limit(value) == limit


def test_v1_memory_stats_leave_out_a_zero_failcnt(tmp_path: Path) -> None:
    """As Docker's ``failcnt,omitempty``: a container that never hit its limit has no ``failcnt``."""
    memory = write_files(tmp_path / "memory", {
        "memory.usage_in_bytes": "1000\n", "memory.max_usage_in_bytes": "2000\n", "memory.failcnt": "0\n",
        "memory.limit_in_bytes": "16777216\n", "memory.stat": "cache 4096\n"})
    stats = cgroups.memory_stats(cgroups.CgroupPaths(unified=False, dirs={"memory": memory}))
    assert sorted(stats) == ["limit", "max_usage", "stats", "usage"]
