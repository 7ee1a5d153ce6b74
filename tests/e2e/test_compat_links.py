"""Legacy links and shared namespaces as Docker 20.10 has them (issue 15).

Each expectation was checked against a private dockerd 20.10 doing the same.
"""

from __future__ import annotations

import pytest

from e2e.containerhelpers import address, inspect, moor, moord, ok  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def linked(moord: DaemonProcess) -> str:
    ok(moor(moord, "run", "-d", "--name", "lnk-srv", "-e", "FOO=bar", "--expose", "80", "--expose", "53/udp",
            "busybox", "sleep", "300"))
    ok(moor(moord, "run", "-d", "--name", "lnk-par", "--link", "lnk-srv:my-db", "busybox", "sleep", "300"))
    return address(moord, "lnk-srv")


def test_link_sets_docker_variables_for_run_and_exec(moord: DaemonProcess, linked: str) -> None:
    expected = ["MY_DB_NAME=/lnk-par/my-db", "MY_DB_ENV_FOO=bar", f"MY_DB_PORT=udp://{linked}:53",
                f"MY_DB_PORT_53_UDP=udp://{linked}:53", f"MY_DB_PORT_53_UDP_ADDR={linked}",
                "MY_DB_PORT_53_UDP_PORT=53", "MY_DB_PORT_53_UDP_PROTO=udp", f"MY_DB_PORT_80_TCP=tcp://{linked}:80",
                f"MY_DB_PORT_80_TCP_ADDR={linked}", "MY_DB_PORT_80_TCP_PORT=80", "MY_DB_PORT_80_TCP_PROTO=tcp"]
    env = ok(moor(moord, "exec", "lnk-par", "env")).splitlines()
    assert sorted(line for line in env if line.startswith("MY_DB_")) == sorted(expected)
    run = ok(moor(moord, "run", "--rm", "--name", "lnk-run", "--link", "lnk-srv:db", "busybox", "env")).splitlines()
    assert "DB_NAME=/lnk-run/db" in run and f"DB_PORT_80_TCP_ADDR={linked}" in run
    hosts = ok(moor(moord, "exec", "lnk-par", "cat", "/etc/hosts"))
    assert f"{linked}\tmy-db " in hosts


def test_ps_names_show_link_aliases(moord: DaemonProcess, linked: str) -> None:
    names = ok(moor(moord, "ps", "--no-trunc", "--filter", "name=lnk-srv", "--format", "{{.Names}}")).split()
    assert names == ["lnk-par/my-db,lnk-srv"]


def test_delete_removes_a_link(moord: DaemonProcess, linked: str) -> None:
    ok(moor(moord, "run", "-d", "--name", "lnk-gone", "--link", "lnk-srv:old", "busybox", "sleep", "300"))
    refused = moor(moord, "rm", "--link", "lnk-srv")
    assert refused.returncode != 0 and "cannot remove the default link name" in refused.stderr
    assert moor(moord, "rm", "--link", "nope/old").returncode != 0
    assert "\told " in ok(moor(moord, "exec", "lnk-gone", "cat", "/etc/hosts"))
    ok(moor(moord, "rm", "--link", "lnk-gone/old"))
    assert "\told " not in ok(moor(moord, "exec", "lnk-gone", "cat", "/etc/hosts"))
    assert "OLD_NAME" not in ok(moor(moord, "exec", "lnk-gone", "env"))
    assert inspect(moord, "lnk-gone")["HostConfig"]["Links"] is None
    assert inspect(moord, "lnk-srv")["State"]["Running"]
    assert "lnk-gone/old" not in ok(moor(moord, "ps", "-a", "--no-trunc", "--format", "{{.Names}}"))
    ok(moor(moord, "rm", "-f", "lnk-gone"))


def test_pid_container_shares_the_pid_namespace(moord: DaemonProcess, linked: str) -> None:
    processes = ok(moor(moord, "run", "--rm", "--pid", "container:lnk-srv", "busybox", "ps", "-o", "pid,args"))
    assert "1 sleep 300" in " ".join(processes.split())


def test_net_container_shares_hostname_and_etc_files(moord: DaemonProcess, linked: str) -> None:
    hostname = inspect(moord, "lnk-srv")["Config"]["Hostname"]
    out = ok(moor(moord, "run", "--rm", "--net", "container:lnk-srv", "busybox", "sh", "-c",
                  "hostname; cat /etc/hostname; grep -c . /etc/hosts >/dev/null && tail -1 /etc/hosts"))
    assert out.splitlines()[:2] == [hostname, hostname]
    assert out.splitlines()[2].split() == [linked, hostname]
    assert ok(moor(moord, "exec", "lnk-srv", "tail", "-1", "/etc/hosts")).split() == [linked, hostname]


def test_a_link_to_a_container_not_running_fails_the_start(moord: DaemonProcess) -> None:
    ok(moor(moord, "create", "--name", "lnk-idle", "busybox", "sleep", "300"))
    refused = moor(moord, "run", "-d", "--name", "lnk-to-idle", "--link", "lnk-idle:db", "busybox", "sleep", "300")
    assert refused.returncode != 0
    assert "Cannot link to a non running container: /lnk-idle AS /lnk-to-idle/db" in refused.stderr
    assert not inspect(moord, "lnk-to-idle")["State"]["Running"]
    ok(moor(moord, "rm", "-f", "lnk-idle", "lnk-to-idle"))


def test_joining_the_namespaces_of_a_container_not_running_is_refused(moord: DaemonProcess) -> None:
    ok(moor(moord, "create", "--name", "ns-idle", "busybox", "sleep", "300"))
    ident = inspect(moord, "ns-idle")["Id"]
    pid = moor(moord, "run", "--rm", "--pid", "container:ns-idle", "busybox", "true")
    assert pid.returncode != 0 and f"container {ident} is not running" in pid.stderr
    net = moor(moord, "run", "--rm", "--net", "container:ns-idle", "busybox", "true")
    assert net.returncode != 0 and f"cannot join network of a non running container: {ident}" in net.stderr
    ok(moor(moord, "rm", "-f", "ns-idle"))
