"""The docker-py compatibility harness's bookkeeping: test ids, JUnit outcomes, the share of a baseline."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from moor.testing.dockerpy_compat import (
    SuiteResult,
    node_id,
    parse_args,
    parse_junit,
    read_results,
    rewrite_rootfs,
    summary,
)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="docker-py">
<testcase classname="tests.integration.api_container_test.CreateContainerTest" name="test_create" time="1"/>
<testcase classname="tests.integration.api_container_test.CreateContainerTest" name="test_kill" time="1">
<failure message="assert 0 == 137">trace</failure></testcase>
<testcase classname="tests.integration.api_network_test.TestNetworks" name="test_list" time="1">
<error message="setup">trace</error></testcase>
<testcase classname="tests.integration.api_image_test.PullImageTest" name="test_pull" time="0">
<skipped message="no">x</skipped></testcase>
<testcase classname="tests.integration.models_containers_test" name="test_run" time="1"/>
</testsuite></testsuites>
"""


def test_node_id_turns_junit_classnames_into_pytest_node_ids() -> None:
    assert node_id("tests.integration.api_container_test.CreateContainerTest", "test_create") == \
        "tests/integration/api_container_test.py::CreateContainerTest::test_create"
    assert node_id("tests.integration.models_containers_test", "test_run") == \
        "tests/integration/models_containers_test.py::test_run"


def test_parse_junit_reads_every_outcome(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    result = parse_junit(str(report))
    assert result.counts() == {"passed": 2, "failed": 1, "error": 1, "skipped": 1}
    assert result.ids("failed") == ["tests/integration/api_container_test.py::CreateContainerTest::test_kill"]


def test_results_round_trip_and_share_of_the_baseline(tmp_path: Path) -> None:
    baseline = SuiteResult({"a": "passed", "b": "passed", "c": "passed", "d": "failed"})
    mine = SuiteResult({"a": "passed", "b": "failed", "c": "passed", "d": "passed"})
    saved = tmp_path / "docker.txt"
    saved.write_text("\n".join(baseline.lines()) + "\n")
    assert read_results(str(saved)).outcomes == baseline.outcomes
    assert summary(mine, read_results(str(saved))) == \
        "passed 3, failed 1, error 0, skipped 0; 2 of the baseline's 3 passing tests pass (66.7 %)"


def test_arguments_after_a_double_dash_go_to_pytest() -> None:
    args = parse_args(["/src/docker-py", "--docker", "-o", "out.txt", "--", "-k", "test_kill", "-x"])
    assert (args.checkout, args.docker, args.output) == ("/src/docker-py", True, "out.txt")
    assert args.pytest_args == ["-k", "test_kill", "-x"]


def test_rewrite_rootfs_appends_to_files_and_adds_entries() -> None:
    source = io.BytesIO()
    with tarfile.open(fileobj=source, mode="w") as tar:
        passwd = tarfile.TarInfo("./etc/passwd")
        passwd.size = 5
        tar.addfile(passwd, io.BytesIO(b"root\n"))
    rewritten = rewrite_rootfs(source.getvalue(), {"etc/passwd": b"postgres\n"},
                               {"var/opt": (0o755, None), "hello": (0o755, b"hi\n")})
    with tarfile.open(fileobj=io.BytesIO(rewritten)) as tar:
        assert tar.extractfile("./etc/passwd").read() == b"root\npostgres\n"  # type: ignore[union-attr]
        assert tar.getmember("./var/opt").isdir()
        assert tar.extractfile("./hello").read() == b"hi\n"  # type: ignore[union-attr]
