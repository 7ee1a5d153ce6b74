"""The network model against what moor wrote and showed before it: old data roots load, and Docker's JSON of
networks (``/networks``) is the same as the one the pre-model code made (``data/networks-before-model.json``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from moor.networks.model import Endpoint, IPAMConfig, Network, NetworkRequest
from moor.networks.store import NetworkStore, network_from_record, network_record
from moor.networks.views import network_request, network_view, prune_view
from moor.services.events import EventBus
from moor.services.networks import NetworkService
from moor.testing.fakes import fake_drivers
from moor.types import NetworkSpec

BEFORE = json.loads((Path(__file__).parent / "data" / "networks-before-model.json").read_text())


@pytest.fixture
def old_data_root(tmp_path: Path) -> Path:
    """A data root whose network records the pre-model code wrote."""
    os.makedirs(tmp_path / "network")
    (tmp_path / "network" / "networks.json").write_text(json.dumps(BEFORE["disk"], indent=1, sort_keys=True))
    return tmp_path


def test_records_of_the_pre_model_code_load_and_are_saved_unchanged(old_data_root: Path) -> None:
    service = NetworkService(str(old_data_root), fake_drivers(old_data_root / "drivers"), EventBus())
    assert sorted(service.networks) == sorted(BEFORE["disk"])  # no predefined network made again
    saved = json.loads((old_data_root / "network" / "networks.json").read_text())
    for record in saved.values():  # marked: its endpoints are in their own files now (moved there at once)
        assert record["moor"].pop("endpoint_files") is True
    assert saved == BEFORE["disk"]  # the model keeps every key: an older moord still reads the file
    moved = NetworkService(str(old_data_root), fake_drivers(old_data_root / "drivers2"), EventBus())
    assert {key: network.endpoints for key, network in moved.networks.items()} == \
        {key: network.endpoints for key, network in service.networks.items()}
    plain = service.get("plain")
    member = plain.endpoints["d" * 64]
    assert (member.name, member.address, member.aliases) == ("member", "10.1.0.2", ["web", "d" * 12])
    assert plain.created_on_host and plain.driver_facts == {"bridge": "br-x", "gateway": "10.1.0.1",
                                                            "subnet": "10.1.0.0/24"}
    assert not service.get("host").created_on_host and service.get("host").driver_facts == {}
    assert service.resolve("d" * 64, "web.plain") == ["10.1.0.2"]


def test_dockers_json_is_the_one_shown_before_the_model(old_data_root: Path) -> None:
    service = NetworkService(str(old_data_root), fake_drivers(old_data_root / "drivers"), EventBus())
    shown = {network.name: network_view(network) for network in service.list({})}
    assert shown == BEFORE["views"]
    assert "moor" not in shown["plain"] and "Aliases" not in shown["plain"]["Containers"]["d" * 64]


def test_the_disk_record_round_trips_every_field() -> None:
    network = Network(id="n" * 64, name="full", driver="bridge", created="2026-01-02T03:04:05.123456789Z",
                      enable_ipv6=True, internal=True, attachable=True, ingress=True, config_only=True,
                      config_from="base", ipam_options={"o": "1"},
                      ipam=[IPAMConfig(subnet="10.7.0.0/16", gateway="10.7.0.1", ip_range="10.7.1.0/24",
                                       aux_addresses={"router": "10.7.0.2"}), IPAMConfig(subnet="fd00::/64")],
                      options={"mtu": "1400"}, labels={"a": "b"},
                      endpoints={"c" * 64: Endpoint(name="c", endpoint_id="e" * 64, mac_address="02:42:0a:07:01:01",
                                                    ipv4_address="10.7.1.1/16", aliases=["x", "c" * 12])},
                      created_on_host=True, driver_facts={"bridge": "br-full"})
    assert network_from_record(json.loads(json.dumps(network_record(network)))) == network
    network.created_on_host, network.driver_facts = False, {}
    assert network_record(network)["moor"] == {"created_on_host": False, "endpoint_files": True}
    assert network_from_record(network_record(network)) == network


def test_a_record_of_an_older_moor_without_moors_keys_loads() -> None:
    member = {"Name": "c", "EndpointID": "e", "IPv4Address": "10.0.0.2/8"}
    network = network_from_record({"Name": "old", "Id": "o" * 64, "Driver": "bridge", "Containers": {"c" * 64: member},
                                   "IPAM": {"Config": [{"Subnet": "10.0.0.0/8", "IPRange": None}]}})
    assert network.endpoints["c" * 64].aliases == [] and not network.created_on_host
    assert network.ipam == [IPAMConfig(subnet="10.0.0.0/8")] and network.scope == "local"
    assert network.ipam_driver == "default" and network.created == ""


def test_the_store_saves_and_loads_networks(tmp_path: Path) -> None:
    store = NetworkStore(str(tmp_path))
    assert store.load() == {}
    network = Network(id="n" * 64, name="one", driver="bridge", created="2026-01-02T03:04:05Z")
    store.save({network.id: network})
    assert store.load() == {network.id: network}


def test_the_spec_drivers_see_comes_from_the_first_pool() -> None:
    network = Network(id="n", name="net", driver="bridge", created="", internal=True, options={"o": "v"},
                      ipam=[IPAMConfig(subnet="10.8.0.0/24", gateway="10.8.0.1", ip_range="10.8.0.128/25",
                                       aux_addresses={"a": "10.8.0.5"})])
    assert network.spec() == NetworkSpec(id="n", name="net", driver="bridge", subnet="10.8.0.0/24",
                                         gateway="10.8.0.1", internal=True, options={"o": "v"}, labels={},
                                         ip_range="10.8.0.128/25", aux_addresses=("10.8.0.5",))
    assert Network(id="n", name="bare", driver="none", created="").spec().subnet == ""


def test_the_create_request_is_decoded_from_dockers_body() -> None:
    body = {"Name": "app", "Driver": "bridge", "Internal": True, "Attachable": True, "EnableIPv6": True,
            "Options": {"mtu": "1400"}, "Labels": {"k": "v"}, "CheckDuplicate": True,
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.9.0.0/16", "IPRange": None, "Gateway": "",
                                                      "AuxiliaryAddresses": {"r": "10.9.0.2"}}, None]}}
    assert network_request(body) == NetworkRequest(
        name="app", driver="bridge", options={"mtu": "1400"}, labels={"k": "v"},
        ipam=(IPAMConfig(subnet="10.9.0.0/16", aux_addresses={"r": "10.9.0.2"}), IPAMConfig()),
        internal=True, attachable=True, enable_ipv6=True, ipam_driver="default")
    assert network_request({}) == NetworkRequest(name="")
    asked_more = network_request({"Name": "x", "Scope": "swarm", "ConfigFrom": {"Network": "base"}})
    assert (asked_more.scope, asked_more.config_from) == ("swarm", "base")
    assert prune_view([]) == {"NetworksDeleted": None} and prune_view(["a"]) == {"NetworksDeleted": ["a"]}


def test_ipam_options_are_shown_as_asked_null_when_none_were_sent() -> None:
    """Docker 20.10: IPAM.Options echoes the request: null without it (docker-py's create_network), {} when the
    docker CLI sends an empty map; kept so across a restart."""
    for body, shown in (({"Name": "a"}, None), ({"Name": "b", "IPAM": {"Config": []}}, None),
                        ({"Name": "c", "IPAM": {"Options": {}}}, {}),
                        ({"Name": "d", "IPAM": {"Options": {"k": "v"}}}, {"k": "v"})):
        request = network_request(body)
        network = Network(id="n" * 64, name=request.name, driver="bridge", created="",
                          ipam_options=request.ipam_options)
        assert network_view(network)["IPAM"]["Options"] == shown
        assert network_from_record(json.loads(json.dumps(network_record(network)))).ipam_options == shown
