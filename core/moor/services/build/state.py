"""A stage's state between its steps: the image so far, its config, the shell and the build arguments in scope."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from moor.images.store import ImageRecord

#: Docker's PATH for a Linux image that sets none (added at FROM, as the classic builder does).
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")


@dataclass
class StageState:
    """What a stage has built so far.

    ``image`` is the latest image (None while a ``FROM scratch`` stage has made none); ``config`` its ``config``
    section as the next image will have it (Docker's Go field names); ``args`` the build arguments declared in
    the stage (ARG) with their values (None: declared, no value); ``base_config`` the whole config of the image
    the stage started from or last committed (architecture, os, history, rootfs).
    """

    name: str
    image: ImageRecord | None
    config: dict[str, Any]
    image_config: dict[str, Any] = field(default_factory=dict)
    args: dict[str, str | None] = field(default_factory=dict)
    used_args: set[str] = field(default_factory=set)
    #: MAINTAINER's name: the ``author`` of the stage's next images
    author: str = ""

    @classmethod
    def from_image(cls, name: str, image: ImageRecord | None) -> StageState:
        image_config = copy.deepcopy(image.config) if image is not None else {}
        config = copy.deepcopy(image_config.get("config") or {})
        env = list(config.get("Env") or [])
        if not any(item.split("=", 1)[0] == "PATH" for item in env):
            config["Env"] = [DEFAULT_PATH, *env]
        return cls(name=name, image=image, config=config, image_config=image_config)

    @property
    def image_id(self) -> str:
        return self.image.id if self.image is not None else ""

    @property
    def diff_ids(self) -> list[str]:
        return self.image.diff_ids if self.image is not None else []

    @property
    def top_layer(self) -> str | None:
        return self.image.top_layer if self.image is not None else None

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def env(self) -> dict[str, str]:
        """The variables a word of a Dockerfile sees: the config's Env over the stage's ARG values."""
        values = {name: value for name, value in self.args.items() if value is not None}
        for item in self.config.get("Env") or []:
            key, _, value = item.partition("=")
            values[key] = value
        return values

    def run_args(self) -> list[tuple[str, str]]:
        """The build arguments a RUN sees as variables (those with a value that no ENV overrides), by name."""
        env_keys = {item.split("=", 1)[0] for item in self.config.get("Env") or []}
        return sorted((name, value) for name, value in self.args.items()
                      if value is not None and name not in env_keys)
