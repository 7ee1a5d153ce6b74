"""moor builds the recorded Dockerfiles as dockerd 20.10's classic builder did (tests/unit/build/data/
classic_builder.json): the same history texts, the same step images' configs, the same layers per step."""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from e2e.buildhelpers import api, build, error, image_id, text
from e2e.containerhelpers import REPO, moor_bytes, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

DATA = json.loads((Path(__file__).parents[1] / "unit" / "build" / "data" / "classic_builder.json").read_text())
CASES = {case["name"]: case for case in DATA["cases"]}
#: the images later cases build on, by tag (built first)
BASES = {"withcmd": "withcmd", "onbuild": "onbase", "hc_base": "hcbase"}
#: ADD of a local tar: its checksum is the tar's bytes (mtimes), which the test cannot make as Docker's were
_ARCHIVE_ADD = re.compile(r"^(/bin/sh -c #\(nop\) ADD |#\(nop\) ADD )file:[0-9a-f]{64}( in /x/ )$")


def context_files(case: dict[str, Any]) -> dict[str, str | bytes]:
    # Docker's base was busybox imported with no changes: so is plainbox (the module's busybox has a CMD)
    dockerfile = re.sub(r"\bbusybox\b", "plainbox", case["dockerfile"])
    files: dict[str, str | bytes] = {"Dockerfile": dockerfile, **case["files"]}
    for path in case["files"]:
        if "/" in path:
            files[path.rsplit("/", 1)[0] + "/"] = ""
    if case["name"] == "copy_add":
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for path in ("file.txt", "dir/a", "dir/b"):
                data = str(case["files"][path]).encode()
                info = tarfile.TarInfo(path)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        files["archive.tar"] = archive.getvalue()
    return files


def masked(created_by: str) -> str:
    return _ARCHIVE_ADD.sub(r"\1file:<archive>\2", created_by)


def comparable(config: dict[str, Any] | None, container: bool) -> dict[str, Any]:
    """A config without what names one run: the parent image's ID (differs: other base bytes), a container's
    hostname."""
    result = dict(config or {})
    result.pop("Image", None)
    if container:
        result.pop("Hostname", None)
        result["Cmd"] = [masked(word) for word in result.get("Cmd") or []]
    return result


def build_case(daemon: DaemonProcess, name: str) -> str:
    case = CASES[name]
    labels = dict(label.split("=", 1) for label in case["labels"])
    messages = build(daemon, context_files(case), tag=BASES.get(name, f"case-{name}"), nocache=True,
                     buildargs=case["build_args"], labels=labels or None)
    assert error(messages) is None, text(messages)
    return image_id(messages)


@pytest.fixture(scope="module")
def bases(moord: DaemonProcess) -> DaemonProcess:
    rootfs = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    result = moor_bytes(moord, "import", "-", "plainbox:latest", input=rootfs, timeout=60)
    assert result.returncode == 0, result.stderr
    for name in BASES:
        build_case(moord, name)
    return moord


@pytest.mark.parametrize("name", [name for name in CASES if name not in BASES])
def test_build_as_docker(bases: DaemonProcess, name: str) -> None:
    case = CASES[name]
    built = build_case(bases, name)
    client = api(bases)
    try:
        history = client.history(built)
        assert [masked(item["CreatedBy"]) for item in history] == \
            [masked(item["CreatedBy"]) for item in case["history"]]
        recorded = [json.loads(step["raw_config"]) for step in case["steps"]]
        mine = [client.inspect_image(built)]
        while len(mine) < len(recorded):  # the step images, by their Parent links
            mine.insert(0, client.inspect_image(mine[0]["Parent"]))
    finally:
        client.close()
    assert len(mine) == len(recorded)
    # as Docker's history: the step images' IDs (local parents), then the base's
    assert [item["Id"] for item in history[:len(mine)]] == [image["Id"] for image in reversed(mine)]
    base = [mine[0]["Parent"]] if mine[0]["Parent"] else []
    assert [item["Id"] for item in history[len(mine):len(mine) + 1]] == base
    first_layers = len(mine[0]["RootFS"].get("Layers") or []) - len(recorded[0]["rootfs"].get("diff_ids", []))
    for image, docker in zip(mine, recorded, strict=True):
        step = masked(docker["history"][-1]["created_by"])
        assert comparable(image["Config"], False) == comparable(docker["config"], False), step
        assert comparable(image["ContainerConfig"], True) == comparable(docker["container_config"], True), step
        assert image["Author"] == docker.get("author", ""), step
        # the same steps made layers (the base's own count may differ: compare what the steps added)
        assert len(image["RootFS"].get("Layers") or []) - first_layers == len(docker["rootfs"].get("diff_ids", [])), \
            step
