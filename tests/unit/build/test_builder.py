"""The build service without root: an engine over the shared fakes builds config steps, COPY, multi-stage
Dockerfiles; its messages, images, cache, errors, cancellation and clean-up (RUN is in the e2e tests)."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor import config as config_module
from moor.build.options import BuildOptions
from moor.daemon.engine import Engine
from moor.errors import InvalidParameter, MoorError
from moor.images.store import ImageRecord
from moor.services.build.builder import BuildService
from moor.testing.fakes import FakeProcesses, add_image, fake_drivers, layer_tar


def context(files: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


class Builder:
    """An engine over fakes with a busybox-like image; ``build`` returns the image ID and the messages."""

    def __init__(self, root: Path) -> None:
        config = config_module.parse({"data_root": str(root / "data"), "exec_root": str(root / "exec")})
        self.processes = FakeProcesses()
        self.engine = Engine(config, fake_drivers(root / "drivers"), self.processes)
        self.service: BuildService = self.engine.builds
        self.store = self.engine.images.store
        self.base = add_image(self.store, "busybox", files={"bin/sh": "#!fake\n", "etc/passwd": "root:x:0:0::/:\n"},
                              config={"Cmd": ["sh"], "Env": ["PATH=/bin"]})
        self.tmp = os.path.join(str(root / "data"), "build", "tmp")

    def build(self, files: dict[str, str], **options: Any) -> tuple[str, list[dict[str, Any]]]:
        messages: list[dict[str, Any]] = []
        image_id = self.service.build(BuildOptions(**options), context(files), messages.append)
        return image_id, messages

    def image(self, ident: str) -> ImageRecord:
        image = self.store.get(ident)
        assert image is not None
        return image

    def files_of(self, image: ImageRecord) -> dict[str, str]:
        """The regular files of the image's top layer."""
        records = self.store.layer_chain(image)
        with self.store.open_layer_tar(records[-1]) as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
            result = {}
            for member in archive:
                if member.isreg():
                    handle = archive.extractfile(member)
                    assert handle is not None
                    result[member.name.lstrip("./")] = handle.read().decode()
            return result


@pytest.fixture
def builder(tmp_path: Path) -> Iterator[Builder]:
    made = Builder(tmp_path)
    yield made
    made.processes.end_all()
    made.engine.close()


def text(messages: list[dict[str, Any]]) -> str:
    return re.sub(r"\b[0-9a-f]{12}\b", "<id>", "".join(str(m.get("stream", "")) for m in messages))


def test_config_steps_print_docker_messages_and_chain_their_images(builder: Builder) -> None:
    dockerfile = "FROM busybox\nENV A=b\nLABEL x=y\nCMD [\"run\"]\n"
    image_id, messages = builder.build({"Dockerfile": dockerfile}, tags=["made:v1", "other"])
    assert text(messages) == (
        "Step 1/4 : FROM busybox\n ---> <id>\n"
        "Step 2/4 : ENV A=b\n ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
        "Step 3/4 : LABEL x=y\n ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
        "Step 4/4 : CMD [\"run\"]\n ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
        "Successfully built <id>\nSuccessfully tagged made:v1\nSuccessfully tagged other:latest\n")
    assert {"aux": {"ID": image_id}} in messages
    image = builder.image(image_id)
    config = image.config["config"]
    assert (config["Env"], config["Labels"], config["Cmd"]) == (["PATH=/bin", "A=b"], {"x": "y"}, ["run"])
    assert image.diff_ids == builder.base.diff_ids  # config steps add no layer
    assert [h.get("created_by") for h in image.config["history"][-3:]] == [
        "/bin/sh -c #(nop)  ENV A=b", "/bin/sh -c #(nop)  LABEL x=y", '/bin/sh -c #(nop)  CMD ["run"]']
    assert all(h.get("empty_layer") for h in image.config["history"][-3:])
    chain = [image]
    while chain[-1].parent:
        chain.append(builder.image(chain[-1].parent))
    assert [i.id for i in chain][-1] == builder.base.id and len(chain) == 4
    refs = builder.store.refs()
    assert refs["docker.io/library/made:v1"] == refs["docker.io/library/other:latest"] == image_id
    assert os.listdir(builder.tmp) == []


