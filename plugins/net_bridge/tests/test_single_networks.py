"""host and none: one network each, not removable, connecting needs no setup."""

from __future__ import annotations

import pytest

from moor.errors import Forbidden
from moor.testing.conformance import load_driver
from moor.types import EndpointInfo, EndpointSpec, NetworkSpec


@pytest.mark.parametrize(("name", "kind"), [("host", "host"), ("none", "null")])
def test_single_instance(tmp_path, name: str, kind: str) -> None:
    driver = load_driver("network", name, tmp_path)
    network = NetworkSpec(id="n1", name=name, driver=name)
    assert driver.create(network=network) == {}
    with pytest.raises(Forbidden, match=f'only one instance of "{kind}" network is allowed'):
        driver.create(network=NetworkSpec(id="n2", name="other", driver=name))
    with pytest.raises(Forbidden, match="pre-defined network and cannot be removed"):
        driver.remove(network=network)
    endpoint = EndpointSpec(id="e1", container_id="c1")
    assert driver.connect(network=network, endpoint=endpoint, netns_path="/proc/self/ns/net") == EndpointInfo()
    assert driver.disconnect(network=network, endpoint=endpoint, netns_path=None) is True
