"""The bridge driver's state store: a transaction reads the file only when another writer changed it, writes
only what changed, and a failed block leaves nothing behind (no host changes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moor_net_bridge import state as state_module
from moor_net_bridge.state import EndpointRecord, NetworkRecord, StateStore


def _network(endpoints: int) -> NetworkRecord:
    record = NetworkRecord(id="n" * 64, name="many", bridge="br-test", subnet="10.77.0.0/21", gateway="10.77.0.1",
                           mtu=1500)
    for number in range(endpoints):
        record.endpoints[f"{number:064x}"] = EndpointRecord(
            container_id=f"{number:064x}", address=f"10.77.{number // 250}.{number % 250 + 2}",
            mac="02:42:0a:4d:00:02", host_veth=f"veth{number:07x}", interface="eth0",
            ports=[{"protocol": "tcp", "host_port": 40000 + number, "container_port": 80, "host_ip": ""}])
    return record


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the state file reads."""
    counted: list[int] = []
    original = StateStore._read

    def counting(self: StateStore) -> tuple[state_module.State, str]:
        counted.append(1)
        return original(self)
    monkeypatch.setattr(StateStore, "_read", counting)
    return counted


def test_a_transaction_reuses_the_state_it_wrote_while_the_file_is_unchanged(tmp_path: Path, reads: list[int]) -> None:
    store = StateStore(str(tmp_path))
    with store.transaction() as current:
        current.networks["n" * 64] = _network(500)
    reads.clear()
    for number in range(5):
        with store.transaction() as current:
            current.networks["n" * 64].endpoints[f"{number:064x}"].host_veth = f"vethnew{number}"
    assert reads == []
    on_disk = StateStore(str(tmp_path)).load().networks["n" * 64]
    assert [on_disk.endpoints[f"{n:064x}"].host_veth for n in range(6)] == [f"vethnew{n}" for n in range(5)] + \
        ["veth0000005"]
    assert on_disk == NetworkRecord.from_json(json.loads((tmp_path / "state.json").read_text())["networks"]["n" * 64])


def test_another_writer_is_seen(tmp_path: Path) -> None:
    """Two stores on one home (moord before and after a restart): each sees what the other wrote."""
    first, second = StateStore(str(tmp_path)), StateStore(str(tmp_path))
    with first.transaction() as current:
        current.networks["n" * 64] = _network(3)
    with second.transaction() as current:
        del current.networks["n" * 64].endpoints[f"{1:064x}"]
    with first.transaction() as current:
        assert sorted(current.networks["n" * 64].endpoints) == [f"{0:064x}", f"{2:064x}"]
    first.save(state_module.State())  # a whole save (as the tests of the driver do) is seen too
    with first.transaction() as current:
        assert current.networks == {}


def test_a_failed_block_changes_nothing(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path))
    with store.transaction() as current:
        current.networks["n" * 64] = _network(2)
    with pytest.raises(RuntimeError), store.transaction() as current:
        current.networks["n" * 64].endpoints.clear()
        raise RuntimeError("the host refused")
    with store.transaction() as current:
        assert len(current.networks["n" * 64].endpoints) == 2
    assert len(store.load().networks["n" * 64].endpoints) == 2
