"""The classic builder's messages, as Docker 20.10's ``POST /build`` streams them (``DOCKER_BUILDKIT=0``).

Every message is a dict ready for ``emit``: ``{"stream": text}`` for what ``docker build`` prints, ``{"aux":
{"ID": ...}}`` for the image ID a client records (``--iidfile``). A RUN's standard error is wrapped in the
terminal colour codes Docker puts around it (red, then reset).
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]

#: What Docker puts around a RUN's standard error output (so that a terminal shows it red).
STDERR_START = "\x1b[91m"
STDERR_END = "\x1b[0m"


def short_id(ident: str) -> str:
    """The 12 hex digits Docker shows of an image or container ID."""
    return ident.split(":", 1)[-1][:12]


def stream(text: str) -> Message:
    return {"stream": text}


def step(number: int, total: int, original: str) -> list[Message]:
    """``Step 2/5 : RUN make``: the text and its line end come as two messages, as Docker sends them."""
    return [stream(f"Step {number}/{total} : {original}"), stream("\n")]


def image_line(image_id: str) -> Message:
    """`` ---> 2c5ae...``: the image a step (or FROM) left."""
    return stream(f" ---> {short_id(image_id)}\n")


def running_in(container_id: str) -> Message:
    return stream(f" ---> Running in {short_id(container_id)}\n")


def removing(container_id: str) -> Message:
    return stream(f"Removing intermediate container {short_id(container_id)}\n")


def using_cache() -> Message:
    return stream(" ---> Using cache\n")


def output(data: bytes, stderr: bool) -> Message:
    """A chunk of a RUN's output (invalid UTF-8 replaced); standard error in Docker's colours."""
    text = data.decode("utf-8", "replace")
    return stream(f"{STDERR_START}{text}{STDERR_END}" if stderr else text)


def triggers(count: int) -> Message:
    """Before the ONBUILD triggers of a base image run."""
    return stream(f"# Executing {count} build trigger{'s' if count != 1 else ''}\n")


def unused_args(names: list[str]) -> Message:
    return stream(f"[Warning] One or more build-args [{' '.join(sorted(names))}] were not consumed\n")


def aux_id(image_id: str) -> Message:
    return {"aux": {"ID": image_id}}


def built(image_id: str) -> Message:
    return stream(f"Successfully built {short_id(image_id)}\n")


def tagged(name: str) -> Message:
    return stream(f"Successfully tagged {name}\n")
