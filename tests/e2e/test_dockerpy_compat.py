"""A small, fast, representative subset of docker-py's own integration tests against a private moord.

docker-py's tests do not ship in its package: the test runs only when ``MOOR_DOCKERPY_CHECKOUT`` names a
checkout of docker-py (its ``tests/integration``) and ``MOOR_DOCKERPY_PYTHON`` (default: this interpreter)
has pytest-timeout, paramiko and websocket-client; it skips otherwise (CI cannot fetch it). The whole suite,
against moord and Docker side by side, is ``scripts/docker-py-compat``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moor.testing.dockerpy_compat import main, read_results

pytestmark = pytest.mark.root

CHECKOUT = os.environ.get("MOOR_DOCKERPY_CHECKOUT", "")
PYTHON = os.environ.get("MOOR_DOCKERPY_PYTHON", sys.executable)

#: one or two tests per area (containers, exec, archives, logs, images and the mirror, networks, volumes,
#: build, the models), each passing on Docker 20.10 and on moor
SUBSET = (
    "tests/integration/api_client_test.py::InformationTest::test_version",
    "tests/integration/api_container_test.py::StartContainerTest::test_start_container",
    "tests/integration/api_container_test.py::CreateContainerTest::test_create_with_restart_policy",
    "tests/integration/api_container_test.py::ArchiveTest::test_copy_file_to_container",
    "tests/integration/api_container_test.py::LogsTest::test_logs",
    "tests/integration/api_container_test.py::PortTest::test_port",
    "tests/integration/api_container_test.py::WaitTest::test_wait",
    "tests/integration/api_exec_test.py::ExecTest::test_exec_command_string",
    "tests/integration/api_image_test.py::PullImageTest::test_pull",
    "tests/integration/api_network_test.py::TestNetworks::test_inspect_network",
    "tests/integration/api_volume_test.py::TestVolumes::test_create_volume",
    "tests/integration/api_build_test.py::BuildTest::test_build_with_dockerignore",
    "tests/integration/models_containers_test.py::ContainerCollectionTest::test_run",
    "tests/integration/models_images_test.py::ImageCollectionTest::test_save_and_load",
)


def _usable() -> str:
    """Why the subset cannot run here ("" when it can)."""
    if not CHECKOUT or not os.path.isdir(os.path.join(CHECKOUT, "tests", "integration")):
        return "MOOR_DOCKERPY_CHECKOUT names no docker-py checkout"
    probe = subprocess.run([PYTHON, "-c", "import pytest_timeout, paramiko, websocket"], capture_output=True)
    if probe.returncode != 0:
        return f"{PYTHON} lacks pytest-timeout, paramiko or websocket-client"
    return ""


@pytest.mark.skipif(bool(_usable()), reason=_usable() or "usable")
def test_a_subset_of_docker_py_integration_tests_passes(tmp_path: Path) -> None:
    results = tmp_path / "results.txt"
    main([CHECKOUT, "--python", PYTHON, "-o", str(results), "--timeout", "120", "--", *SUBSET])
    outcomes = read_results(str(results)).outcomes
    assert {test: outcomes.get(test, "missing") for test in SUBSET} == dict.fromkeys(SUBSET, "passed")