def test_scratch_copy_and_workdir_make_layers(builder: Builder) -> None:
    dockerfile = "FROM scratch\nCOPY hello.txt /greetings/\nWORKDIR /app/sub\n"
    image_id, messages = builder.build({"Dockerfile": dockerfile, "hello.txt": "hi\n"})
    assert text(messages).startswith("Step 1/3 : FROM scratch\n ---> \nStep 2/3 : COPY hello.txt /greetings/\n"
                                     " ---> <id>\nStep 3/3 : WORKDIR /app/sub\n ---> Running in <id>\n")
    image = builder.image(image_id)
    assert len(image.diff_ids) == 2
    assert image.config["config"]["WorkingDir"] == "/app/sub"
    assert image.config["config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    copied = builder.image(image.parent)
    assert builder.files_of(copied) == {"greetings/hello.txt": "hi\n"}
    with builder.store.open_layer_tar(builder.store.layer_chain(image)[-1]) as stream:
        names = [m.name.rstrip("/") for m in tarfile.open(fileobj=stream, mode="r|")]
    assert names == ["app", "app/sub"]


def test_a_workdir_that_exists_makes_no_layer(builder: Builder) -> None:
    image_id, _ = builder.build({"Dockerfile": "FROM busybox\nWORKDIR /bin\n"})
    assert builder.image(image_id).diff_ids == builder.base.diff_ids


def test_the_second_build_hits_the_cache_and_no_cache_skips_it(builder: Builder) -> None:
    files = {"Dockerfile": "FROM busybox\nCOPY a /a\nENV X=1\n", "a": "content\n"}
    first, _ = builder.build(files)
    second, messages = builder.build(files)
    assert second == first
    assert text(messages).count(" ---> Using cache\n") == 2
    _, messages = builder.build(files, no_cache=True)
    assert "Using cache" not in text(messages)
    changed, messages = builder.build({**files, "a": "other\n"})
    assert changed != first
    assert text(messages).count(" ---> Using cache\n") == 0


def test_multi_stage_copy_from_and_target(builder: Builder) -> None:
    dockerfile = ("ARG BASE=busybox\nFROM $BASE AS one\nCOPY a /a\nFROM scratch AS skipped\nCOPY b /b\n"
                  "FROM busybox\nCOPY --from=one /a /from-one\n")
    image_id, messages = builder.build({"Dockerfile": dockerfile, "a": "A\n", "b": "B\n"}, build_args={"NOPE": "x"})
    output = text(messages)
    assert output.startswith("Step 1/5 : ARG BASE=busybox\nStep 2/5 : FROM $BASE AS one\n ---> <id>\n")
    assert "COPY b /b" not in output  # the stage nobody needs
    assert "Step 4/5 : FROM busybox\n" in output  # numbered over the stages built
    assert output.endswith("[Warning] One or more build-args [NOPE] were not consumed\nSuccessfully built <id>\n")
    assert sum(1 for m in messages if "aux" in m) == 2  # one per stage, as Docker
    assert builder.files_of(builder.image(image_id)) == {"from-one": "A\n"}
    target_id, messages = builder.build({"Dockerfile": dockerfile, "a": "A\n", "b": "B\n"}, target="skipped")
    assert builder.files_of(builder.image(target_id)) == {"b": "B\n"}


def test_bad_input_fails_with_docker_words_and_leaves_nothing(builder: Builder) -> None:
    with pytest.raises(InvalidParameter, match="failed to reach build target nope in Dockerfile"):
        builder.build({"Dockerfile": "FROM busybox\n"}, target="nope")
    with pytest.raises(InvalidParameter, match="unknown instruction: FOO"):
        builder.build({"Dockerfile": "FROM busybox\nFOO bar\n"})
    with pytest.raises(InvalidParameter, match="Cannot locate specified Dockerfile: Other"):
        builder.build({"Dockerfile": "FROM busybox\n"}, dockerfile="Other")
    with pytest.raises(MoorError, match="file not found in build context"):
        builder.build({"Dockerfile": "FROM busybox\nCOPY missing /x\n"})
    assert os.listdir(builder.tmp) == []
    assert builder.engine.containers.list_containers(all_containers=True) == []


def test_the_layer_limit(builder: Builder) -> None:
    parent = None
    diff_ids = []
    for index in range(127):
        layer = builder.store.add_layer(parent, io.BytesIO(layer_tar({f"f{index}": str(index)})))
        parent, diff_ids = layer.chain_id, [*diff_ids, layer.diff_id]
    document = {"architecture": "amd64", "os": "linux", "config": {},
                "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    deep = builder.store.add_image(json.dumps(document).encode())
    builder.store.set_ref("docker.io/library/deep:latest", deep.id)
    with pytest.raises(InvalidParameter, match="^max depth exceeded$"):
        builder.build({"Dockerfile": "FROM deep\nCOPY a /a\n", "a": "x"})
    image_id, _ = builder.build({"Dockerfile": "FROM deep\nENV STILL=fine\n"})  # no layer: allowed
    assert len(builder.image(image_id).diff_ids) == 127


def test_a_client_that_leaves_stops_the_build(builder: Builder) -> None:
    class Gone(Exception):
        pass

    seen: list[dict[str, Any]] = []

    def emit(message: dict[str, Any]) -> None:
        seen.append(message)
        if len(seen) == 3:
            raise Gone()

    with pytest.raises(Gone):
        builder.service.build(BuildOptions(tags=["never"]), context({"Dockerfile": "FROM busybox\nENV A=1\nENV B=2\n"}),
                              emit)
    assert "docker.io/library/never:latest" not in builder.store.refs()
    assert os.listdir(builder.tmp) == []


def test_label_options_are_steps_after_the_target_stage(builder: Builder) -> None:
    image_id, messages = builder.build({"Dockerfile": "FROM busybox\nLABEL own=1\n"}, labels={"b": "2", "a": "1 x"})
    output = text(messages)
    assert "Step 2/4 : LABEL own=1\n" in output and "Step 3/4 : LABEL a=1 x\n" in output
    assert "Step 4/4 : LABEL b=2\n" in output
    assert builder.image(image_id).config["config"]["Labels"] == {"own": "1", "a": "1 x", "b": "2"}


def test_what_an_unfinished_build_left_goes_when_the_engine_starts(tmp_path: Path) -> None:
    first = Builder(tmp_path)
    leftover = os.path.join(first.tmp, "context-left")
    os.makedirs(os.path.join(leftover, "sub"))
    trash = os.path.join(os.path.dirname(first.tmp), "trash")  # a context whose removal a stop interrupted
    os.makedirs(os.path.join(trash, "context-old", "ro"))
    os.chmod(os.path.join(trash, "context-old", "ro"), 0o555)
    first.processes.end_all()
    first.engine.close()
    second = Builder(tmp_path)
    try:
        assert os.listdir(second.tmp) == []
        assert not os.path.exists(trash)
    finally:
        second.processes.end_all()
        second.engine.close()


def test_dockerfile_warnings_come_before_step_one(builder: Builder) -> None:
    dockerfile = "# syntax=docker/dockerfile:1\nFROM busybox\nENV A=a \\\n\n  B=b\n"
    _, messages = builder.build({"Dockerfile": dockerfile})
    streams = [str(m.get("stream", "")) for m in messages]
    first_step = streams.index("Step 1/2 : FROM busybox")
    assert streams[first_step - 1] == ("\x1b[91m[WARNING]: Empty continuation line found in:\n    ENV A=a   B=b\n"
                                       "[WARNING]: Empty continuation lines will become errors in a future "
                                       "release.\n\x1b[0m")
    assert "syntax" in streams[0]


def test_an_ssh_mount_is_refused_by_its_type(builder: Builder) -> None:
    with pytest.raises(InvalidParameter, match="unsupported mount type 'ssh'"):
        builder.build({"Dockerfile": "FROM busybox\nRUN --mount=type=ssh true\n"})
    assert os.listdir(builder.tmp) == []


def test_from_an_image_id_needs_no_pull(builder: Builder) -> None:
    image_id, messages = builder.build({"Dockerfile": f"FROM {builder.base.id}\nENV BY=id\n"}, pull=True)
    assert builder.image(image_id).parent == builder.base.id
    _, messages = builder.build({"Dockerfile": f"FROM {builder.base.id[7:19]}\nENV BY=short\n"}, pull=True)
    assert f" ---> {builder.base.id[7:19]}\n" in "".join(str(m.get("stream", "")) for m in messages)


def test_run_on_an_empty_scratch_stage_says_there_is_no_program(builder: Builder) -> None:
    with pytest.raises(InvalidParameter, match='exec: "/bin/sh": stat /bin/sh: no such file or directory'):
        builder.build({"Dockerfile": "FROM scratch\nRUN true\n"})
    assert builder.engine.containers.list_containers(all_containers=True) == []
