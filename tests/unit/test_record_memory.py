"""The container records moord keeps by the thousand: lean in memory, unchanged in what they show and store."""

from __future__ import annotations

import gc
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

from moor.containers import hostconfig
from moor.containers.record import Container, ContainerStore, State

#: what the docker CLI sends for ``docker run -d --network heap busybox sleep 1000000``, with moord's defaults
DOCKER_CLI_HOST_CONFIG: dict[str, Any] = {
    "AutoRemove": False, "Binds": None, "BlkioDeviceReadBps": None, "BlkioDeviceReadIOps": None,
    "BlkioDeviceWriteBps": None, "BlkioDeviceWriteIOps": None, "BlkioWeight": 0, "BlkioWeightDevice": [],
    "CapAdd": None, "CapDrop": None, "Cgroup": "", "CgroupParent": "", "CgroupnsMode": "host", "ConsoleSize": [0, 0],
    "ContainerIDFile": "", "CpuCount": 0, "CpuPercent": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0, "CpuShares": 0, "CpusetCpus": "", "CpusetMems": "", "DeviceCgroupRules": None,
    "DeviceRequests": None, "Devices": [], "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None,
    "GroupAdd": None, "IOMaximumBandwidth": 0, "IOMaximumIOps": 0, "IpcMode": "", "Isolation": "",
    "KernelMemory": 0, "KernelMemoryTCP": 0, "Links": None, "LogConfig": {"Config": {}, "Type": "json-file"},
    "MaskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"],
    "Memory": 0, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None, "NanoCpus": 0,
    "NetworkMode": "heap", "OomKillDisable": False, "OomScoreAdj": 0, "PidMode": "", "PidsLimit": None,
    "PortBindings": {}, "Privileged": False, "PublishAllPorts": False,
    "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    "ReadonlyRootfs": False, "RestartPolicy": {"MaximumRetryCount": 0, "Name": "no"}, "Runtime": "runc",
    "SecurityOpt": None, "ShmSize": 67108864, "UTSMode": "", "Ulimits": None, "UsernsMode": "", "VolumeDriver": "",
    "VolumesFrom": None,
}  # fmt: skip


def running_record(root: str, number: int) -> dict[str, Any]:
    """A running container's record as moord writes it (every path in full)."""
    container_id = f"{number:064x}"
    directory = os.path.join(root, container_id)
    return {
        "id": container_id, "name": f"c{number}", "created": "2026-12-07T06:24:04.495773554Z",
        "image_id": "sha256:" + "4" * 64, "image": "busybox", "path": "sleep", "args": ["1000000"],
        "config": {"Hostname": container_id[:12], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"],
                   "Cmd": ["sleep", "1000000"], "Image": "busybox", "Labels": {}, "Tty": False},
        "host_config": DOCKER_CLI_HOST_CONFIG,
        "state": {"Status": "running", "Running": True, "Pid": 1000 + number,
                  "StartedAt": "2026-12-07T06:24:41.689594984Z"},
        "log_path": os.path.join(directory, f"{container_id}-json.log"),
        "hostname_path": os.path.join(directory, "hostname"), "hosts_path": os.path.join(directory, "hosts"),
        "resolv_conf_path": os.path.join(directory, "resolv.conf"), "storage_key": container_id,
        "rootfs": f"/var/lib/moor/storage/overlay/{container_id}/merged",
        "networks": {"heap": {"Aliases": [container_id[:12]], "EndpointID": "e" * 64, "Gateway": "10.97.0.1",
                              "IPAddress": f"10.97.0.{number % 250 + 2}", "IPPrefixLen": 20,
                              "MacAddress": "02:42:0a:61:00:56", "NetworkID": "2" * 64}},
    }


def write_records(root: Path, count: int) -> None:
    for number in range(count):
        (root / f"{number:064x}").mkdir()
        (root / f"{number:064x}" / "config.v2.json").write_text(json.dumps(running_record(str(root), number)))


def test_a_loaded_record_costs_under_five_kib(tmp_path: Path) -> None:
    """1000 containers fit in 5 MB of records (8.4 KiB each when every path, zero field and string was kept)."""
    write_records(tmp_path, 200)
    gc.collect()
    tracemalloc.start()
    try:
        store = ContainerStore(str(tmp_path))
        gc.collect()
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(store.all()) == 200
    assert size / 200 < 5 * 1024


def test_the_record_file_and_what_it_shows_are_unchanged(tmp_path: Path) -> None:
    """Paths are written in full, zero HostConfig fields come back as Docker shows them, a save is what it read."""
    write_records(tmp_path, 1)
    original = running_record(str(tmp_path), 0)
    container = ContainerStore(str(tmp_path)).all()[0]
    assert (container.log_path, container.hostname_path, container.hosts_path, container.resolv_conf_path) == (
        original["log_path"], original["hostname_path"], original["hosts_path"], original["resolv_conf_path"])
    assert len(container.host_config) == 15  # of 61: the lists given empty are kept, as Docker shows them
    assert hostconfig.full(container.host_config) == DOCKER_CLI_HOST_CONFIG
    ContainerStore(str(tmp_path)).save(container)
    saved = json.loads((tmp_path / container.id / "config.v2.json").read_text())
    assert saved["hosts_path"] == original["hosts_path"] and saved["storage_key"] == container.id
    assert hostconfig.full(saved["host_config"]) == DOCKER_CLI_HOST_CONFIG
    assert saved["state"]["Pid"] == 1000 and set(saved["state"]) == set(State().to_json())


def test_zero_is_of_the_fields_own_type() -> None:
    """false is not 0 and [] is not null: a value that only compares equal to the zero is kept."""
    kept = hostconfig.compact({"Privileged": 0, "Memory": False, "Binds": [], "Dns": None, "Memory" + "Swap": -1,
                               "Unknown": None})
    assert kept == {"Privileged": 0, "Memory": False, "Binds": [], "Memory" + "Swap": -1, "Unknown": None}


def test_paths_elsewhere_are_kept_as_given(tmp_path: Path) -> None:
    """A container sharing another's network namespace uses that one's /etc files: its record names them."""
    store = ContainerStore(str(tmp_path))
    other = os.path.join(str(tmp_path), "f" * 64, "hosts")
    container = Container(id="a" * 64, name="joined", created="", image_id="", image="busybox", path="sh", args=[],
                          config={}, host_config={"NetworkMode": "container:" + "f" * 64}, hosts_path=other)
    store.save(container)
    again = ContainerStore(str(tmp_path)).all()[0]
    assert again.hosts_path == other and again.hostname_path == "" and again.log_path == ""


def test_records_of_a_moved_data_root_keep_their_paths(tmp_path: Path) -> None:
    """Records read from another directory than the one they were written in keep the paths they name."""
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    write_records(tmp_path / "old", 1)
    os.rename(tmp_path / "old" / f"{0:064x}", tmp_path / "new" / f"{0:064x}")
    container = ContainerStore(str(tmp_path / "new")).all()[0]
    assert container.hosts_path == os.path.join(str(tmp_path / "old"), f"{0:064x}", "hosts")


def test_records_loaded_together_share_equal_strings(tmp_path: Path) -> None:
    write_records(tmp_path, 2)
    first, second = sorted(ContainerStore(str(tmp_path)).all(), key=lambda c: c.name)
    assert first.image_id is second.image_id
    assert first.networks["heap"]["NetworkID"] is second.networks["heap"]["NetworkID"]
    assert first.host_config["MaskedPaths"][0] is second.host_config["MaskedPaths"][0]
    assert first.storage_key is first.id
