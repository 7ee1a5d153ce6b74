"""``--cgroup-parent``, ``--device-cgroup-rule`` and ``--oom-score-adj`` in the OCI spec, as Docker writes them."""

from __future__ import annotations

import pytest

from moor.containers.cgroups import container_cgroups_path
from moor.containers.limits import device_cgroup_rules, oci_resources
from moor.errors import InvalidParameter


def test_cgroups_path() -> None:
    assert container_cgroups_path("abc") == "/moor/abc"
    assert container_cgroups_path("abc", "/mytest") == "/mytest/abc"
    assert container_cgroups_path("abc", "mytest/sub/") == "/mytest/sub/abc"
    assert container_cgroups_path("abc", "../../etc") == "/etc/abc"  # never above the hierarchy's root


def test_device_cgroup_rules() -> None:
    assert device_cgroup_rules(["c 42:* rmw", "b 8:16 r", "a *:* m"]) == [
        {"allow": True, "type": "c", "major": 42, "minor": -1, "access": "rmw"},
        {"allow": True, "type": "b", "major": 8, "minor": 16, "access": "r"},
        {"allow": True, "type": "a", "major": -1, "minor": -1, "access": "m"},
    ]
    assert oci_resources({"DeviceCgroupRules": ["c 1:2 r"]}, v1_memory=False)["devices"] == [
        {"allow": True, "type": "c", "major": 1, "minor": 2, "access": "r"}]
    assert "devices" not in oci_resources({"DeviceCgroupRules": None}, v1_memory=False)


@pytest.mark.parametrize("rule", ["bogus", "c 1:2 rwmx", "x 1:2 r", "c 1 r", " c 1:2 r"])
def test_bad_device_cgroup_rules(rule: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        device_cgroup_rules([rule])
    assert str(raised.value) == f"invalid device cgroup rule format: '{rule}'"
