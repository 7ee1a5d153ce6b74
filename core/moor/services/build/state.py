"""A stage's state between its steps: the image so far, its config, the build arguments in scope."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from moor.build.dispatch import BuildArgs, begin_stage, shell_of
from moor.images.store import ImageRecord


@dataclass
class StageState:
    """What a stage has built so far.

    ``image`` is the latest image (None while a ``FROM scratch`` stage has made none); ``config`` its ``config``
    section as the next image will have it (Docker's Go field names); ``image_config`` the whole config of the
    latest image (architecture, os, history, rootfs); ``args`` Docker's build-argument rules for the stage;
    ``cmd_set`` whether a CMD was set in the stage (ENTRYPOINT's rule); ``author`` MAINTAINER's name.
    """

    name: str
    image: ImageRecord | None
    config: dict[str, Any]
    args: BuildArgs
    image_config: dict[str, Any] = field(default_factory=dict)
    cmd_set: bool = False
    author: str = ""
    #: the base image's ONBUILD triggers, run before the stage's own commands
    triggers: list[str] = field(default_factory=list)

    @classmethod
    def from_image(cls, name: str, image: ImageRecord | None, args: BuildArgs) -> StageState:
        image_config = copy.deepcopy(image.config) if image is not None else {}
        config, triggers = begin_stage(image_config.get("config"))
        config["Image"] = image.id if image is not None else ""
        return cls(name=name, image=image, config=config, args=args.for_stage(), image_config=image_config,
                   triggers=triggers)

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
        return shell_of(self.config)

    def env(self) -> dict[str, str]:
        """The variables a word of a Dockerfile sees: the config's Env, then the build args no ENV overrides."""
        return self.args.expansion_env(self.config)

    def moved_to(self, image: ImageRecord) -> None:
        """The stage's image is now ``image`` (a step's, made or found in the cache)."""
        self.image = image
        self.image_config = copy.deepcopy(image.config)
        self.config["Image"] = image.id
