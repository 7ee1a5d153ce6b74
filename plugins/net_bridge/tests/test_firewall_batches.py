"""How many iptables processes a container's published ports cost (issue 17: NAT rules in batches, a thousand
containers each as cheap as the first); iptables itself is replaced by a recorder (no host changes)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from moor.errors import MoorError
from moor.types import PortMapping
from moor_net_bridge import firewall

POLICY = firewall.NetworkPolicy(bridge="br-test", subnet=ipaddress.IPv4Network("10.77.0.0/24"))
PORTS = [PortMapping(protocol="tcp", host_port=8080, container_port=80),
         PortMapping(protocol="udp", host_port=5353, container_port=53, host_ip="127.0.0.1")]


class Recorder:
    """Stands in for iptables: records each command; ``refuse`` restores fail (a rule the tables lack)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, str]] = []
        self.refuse = 0

    def __call__(self, command: list[str], stdin: str | None = None) -> str:
        self.commands.append((command[0], stdin or ""))
        if command[0].endswith("-restore") and self.refuse:
            self.refuse -= 1
            raise MoorError("iptables-restore: line 2 failed")
        return "*nat\n:MOOR-DNAT - [0:0]\nCOMMIT\n" if command[0].endswith("-save") else ""

    def programs(self) -> list[str]:
        return [program for program, _ in self.commands]


@pytest.fixture()
def iptables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(firewall, "_run", recorder)
    monkeypatch.setattr(firewall, "LOCK_PATH", str(tmp_path / "firewall.lock"))
    return recorder


def test_publishing_a_new_endpoint_is_one_restore_and_no_save(iptables: Recorder) -> None:
    assert firewall.set_ports(POLICY, "ep1", "10.77.0.2", PORTS, known=[]) is True
    assert iptables.programs() == ["iptables-restore"]
    batch = iptables.commands[0][1]
    assert batch.count("-A MOOR-DNAT") == 2 and "-D " not in batch
    assert '--comment "moor bridge br-test port ep1"' in batch


def test_publishing_again_deletes_the_recorded_rules_in_the_same_batch(iptables: Recorder) -> None:
    firewall.set_ports(POLICY, "ep1", "10.77.0.2", PORTS[:1], known=PORTS)
    assert iptables.programs() == ["iptables-restore"]
    batch = iptables.commands[0][1]
    assert batch.count("-D MOOR-DNAT") == 2 and batch.count("-A MOOR-DNAT") == 1


def test_tables_without_the_recorded_rules_are_read_and_repaired(iptables: Recorder) -> None:
    iptables.refuse = 1
    firewall.set_ports(POLICY, "ep1", "10.77.0.2", PORTS, known=PORTS)
    assert iptables.programs() == ["iptables-restore", "iptables-save", "iptables-save", "iptables-restore"]


def test_removing_known_rules_is_one_restore(iptables: Recorder) -> None:
    rules = firewall.port_rules(POLICY, "ep1", "10.77.0.2", PORTS)
    assert firewall.remove_ports("br-test", "ep1", rules) is True
    assert iptables.programs() == ["iptables-restore"]
    assert iptables.commands[0][1].count("-D ") == len(rules)


def test_unknown_rules_are_found_by_reading_the_tables(iptables: Recorder) -> None:
    assert firewall.remove_ports("br-test", "ep1") is False
    assert iptables.programs() == ["iptables-save", "iptables-save"]
