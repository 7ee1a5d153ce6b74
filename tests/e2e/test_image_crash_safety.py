"""Killing moord in the middle of a load never leaves a half-visible image; restart cleans up."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from moor.testing.archives import make_docker_archive
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_kill_during_load_then_restart(tmp_path) -> None:
    archive = tmp_path / "big.tar"
    image_id = make_docker_archive(str(archive), [20_000_000] * 6, tag="big:one")
    daemon = DaemonProcess(str(tmp_path / "d"))
    daemon.start()
    try:
        loader = subprocess.Popen([sys.executable, "-m", "moor.cli", "-H", daemon.host, "load", "-i", str(archive)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        layers_dir = os.path.join(daemon.data_root, "image", "layers")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(os.listdir(layers_dir)) < 2 and loader.poll() is None:
            time.sleep(0.01)
        daemon.kill()
        loader.wait(60)
        assert loader.returncode != 0, "the load finished before the kill: make the archive bigger"
        daemon.start()
        client = daemon.client()
        assert client.get("/images/json") == []
        assert os.listdir(os.path.join(daemon.data_root, "image", "tmp")) == []
        assert os.listdir(layers_dir) == []
        assert os.listdir(os.path.join(daemon.data_root, "image", "images")) == []
        storage = os.path.join(daemon.data_root, "storage", "overlay")
        leftovers = [n for n in os.listdir(storage) if n not in ("l", ".empty")]
        assert leftovers == [], leftovers
        # and the same archive now loads whole
        result = subprocess.run([sys.executable, "-m", "moor.cli", "-H", daemon.host, "load", "-i", str(archive)],
                                capture_output=True, text=True, timeout=300)
        assert result.stdout == "Loaded image: big:one\n", result.stderr
        assert client.get("/images/big:one/json")["Id"] == image_id
    finally:
        daemon.cleanup()
