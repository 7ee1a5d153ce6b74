"""Builds through a real moord: FROM, RUN, config steps, the classic messages, tags, failures and clean-up."""

from __future__ import annotations

import json
import os
import re

import pytest

from e2e.buildhelpers import build, error, image_id, text
from e2e.containerhelpers import first_json, moor, moord, mounts_under  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

# the sleep orders "hi" (stdout) before "err" (stderr): two pipes read apart give no order of their own
BASICS = """\
FROM busybox
ENV A=b
WORKDIR /app
RUN echo hi && sleep 0.2 && echo err >&2
RUN true
CMD ["sh"]
LABEL x=y
"""


def ids_hidden(output: str) -> str:
    return re.sub(r"\b[0-9a-f]{12}\b", "<id>", output)


def test_a_build_prints_docker_classic_messages_and_makes_its_images(moord: DaemonProcess) -> None:
    messages = build(moord, {"Dockerfile": BASICS}, tag="basics:v1", nocache=True)
    assert error(messages) is None, text(messages)
    assert messages[0] == {"stream": "Step 1/7 : FROM busybox"} and messages[1] == {"stream": "\n"}
    assert {"stream": "hi\n"} in messages
    assert {"stream": "\x1b[91merr\n\x1b[0m"} in messages  # stderr in Docker's colours
    assert ids_hidden(text(messages)) == (
        "Step 1/7 : FROM busybox\n ---> <id>\n"
        "Step 2/7 : ENV A=b\n ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
        "Step 3/7 : WORKDIR /app\n ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
        "Step 4/7 : RUN echo hi && sleep 0.2 && echo err >&2\n ---> Running in <id>\nhi\n\x1b[91merr\n\x1b[0m"
        "Removing intermediate container <id>\n ---> <id>\n"
        "Step 5/7 : RUN true\n ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
        "Step 6/7 : CMD [\"sh\"]\n ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
        "Step 7/7 : LABEL x=y\n ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
        "Successfully built <id>\nSuccessfully tagged basics:v1\n")
    built = image_id(messages)
    image = first_json(moord, "image", "inspect", "basics:v1")
    base = first_json(moord, "image", "inspect", "busybox")
    assert image["Id"] == built
    assert image["Config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=b"]
    assert (image["Config"]["WorkingDir"], image["Config"]["Cmd"], image["Config"]["Labels"]) == \
        ("/app", ["sh"], {"x": "y"})
    assert image["ContainerConfig"]["Cmd"] == ["/bin/sh", "-c", "#(nop) ", "LABEL x=y"]
    # WORKDIR made /app: one layer; the RUNs changed nothing: none
    assert image["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    assert len(image["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    history = moor(moord, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "basics:v1").stdout.splitlines()
    assert history[:6] == ["/bin/sh -c #(nop)  LABEL x=y", '/bin/sh -c #(nop)  CMD ["sh"]', "/bin/sh -c true",
                           "/bin/sh -c echo hi && sleep 0.2 && echo err >&2", "/bin/sh -c #(nop) WORKDIR /app",
                           "/bin/sh -c #(nop)  ENV A=b"]
    # intermediate images: a Parent chain down to the base
    parents = 0
    current = image
    while current["Parent"]:
        current = first_json(moord, "image", "inspect", current["Parent"])
        parents += 1
    assert current["Id"] == base["Id"] and parents == 6
    # no build container is left
    assert moor(moord, "ps", "-aq").stdout.strip() == ""
    run = moor(moord, "run", "--rm", "basics:v1", "sh", "-c", "pwd; echo $A")
    assert run.stdout.splitlines() == ["/app", "b"]


def test_run_changes_become_a_layer_and_build_args_show_in_history(moord: DaemonProcess) -> None:
    dockerfile = "FROM busybox\nARG WHO=world\nRUN echo hello $WHO > /greeting\n"
    messages = build(moord, {"Dockerfile": dockerfile}, tag="layered", buildargs={"WHO": "moor"})
    assert error(messages) is None, text(messages)
    run = moor(moord, "run", "--rm", "layered", "cat", "/greeting")
    assert run.stdout == "hello moor\n"
    history = moor(moord, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "layered").stdout.splitlines()
    assert history[0] == "|1 WHO=moor /bin/sh -c echo hello $WHO > /greeting"
    assert history[1] == "/bin/sh -c #(nop)  ARG WHO=world"


def test_a_failing_run_reports_docker_error_and_leaves_nothing(moord: DaemonProcess) -> None:
    before_images = moor(moord, "images", "-aq").stdout.split()
    messages = build(moord, {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
    assert error(messages) == "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    assert messages[-1]["errorDetail"] == {"code": 3, "message": error(messages)}  # the docker CLI exits with it
    assert ids_hidden(text(messages)) == "Step 1/2 : FROM busybox\n ---> <id>\nStep 2/2 : RUN exit 3\n" \
                                         " ---> Running in <id>\n"
    assert moor(moord, "ps", "-aq").stdout.strip() == ""
    assert sorted(moor(moord, "images", "-aq").stdout.split()) == sorted(before_images)
    build_tmp = os.path.join(moord.data_root, "build", "tmp")
    assert not os.path.isdir(build_tmp) or os.listdir(build_tmp) == []
    assert mounts_under(moord.root) == []
    # a failure in a later stage while a COPY --from mounted an earlier one: nothing stays mounted either
    staged = build(moord, {"Dockerfile": "FROM busybox AS a\nFROM busybox\nCOPY --from=a /nope /x\n"})
    assert "file not found" in str(error(staged))
    assert mounts_under(moord.root) == []


def test_several_tags_and_the_aux_id(moord: DaemonProcess) -> None:
    messages = build(moord, {"Dockerfile": "FROM busybox\nLABEL tags=two\n"}, tag="one:a")
    built = image_id(messages)
    assert built.startswith("sha256:")
    assert f"Successfully built {built[7:19]}\n" in text(messages)
    assert json.loads(moor(moord, "image", "inspect", "--format", "{{json .RepoTags}}", built).stdout) == ["one:a"]


def test_a_second_build_uses_the_cache(moord: DaemonProcess) -> None:
    files = {"Dockerfile": "FROM busybox\nRUN echo once > /once\nENV CACHED=1\n"}
    first = build(moord, files, tag="cached")
    second = build(moord, files, tag="cached")
    assert error(second) is None, text(second)
    assert text(second).count(" ---> Using cache\n") == 2
    assert " ---> Running in" not in text(second)
    assert image_id(first) == image_id(second)
    third = build(moord, files, tag="cached", nocache=True)
    assert " ---> Using cache" not in text(third)
