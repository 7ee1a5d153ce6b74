"""The HostConfig defaults Docker 20.10's daemon keeps at create (read off a private dockerd): masked and
read-only paths, cgroupns mode, ``label=disable`` for privileged and host-namespace containers."""

from __future__ import annotations

from typing import Any

import pytest

from moor.containers import security
from moor.containers.spec import DEFAULT_READONLY_PATHS, cgroup_v2, default_masked_paths


def test_paths_and_cgroupns_mode_by_default() -> None:
    host = security.apply_defaults({})
    assert host["MaskedPaths"] == default_masked_paths() and host["ReadonlyPaths"] == list(DEFAULT_READONLY_PATHS)
    assert host["CgroupnsMode"] == ("private" if cgroup_v2() else "host") and "SecurityOpt" not in host


@pytest.mark.parametrize("host_config", [{"Privileged": True}, {"IpcMode": "host"}, {"PidMode": "host"},
                                         {"Privileged": True, "SecurityOpt": ["no-new-privileges"]}])
def test_label_disable_for_privileged_and_host_namespaces(host_config: dict[str, Any]) -> None:
    given = list(host_config.get("SecurityOpt") or [])
    host = security.apply_defaults(dict(host_config))
    assert host["SecurityOpt"] == [*given, "label=disable"]
    assert security.apply_defaults(host)["SecurityOpt"] == [*given, "label=disable"]  # once, however often
    if host_config.get("Privileged"):
        assert (host["MaskedPaths"], host["ReadonlyPaths"]) == (None, None)


def test_given_paths_and_mode_are_kept() -> None:
    host = security.apply_defaults({"MaskedPaths": [], "ReadonlyPaths": ["/proc/bus"], "CgroupnsMode": "private",
                                    "IpcMode": "shareable", "PidMode": "container:x"})
    assert (host["MaskedPaths"], host["ReadonlyPaths"], host["CgroupnsMode"]) == ([], ["/proc/bus"], "private")
    assert "SecurityOpt" not in host
