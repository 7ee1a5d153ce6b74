"""The local volume driver passes the volume conformance suite."""

from __future__ import annotations

import pytest

from moor.errors import DriverLoadError
from moor.testing.conformance import VolumeDriverConformance, load_driver


class TestLocalVolumes(VolumeDriverConformance):
    @pytest.fixture
    def driver(self, tmp_path):
        return load_driver("volume", "local", tmp_path)

    def test_volumes_survive_a_reload(self, driver, tmp_path) -> None:
        driver.create(name="kept", options={}, labels={"k": "v"})
        again = load_driver("volume", "local", tmp_path)
        assert again.get(name="kept").labels == {"k": "v"}


def test_unknown_driver_option(tmp_path) -> None:
    with pytest.raises(DriverLoadError, match="unknown option 'size'"):
        load_driver("volume", "local", tmp_path, {"size": "1g"})
