"""EndpointSettings.DriverOpts kept as asked, before and after the start and through network connect, as
Docker 20.10 shows them (docker-py's test_create_with_driveropt and test_run_with_networking_config)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from e2e.containerhelpers import import_busybox
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def client() -> Iterator[docker.APIClient]:
    with DaemonProcess() as daemon:
        import_busybox(daemon)
        api = docker.APIClient(base_url=daemon.host, version="1.41")
        yield api
        api.close()


def endpoint(client: docker.APIClient, container: str, network: str) -> dict:
    return dict(client.inspect_container(container)["NetworkSettings"]["Networks"][network])


def test_driver_opts_are_kept_at_create_start_and_connect(client: docker.APIClient) -> None:
    client.create_network("optsnet")
    made = client.create_container(
        "busybox", "sleep 60", host_config=client.create_host_config(network_mode="optsnet"),
        networking_config=client.create_networking_config(
            {"optsnet": client.create_endpoint_config(aliases=["hello"], driver_opt={"key1": "a"})}))
    other = client.create_container("busybox", "sleep 60")
    try:
        assert endpoint(client, made, "optsnet")["DriverOpts"] == {"key1": "a"}  # before the start
        client.start(made)
        assert endpoint(client, made, "optsnet")["DriverOpts"] == {"key1": "a"}
        client.start(other)
        assert endpoint(client, other, "bridge")["DriverOpts"] is None  # none asked: null, as Docker
        client.connect_container_to_network(other, "optsnet", driver_opt={"com.docker-py.setting": "on"})
        assert endpoint(client, other, "optsnet")["DriverOpts"] == {"com.docker-py.setting": "on"}
    finally:
        for container in (made, other):
            client.remove_container(container, force=True)
        client.remove_network("optsnet")
