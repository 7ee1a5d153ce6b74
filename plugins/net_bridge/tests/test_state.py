"""The bridge driver's state store: a transaction reads the files only when another writer changed them, writes
only what changed (one endpoint: its small file alone), and a failed block leaves nothing behind (no host
changes)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from moor.errors import MoorError
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

    def counting(self: StateStore) -> state_module._Snapshot:
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
            endpoints = current.networks["n" * 64].endpoints
            endpoints[f"{number:064x}"] = dataclasses.replace(endpoints[f"{number:064x}"], host_veth=f"vethnew{number}")
    assert reads == []
    on_disk = StateStore(str(tmp_path)).load().networks["n" * 64]
    assert [on_disk.endpoints[f"{n:064x}"].host_veth for n in range(6)] == [f"vethnew{n}" for n in range(5)] + \
        ["veth0000005"]
    assert on_disk == store.load().networks["n" * 64]


def test_one_endpoint_changed_writes_its_own_file_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connect among a thousand endpoints writes one small file (and the generation token), not them all, and
    no fsync: state.json, the networks, is left alone."""
    store = StateStore(str(tmp_path))
    with store.transaction() as current:
        current.networks["n" * 64] = _network(1000)
    written: list[tuple[str, bool]] = []
    original = StateStore._write_file

    def recording(self: StateStore, path: str, text: str, durable: bool) -> None:
        written.append((Path(path).name, durable))
        original(self, path, text, durable)
    monkeypatch.setattr(StateStore, "_write_file", recording)
    new = EndpointRecord(container_id="c" * 64, address="10.77.7.7", mac="02:42:0a:4d:07:07", host_veth="vethc",
                         interface="eth0")
    with store.transaction() as current:
        current.networks["n" * 64].endpoints["e" * 64] = new
    assert written == [(f"{'n' * 64}.{'e' * 64}.json", False), (".generation", False)]
    written.clear()
    with store.transaction() as current:
        del current.networks["n" * 64].endpoints["e" * 64]
    assert written == [(".generation", False)]
    assert not (tmp_path / "endpoints" / f"{'n' * 64}.{'e' * 64}.json").exists()
    assert json.loads((tmp_path / "state.json").read_text())["networks"]["n" * 64]["endpoints"] == {}
    assert len(StateStore(str(tmp_path)).load().networks["n" * 64].endpoints) == 1000


def test_an_older_state_file_with_its_endpoints_is_read_and_moved(tmp_path: Path) -> None:
    """A state.json written by an older driver holds the endpoints: they are read, then moved to their files."""
    record = _network(3)
    legacy = {"version": 1, "networks": {record.id: {**vars(record), "endpoints": {
        key: {**vars(found)} for key, found in record.endpoints.items()}}}}
    (tmp_path / "state.json").write_text(json.dumps(legacy))
    store = StateStore(str(tmp_path))
    assert store.load().networks[record.id] == record
    with store.transaction() as current:
        assert current.networks[record.id] == record
    assert json.loads((tmp_path / "state.json").read_text())["networks"][record.id]["endpoints"] == {}
    assert len(list((tmp_path / "endpoints").glob("*.json"))) == 3
    assert StateStore(str(tmp_path)).load().networks[record.id] == record


def test_an_unreadable_endpoint_file_is_skipped(tmp_path: Path) -> None:
    """After a power loss an endpoint's file (never synced) may be empty: the others still load."""
    store = StateStore(str(tmp_path))
    with store.transaction() as current:
        current.networks["n" * 64] = _network(2)
    (tmp_path / "endpoints" / f"{'n' * 64}.{0:064x}.json").write_text("")
    assert sorted(StateStore(str(tmp_path)).load().networks["n" * 64].endpoints) == [f"{1:064x}"]


def test_an_endpoint_id_cannot_name_a_path(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path))
    with pytest.raises(MoorError), store.transaction() as current:
        current.networks["n" * 64] = _network(0)
        current.networks["n" * 64].endpoints["../x"] = EndpointRecord(container_id="c", address="10.77.0.9",
                                                                      mac="02:42:0a:4d:00:09", host_veth="v",
                                                                      interface="eth0")
    assert not (tmp_path / "x.json").exists()


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
