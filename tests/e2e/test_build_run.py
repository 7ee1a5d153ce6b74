"""RUN through a real moord: exec and shell forms, SHELL, --mount (cache, bind, tmpfs, secret), --network,
--add-host, the build's network mode, ONBUILD triggers, and a RUN on a client that leaves."""

from __future__ import annotations

import re

import pytest

from e2e.buildhelpers import build, error, image_id, post_build, text
from e2e.containerhelpers import moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def run(daemon: DaemonProcess, image: str, script: str) -> str:
    result = moor(daemon, "run", "--rm", image, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout


def history(daemon: DaemonProcess, name: str) -> list[str]:
    return moor(daemon, "history", "--no-trunc", "--format", "{{.CreatedBy}}", name).stdout.splitlines()


def test_exec_form_and_shell(moord: DaemonProcess) -> None:
    dockerfile = ('FROM busybox\nRUN ["sh", "-c", "echo exec > /exec"]\nSHELL ["/bin/sh", "-e", "-c"]\n'
                  "RUN echo shelled > /shelled\n")
    messages = build(moord, {"Dockerfile": dockerfile}, tag="forms")
    assert error(messages) is None, text(messages)
    assert run(moord, "forms", "cat /exec /shelled") == "exec\nshelled\n"
    lines = history(moord, "forms")
    assert lines[0] == "/bin/sh -e -c echo shelled > /shelled"
    assert lines[2] == "sh -c echo exec > /exec"
    failed = build(moord, {"Dockerfile": 'FROM busybox\nRUN ["false"]\n'})
    assert error(failed) == "The command 'false' returned a non-zero code: 1"
    missing = build(moord, {"Dockerfile": 'FROM busybox\nRUN ["/no/such/tool"]\n'})
    assert "no such file or directory" in str(error(missing)) and "\n" not in str(error(missing))
    assert moor(moord, "ps", "-aq").stdout.strip() == ""


def test_cache_mounts_persist_between_builds_and_stay_out_of_the_image(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox\nRUN --mount=type=cache,target=/cache "
                  "echo x >> /cache/count && wc -l < /cache/count > /seen\n")
    first = build(moord, {"Dockerfile": dockerfile}, tag="cached-mount", nocache=True)
    assert error(first) is None, text(first)
    second = build(moord, {"Dockerfile": dockerfile}, tag="cached-mount", nocache=True)
    assert error(second) is None, text(second)
    assert run(moord, "cached-mount", "cat /seen; ls /cache 2>&1 || true").split() == ["2", "ls:", "/cache:", "No",
                                                                                     "such", "file", "or",
                                                                                     "directory"]


def test_bind_mounts_from_the_context_and_a_stage(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox AS tools\nRUN echo tool > /tool\n"
                  "FROM busybox\n"
                  "RUN --mount=type=bind,target=/ctx cat /ctx/input.txt > /from-context\n"
                  "RUN --mount=type=bind,source=input.txt,target=/one.txt cat /one.txt > /one\n"
                  "RUN --mount=type=bind,from=tools,source=/tool,target=/t cat /t > /from-stage\n"
                  "RUN --mount=type=bind,target=/rw,rw echo scribble > /rw/input.txt\n"
                  "RUN --mount=type=bind,target=/ro touch /ro/nope 2>/dev/null || echo read-only > /ro-result\n")
    messages = build(moord, {"Dockerfile": dockerfile, "input.txt": "from the context\n"}, tag="bound")
    assert error(messages) is None, text(messages)
    out = run(moord, "bound", "cat /from-context /one /from-stage /ro-result; ls /ctx /rw /ro 2>&1 | wc -l")
    assert out.splitlines() == ["from the context", "from the context", "tool", "read-only", "3"]
    missing = build(moord, {"Dockerfile": "FROM busybox\nRUN --mount=type=bind,source=nope,target=/n true\n"})
    assert "not found" in str(error(missing))


def test_tmpfs_and_secret_mounts(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox\n"
                  "RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/x && grep -q ' /scratch tmpfs' "
                  "/proc/mounts && touch /tmpfs-ok\n"
                  "RUN --mount=type=secret,id=token cat /run/secrets/token > /leaked-on-purpose\n"
                  "RUN --mount=type=secret,id=token,target=/etc/tok,mode=0444 stat -c %a /etc/tok > /mode\n"
                  "RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent\n")
    status, messages = post_build(moord, {"Dockerfile": dockerfile}, {"t": "mounted"}, secrets={"token": b"s3cret"})
    assert status == 200 and error(messages) is None, text(messages)
    out = run(moord, "mounted", "cat /leaked-on-purpose; echo; cat /mode; ls /tmpfs-ok; ls /scratch /run/secrets "
                                "/etc/tok 2>&1; true")
    # neither the tmpfs nor the secrets' mount points are in the image
    assert out.splitlines() == ["s3cret", "444", "/tmpfs-ok", "ls: /scratch: No such file or directory",
                                "ls: /run/secrets: No such file or directory",
                                "ls: /etc/tok: No such file or directory"]
    status, required = post_build(moord, {"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=x,required true\n"})
    assert "secret x: not found" in str(error(required))


def test_network_and_extra_hosts(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox\nRUN --network=none ip -o link | grep -vc ' lo' > /links || true\n"
                  "RUN grep -c myhost /etc/hosts > /hosts\n")
    messages = build(moord, {"Dockerfile": dockerfile}, tag="netted", extra_hosts={"myhost": "10.1.2.3"})
    assert error(messages) is None, text(messages)
    assert run(moord, "netted", "cat /links /hosts") == "0\n1\n"
    status, host_mode = post_build(moord, {"Dockerfile": "FROM busybox\nRUN true\n"}, {"networkmode": "none"})
    assert status == 200 and error(host_mode) is None, text(host_mode)


def test_onbuild_triggers_run_in_the_child_build(moord: DaemonProcess) -> None:
    parent = build(moord, {"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /trigger\n"
                                         "ONBUILD ENV FROM_TRIGGER=1\n"}, tag="onbuild-parent")
    assert error(parent) is None, text(parent)
    child = build(moord, {"Dockerfile": "FROM onbuild-parent\nRUN cat /trigger\n"}, tag="onbuild-child")
    assert error(child) is None, text(child)
    # as dockerd 20.10 prints it: no image line before the triggers, only after the last one
    shown = re.sub(r"\b[0-9a-f]{12}\b", "<id>", text(child))
    assert shown.startswith("Step 1/2 : FROM onbuild-parent\n# Executing 2 build triggers\n"
                            " ---> Running in <id>\nRemoving intermediate container <id>\n"
                            " ---> Running in <id>\nRemoving intermediate container <id>\n ---> <id>\n"
                            "Step 2/2 : RUN cat /trigger\n"), shown
    assert run(moord, "onbuild-child", "cat /trigger; echo $FROM_TRIGGER") == "triggered\n1\n"
    config = moor(moord, "image", "inspect", "--format", "{{json .Config.OnBuild}}", "onbuild-child").stdout.strip()
    assert config in ("null", "[]")
    assert image_id(child)


def test_heredocs_run_as_scripts(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox\nRUN <<EOF\necho one > /h1\necho two >> /h1\nEOF\n"
                  "RUN <<-'EOT' sh -e\n\techo $((1 + 2)) > /h2\nEOT\n"
                  "COPY <<EOF /h3\ninline\nEOF\n")
    messages = build(moord, {"Dockerfile": dockerfile}, tag="heredocs")
    assert error(messages) is None, text(messages)
    assert run(moord, "heredocs", "cat /h1 /h2 /h3") == "one\ntwo\n3\ninline\n"


def test_rm_off_keeps_the_step_containers_and_limits_apply(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || "
                  "cat /sys/fs/cgroup/memory.max\n")
    messages = build(moord, {"Dockerfile": dockerfile}, rm=False, nocache=True,
                     container_limits={"memory": 64 * 1024 * 1024})
    assert error(messages) is None, text(messages)
    assert "67108864\n" in text(messages)
    assert "Removing intermediate container" not in text(messages)
    kept = moor(moord, "ps", "-aq").stdout.split()
    assert len(kept) == 1
    moor(moord, "rm", *kept)
    failed = build(moord, {"Dockerfile": "FROM busybox\nRUN exit 4\n"}, forcerm=True)
    assert error(failed) == "The command '/bin/sh -c exit 4' returned a non-zero code: 4"
    assert moor(moord, "ps", "-aq").stdout.strip() == ""


def test_run_as_the_user_and_volume_writes_are_discarded(moord: DaemonProcess) -> None:
    # as dockerd 20.10: RUN runs as USER; what a RUN writes in a VOLUME is not kept
    dockerfile = ("FROM busybox\nUSER nobody\nRUN id -u > /tmp/uid\nUSER root\nVOLUME /vol\n"
                  "RUN echo lost > /vol/f && echo kept > /kept\n")
    messages = build(moord, {"Dockerfile": dockerfile}, tag="user-volume")
    assert error(messages) is None, text(messages)
    assert run(moord, "user-volume", "cat /tmp/uid /kept; ls /vol") == "65534\nkept\n"
    assert moor(moord, "volume", "ls", "-q").stdout.strip() == ""  # the steps' anonymous volumes went with them
