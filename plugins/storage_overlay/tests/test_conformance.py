"""The overlay driver passes the storage driver conformance suite."""

from __future__ import annotations

from moor.testing.conformance import StorageDriverConformance


class TestOverlayConformance(StorageDriverConformance):
    """``driver`` comes from conftest.py: ``load_driver("storage", "overlay", tmp_path)``."""
