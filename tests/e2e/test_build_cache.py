"""The build cache through a real moord: ``Using cache`` for the same inputs, content checksums (a touched file
still hits, a changed one re-runs its step and the later ones), the cache kept through ``rmi``, ``builder
prune``, ``--no-cache``, ``--cache-from``, ``RUN --mount=type=cache`` directories kept between builds, and the
Build Cache line of ``system df``."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from e2e.buildhelpers import api, error, image_id, text
from e2e.containerhelpers import import_busybox, moor, ok
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

DOCKERFILE = """\
FROM busybox
ENV A=b
COPY app.txt /app/
RUN cat /app/app.txt > /copied && cat /proc/sys/kernel/random/uuid > /stamp
RUN echo done > /done
CMD ["cat", "/copied"]
"""
STEPS = 6
USING_CACHE = " ---> Using cache\n"


@pytest.fixture(scope="module")
def moord() -> Iterator[DaemonProcess]:
    with DaemonProcess() as daemon:
        import_busybox(daemon)
        yield daemon
        moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split(), timeout=120)


def context(files: dict[str, str], mtime: int = 1_700_000_000) -> io.BytesIO:
    """A context tar whose files all have ``mtime`` (a touched file: another mtime, the same content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build(daemon: DaemonProcess, app: str = "one\n", mtime: int = 1_700_000_000, dockerfile: str = DOCKERFILE,
          **options: Any) -> tuple[str, str]:
    """Build the test's Dockerfile with ``app.txt`` holding ``app``: (image ID, the printed output)."""
    client = api(daemon)
    try:
        messages = list(client.build(fileobj=context({"Dockerfile": dockerfile, "app.txt": app}, mtime),
                                     custom_context=True, decode=True, **options))
    finally:
        client.close()
    assert error(messages) is None, text(messages) + str(error(messages))
    return image_id(messages), text(messages)


def stamp(daemon: DaemonProcess, image: str) -> str:
    return ok(moor(daemon, "run", "--rm", image, "cat", "/stamp")).strip()


def prune_all(daemon: DaemonProcess) -> dict[str, Any]:
    client = api(daemon)
    try:
        return dict(client.prune_builds(all=True))
    finally:
        client.close()


def test_a_rebuild_uses_the_cache_for_every_step_and_checksums_decide(moord: DaemonProcess) -> None:
    first, output = build(moord, tag="cached:v1")
    assert USING_CACHE not in output
    second, output = build(moord, tag="cached:v1")
    assert second == first and output.count(USING_CACHE) == STEPS - 1, output
    touched, output = build(moord, mtime=1_800_000_000)  # the same content, another mtime: still cached
    assert touched == first and output.count(USING_CACHE) == STEPS - 1, output
    changed, output = build(moord, app="two\n")  # the COPY and every later step run again
    assert changed != first and output.count(USING_CACHE) == 1, output
    assert ok(moor(moord, "run", "--rm", changed)) == "two\n"
    assert stamp(moord, changed) != stamp(moord, first)


def test_the_cache_survives_rmi_of_the_final_image(moord: DaemonProcess) -> None:
    built, _ = build(moord, app="rmi\n", tag="cached:rmi")
    before = stamp(moord, built)
    ok(moor(moord, "rmi", "cached:rmi"))
    assert moor(moord, "image", "inspect", built).returncode != 0
    again, output = build(moord, app="rmi\n")
    assert again == built and output.count(USING_CACHE) == STEPS - 1, output
    assert stamp(moord, again) == before  # the same layers, not a new RUN


def test_builder_prune_all_and_no_cache_make_steps_run_again(moord: DaemonProcess) -> None:
    built, _ = build(moord, app="prune\n", tag="cached:prune")
    report = prune_all(moord)
    assert report["CachesDeleted"] and report["SpaceReclaimed"] >= 0
    again, output = build(moord, app="prune\n", tag="cached:prune")
    assert USING_CACHE not in output and stamp(moord, again) != stamp(moord, built)
    fresh, output = build(moord, app="prune\n", nocache=True)
    assert USING_CACHE not in output and stamp(moord, fresh) != stamp(moord, again)


def test_cache_from_an_image_stands_in_for_the_cache(moord: DaemonProcess) -> None:
    source, _ = build(moord, app="from\n", tag="cached:source")
    prune_all(moord)  # the local cache forgets every step: only the image's history can help
    again, output = build(moord, app="from\n", cache_from=["cached:source"])
    assert again == source and output.count(USING_CACHE) == STEPS - 1, output
    later, output = build(moord, app="from\n")  # what --cache-from gave is now in the local cache
    assert later == source and output.count(USING_CACHE) == STEPS - 1, output
    other, output = build(moord, app="other\n", cache_from=["cached:source"])
    assert other != source and output.count(USING_CACHE) == 1, output  # ENV only: the COPY differs


def test_cache_from_limits_the_local_cache_to_its_sources(moord: DaemonProcess) -> None:
    """Docker 20.10 (docker-py's test_build_with_cache_from): with --cache-from, the local cache serves only
    steps under a source; naming only images that do not exist leaves no cache at all."""
    built, _ = build(moord, app="limits\n", tag="cached:limits")
    again, output = build(moord, app="limits\n", cache_from=["cached:limits"])
    assert again == built and output.count(USING_CACHE) == STEPS - 1, output
    fresh, output = build(moord, app="limits\n", cache_from=["no-such:image"])
    assert USING_CACHE not in output, output
    assert fresh != built


def test_cache_mount_directories_persist_between_builds(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox\n"
                  "RUN --mount=type=cache,target=/cache echo x >> /cache/log && wc -l < /cache/log > /count\n")
    counts = []
    for _ in range(2):
        built, _ = build(moord, dockerfile=dockerfile, nocache=True)
        counts.append(ok(moor(moord, "run", "--rm", built, "cat", "/count")).strip())
    assert counts == ["1", "2"]
    rows = [row for row in api(moord).df()["BuildCache"] if row["Type"] == "exec.cachemount"]
    assert len(rows) == 1 and rows[0]["Description"] == "cached mount /cache" and rows[0]["Size"] > 0
    report = api(moord).prune_builds(filters={"type": ["exec.cachemount"]})
    assert report["CachesDeleted"] == [rows[0]["ID"]]
    built, _ = build(moord, dockerfile=dockerfile, nocache=True)
    assert ok(moor(moord, "run", "--rm", built, "cat", "/count")).strip() == "1"


def test_system_df_shows_the_build_cache(moord: DaemonProcess) -> None:
    build(moord, app="df\n", tag="cached:df")
    ok(moor(moord, "rmi", "cached:df"))  # what only the cache keeps now counts
    usage = api(moord).df()
    rows = usage["BuildCache"]
    assert rows and all(set(row) >= {"ID", "Parent", "Type", "Description", "InUse", "Shared", "Size", "CreatedAt",
                                     "LastUsedAt", "UsageCount"} for row in rows)
    unshared = sum(row["Size"] for row in rows if not row["Shared"])
    assert unshared > 0 and usage["BuilderSize"] == unshared
    lines = ok(moor(moord, "system", "df")).splitlines()
    cache_line = next(line for line in lines if line.startswith("Build Cache"))
    assert cache_line.split()[2] == str(len(rows)), lines
    verbose = ok(moor(moord, "system", "df", "-v"))
    assert "Build cache usage:" in verbose and "CACHE ID" in verbose


def test_docker_classic_build_prints_using_cache(moord: DaemonProcess, tmp_path: Any) -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    for name, content in (("Dockerfile", DOCKERFILE.replace("A=b", "A=docker")), ("app.txt", "docker\n")):
        (tmp_path / name).write_text(content)
    env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CONFIG=str(tmp_path / "config"))
    outputs = []
    for _ in range(2):
        result = subprocess.run(["docker", "-H", moord.host, "build", "-t", "cached:docker", str(tmp_path)],
                                capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert USING_CACHE not in outputs[0] and outputs[1].count(USING_CACHE) == STEPS - 1, outputs[1]
    result = subprocess.run(["docker", "-H", moord.host, "system", "df", "--format", "{{json .}}"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    kinds = [json.loads(line)["Type"] for line in result.stdout.splitlines()]
    assert "Build Cache" in kinds


def test_docker_py_sees_the_cache(moord: DaemonProcess) -> None:
    """docker-py's high-level client sees the cache as Docker's: images.build and prune_builds."""
    client = docker.DockerClient(base_url=moord.host, version="1.41", timeout=300)
    try:
        first, _ = client.images.build(fileobj=context({"Dockerfile": DOCKERFILE, "app.txt": "py\n"}),
                                       custom_context=True, tag="cached:py")
        second, logs = client.images.build(fileobj=context({"Dockerfile": DOCKERFILE, "app.txt": "py\n"}),
                                      custom_context=True, tag="cached:py")
        assert sum(1 for entry in logs if entry.get("stream") == USING_CACHE) == STEPS - 1
        assert second.id == first.id
        assert client.api.prune_builds(all=True)["CachesDeleted"]
    finally:
        client.close()


def test_a_running_build_shows_what_it_uses_in_system_df(moord: DaemonProcess) -> None:
    """While a build waits in a RUN step, the cache records it used and its cache mount are in use (ACTIVE);
    after it, none is. The RUN waits for a file the test puts in its cache mount (no timing)."""
    gate = os.path.join(moord.data_root, "build", "cache-mounts", hashlib.sha256(b"gate").hexdigest()[:25])
    dockerfile = DOCKERFILE.replace('CMD ["cat", "/copied"]\n', "RUN --mount=type=cache,id=gate,target=/gate "
                                    "sh -c 'until [ -e /gate/go ]; do sleep 0.1; done'\n")
    build(moord, app="gate\n", dockerfile=DOCKERFILE)  # the steps before the RUN are cached
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(built=build(moord, app="gate\n", dockerfile=dockerfile)))
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = api(moord).df()["BuildCache"]
            if any(r["InUse"] and r["Type"] == "exec.cachemount" for r in rows):
                break
            time.sleep(0.1)
        in_use = {r["Type"] for r in rows if r["InUse"]}
        assert in_use == {"regular", "exec.cachemount"}, rows
        line = next(x for x in ok(moor(moord, "system", "df")).splitlines() if x.startswith("Build Cache"))
        assert int(line.split()[3]) >= 4  # ACTIVE: ENV, COPY, RUN and the cache mount
    finally:
        os.makedirs(gate, exist_ok=True)
        with open(os.path.join(gate, "go"), "w"):
            pass
        thread.join(300)
    assert "built" in result and not any(r["InUse"] for r in api(moord).df()["BuildCache"])


def test_the_cache_outlives_a_killed_moord_and_a_half_written_record(moord: DaemonProcess) -> None:
    """Last in the module: it kills and restarts the module's moord."""
    built, _ = build(moord, app="crash\n", tag="cached:crash")
    before = stamp(moord, built)
    ok(moor(moord, "rmi", "cached:crash"))  # only the cache keeps the layers now
    moord.kill()
    records = os.path.join(moord.data_root, "build", "cache")
    half = os.path.join(records, "f" * 64 + ".json")
    with open(half, "w") as handle:
        handle.write('{"id": "' + "f" * 64 + '", "config": "{\\"archi')  # cut by the crash
    with open(os.path.join(records, ".tmp-crashed"), "w") as handle:
        handle.write("{")
    moord.start()
    assert not os.path.exists(half) and not os.path.exists(os.path.join(records, ".tmp-crashed"))
    again, output = build(moord, app="crash\n")  # the start's garbage collection kept the cached layers
    assert again == built and output.count(USING_CACHE) == STEPS - 1, output
    assert stamp(moord, again) == before
