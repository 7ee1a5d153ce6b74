"""One stage's steps: FROM, then each command in turn, each ending in an (intermediate) image.

Config-only steps (ENV, LABEL, CMD, ...) change the config through :mod:`moor.build.dispatch` and commit an
image with no layer (Docker shows a container for them: `` ---> Running in``; moor needs none and shows the
same lines); WORKDIR also adds its directory when the image lacks it; RUN runs a container
(:mod:`moor.services.build.run`); COPY and ADD apply a layer written by :mod:`moor.build.copy`, without any
container. Each step asks the build cache first (`` ---> Using cache``) unless ``--no-cache``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moor.build import dispatch
from moor.build.checksum import ChecksumCache
from moor.build.copy import plan_copy, write_copy_layer
from moor.build.history import cache_key
from moor.build.instructions import (
    ArgCommand,
    Command,
    CopyCommand,
    RunCommand,
    Stage,
    expand_command,
    parse_trigger,
)
from moor.build.options import BuildOptions
from moor.build.shell_lexer import ShellLexer
from moor.errors import InvalidParameter, NotFound
from moor.images import reference
from moor.images.store import ImageRecord, LayerRecord
from moor.services.build import output
from moor.services.build.cache import BuildSession
from moor.services.build.cache_from import CacheSources
from moor.services.build.commit import StepCommitter
from moor.services.build.mounts import MountPlanner
from moor.services.build.rootfs import directories_layer, missing_directories, mounted
from moor.services.build.run import RunExecutor, RunRequest
from moor.services.build.scheduler import StageRun
from moor.services.build.state import StageState
from moor.services.images import ImageService
from moor.services.registry.pull import PullService

log = logging.getLogger(__name__)


@dataclass
class StepContext:
    """What every stage of one build shares: its options, lexer, build args, context directory, cache sources."""

    options: BuildOptions
    lexer: ShellLexer
    context_root: str
    args: dispatch.BuildArgs
    total_steps: int
    #: the build's own temp directory (downloads, heredoc files, layers being written)
    work_dir: str
    #: the checksums of the context's files, kept between steps
    checksums: ChecksumCache
    #: (stage index, name) -> the earlier stage that ``COPY --from=name`` means, or None (an image)
    stage_reference: Callable[[int, str], int | None]
    cache_from: CacheSources | None = None
    #: the Dockerfile's warnings (Docker's) and notes (moor's), printed before Step 1
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class StageBuilder:
    """Builds one stage of a build: its FROM and commands, numbering its steps from ``first_step``."""

    def __init__(self, images: ImageService, pull: PullService, committer: StepCommitter, runner: RunExecutor,
                 cache: BuildSession, shared: StepContext, run: StageRun[StageState], first_step: int) -> None:
        self.images = images
        self.pull = pull
        self.committer = committer
        self.runner = runner
        self.cache = cache
        self.shared = shared
        self.run = run
        self.step_number = first_step
        self._in_triggers = False

    # ------------------------------------------------------------------ the stage

    def build(self, stage: Stage, labels: list[Command] | None = None) -> StageState:
        """The stage's steps, then ``labels`` (the build's ``--label`` steps, for the target stage: not
        expanded, as Docker)."""
        self.step(stage.from_command.original)
        state = self._from(stage)
        self._run_triggers(state)
        for command in stage.commands:
            self.step(command.original)
            self.execute(state, command)
        for label in labels or []:
            self.step(label.original)
            self._config_step(state, label)
        if state.image is not None:
            self.run.send(output.aux_id(state.image.id))
        return state

    def _image_line(self, image_id: str) -> None:
        """`` ---> <id>`` after a step (not after each ONBUILD trigger: Docker shows the last one's only)."""
        if not self._in_triggers:
            self.run.send(output.image_line(image_id))

    def step(self, original: str) -> None:
        """``Step N/M : <instruction>``."""
        self.run.check()
        for message in output.step(self.step_number, self.shared.total_steps, original):
            self.run.send(message)
        self.step_number += 1

    # ------------------------------------------------------------------ FROM

    def _from(self, stage: Stage) -> StageState:
        name = stage.name or ""
        if stage.base_stage is not None:
            parent = self.run.result_of(stage.base_stage)
            state = StageState.from_image(name, parent.image, self.shared.args)
            if not state.triggers:  # with triggers the image line comes after them, as Docker's
                self.run.send(output.stream(f" ---> {output.short_id(parent.image_id)}\n"))
            return state
        if not stage.image:
            raise InvalidParameter(f"base name ({stage.base}) should not be blank")
        if stage.image.lower() == "scratch":
            self.run.send(output.stream(" ---> \n"))
            return StageState.from_image(name, None, self.shared.args)
        image = self._base_image(stage.image, stage.platform or self.shared.options.platform)
        self.cache.hold(image)  # an rmi meanwhile leaves its layers to this build
        state = StageState.from_image(name, image, self.shared.args)
        if not state.triggers:
            self._image_line(image.id)
        return state

    def _base_image(self, name: str, platform: str) -> ImageRecord:
        """The local image ``name``, pulled first when it is missing or ``pull`` was asked for."""
        image = self.images.find(name)
        if image is not None and (not self.shared.options.pull or _names_by_id(name, image)):
            return image  # (an image named by its ID has nothing to pull)
        ref = reference.parse(name)
        if image is not None and ref.digest:
            return image  # a digest names content: there is nothing newer to pull
        auth = self.shared.options.auth_for(ref.domain)
        self.pull.pull(ref.familiar, "", platform, auth, False, self.run.send)
        image = self.images.find(name)
        if image is None:
            raise NotFound(f"No such image: {name}")
        return image

    def _run_triggers(self, state: StageState) -> None:
        """The base image's ONBUILD triggers, run first (they are not in the new image's config)."""
        if not state.triggers:
            return
        self.run.send(output.triggers(len(state.triggers)))
        triggers, state.triggers = state.triggers, []
        self._in_triggers = True  # Docker shows only the last trigger's image
        try:
            for text in triggers:
                self.execute(state, parse_trigger(text))
        finally:
            self._in_triggers = False
        self.run.send(output.stream(f" ---> {output.short_id(state.image_id)}\n"))

    # ------------------------------------------------------------------ steps

    def execute(self, state: StageState, command: Command) -> None:
        """Run one command on the stage."""
        self.run.check()
        expanded = expand_command(command, self.shared.lexer, state.env())
        if isinstance(expanded, RunCommand):
            self._run(state, expanded)
        elif isinstance(expanded, CopyCommand):
            self._copy(state, expanded)
        else:
            self._config_step(state, expanded)

    def _cached(self, state: StageState, key: str, created_by: str, config: dict[str, Any]) -> ImageRecord | None:
        """The image the cache (or a ``--cache-from`` image) has for this step; `` ---> Using cache``."""
        if self.shared.options.no_cache:
            return None
        image = self.cache.lookup(state.image_id, key)
        if image is not None and self.shared.cache_from is not None and not self.shared.cache_from.vouches_for(
                image.id):
            image = None  # Docker: with --cache-from (even of images it cannot find), only their ancestors
        if image is None and self.shared.cache_from:
            image = self.shared.cache_from.match(state.image_id, created_by, config)
            if image is not None:  # so that a later build without --cache-from hits too
                self.cache.record(state.image_id, key, image)
        if image is None:
            return None
        self.run.send(output.using_cache())
        self._image_line(image.id)
        return image

    def _config_step(self, state: StageState, command: Command) -> None:
        change = dispatch.apply(command, state.config, state.cmd_set)
        for note in change.notes:
            self.run.send(output.stream(note.rstrip("\n") + "\n"))
        if isinstance(command, ArgCommand):
            state.args.declare(list(change.args))
        key = cache_key(state.image_id, change.created_by, change.config)
        image = self._cached(state, key, change.created_by, change.config)
        if image is None:
            container_id = secrets.token_hex(32)
            self.run.send(output.running_in(container_id))
            if change.author is not None:
                state.author = change.author
            layer = self._workdir_layer(state, change.workdir) if change.workdir else None
            self.run.send(output.removing(container_id))
            image = self.committer.commit(state, change.config, change.container_config(container_id), layer,
                                          container_id)
            self.cache.record(state.image_id, key, image)
            self._image_line(image.id)
        elif change.author is not None:
            state.author = change.author
        state.config = dict(change.config)
        state.cmd_set = change.cmd_set
        state.moved_to(image)

    def _workdir_layer(self, state: StageState, path: str) -> LayerRecord | None:
        """WORKDIR makes its directory when the image lacks it (a layer of the missing directories)."""
        with mounted(self.committer.storage, state.top_layer) as root:
            missing = missing_directories(root, path)
        if not missing:
            return None
        return self.committer.layer_from_tar(state, io.BytesIO(directories_layer(missing)))

    def _run(self, state: StageState, command: RunCommand) -> None:
        step = dispatch.run(state.config, heredoc_script(command), command.prepend_shell, state.args)
        key = cache_key(state.image_id, step.created_by, step.config, run_key_extra(command))
        image = self._cached(state, key, step.created_by, step.config)
        if image is None:
            image = self._run_container(state, command, step, key)
        state.config = dict(step.config)
        state.moved_to(image)

    def _run_container(self, state: StageState, command: RunCommand, step: dispatch.RunStep,
                       key: str) -> ImageRecord:
        options = self.shared.options
        host_config = options.host_config()
        network = command.network if command.network not in ("", "default") else options.network_mode
        if network:
            host_config["NetworkMode"] = network
        with contextlib.ExitStack() as stack:
            planner = MountPlanner(self.cache, self.committer.storage, self.shared.context_root,
                                   self.shared.work_dir, options.secrets, self._copy_source_image,
                                   self.run.cancel.is_set)
            prepared = planner.prepare(command.mounts, str(state.config.get("WorkingDir") or ""), stack)
            host_config.update(prepared.host_config())
            request = RunRequest(config=step.run_config(), host_config=host_config, mount_targets=prepared.targets)
            container_id, layer = self.runner.run(state, request, self.run.send, self.run.cancel,
                                                  keep=not options.rm)
        if options.rm:
            self.run.send(output.removing(container_id))
        image = self.committer.commit(state, step.config, {**step.container_config, "Hostname": container_id[:12]},
                                      layer, container_id)
        self.cache.record(state.image_id, key, image)
        self._image_line(image.id)
        return image

    def _copy(self, state: StageState, command: CopyCommand) -> None:
        """COPY and ADD: the sources resolved in the context (or a stage's or image's files with ``--from``),
        their content checksum in the history text (so the cache hits on content), the layer written without
        any container."""
        storage = self.committer.storage
        with contextlib.ExitStack() as stack:
            source_root, checksums = self.shared.context_root, self.shared.checksums
            if command.from_stage:
                source = self._copy_source_image(command.from_stage)
                root = stack.enter_context(mounted(storage, source.top_layer if source is not None else None))
                if root is None:
                    root = stack.enter_context(tempfile.TemporaryDirectory(dir=self.shared.work_dir))
                source_root, checksums = root, ChecksumCache(root, "image")
            target = stack.enter_context(mounted(storage, state.top_layer))
            workdir = str(state.config.get("WorkingDir") or "")
            plan = stack.enter_context(plan_copy(command, root=source_root, workdir=workdir, target=target,
                                                 flavor=checksums.flavor, cache=checksums,
                                                 work_dir=self.shared.work_dir))
            change = dispatch.copy_files(state.config, command.keyword, plan.checksum, command.dest,
                                         command.chown or None)
            key = cache_key(state.image_id, change.created_by, change.config)
            image = self._cached(state, key, change.created_by, change.config)
            if image is None:
                with tempfile.TemporaryFile(dir=self.shared.work_dir) as layer_tar:
                    write_copy_layer(plan, target, layer_tar)
                    layer_tar.seek(0)
                    layer = self.committer.layer_from_tar(state, layer_tar)
                image = self.committer.commit(state, change.config, change.container_config(), layer, "")
                self.cache.record(state.image_id, key, image)
                self._image_line(image.id)
        state.config = dict(change.config)
        state.moved_to(image)

    def _copy_source_image(self, name: str) -> ImageRecord | None:
        """The image ``COPY --from=name`` reads: an earlier stage's, else an image (pulled when missing)."""
        index = self.shared.stage_reference(self.run.index, name)
        if index is not None:
            return self.run.result_of(index).image
        return self._base_image(name, self.shared.options.platform)

def _names_by_id(name: str, image: ImageRecord) -> bool:
    """Whether ``name`` is ``image``'s ID (whole, ``sha256:``, or a prefix), not a reference."""
    hex_part = name.removeprefix("sha256:")
    return bool(re.fullmatch(r"[0-9a-f]{12,64}", hex_part)) and image.id.removeprefix("sha256:").startswith(hex_part)


def heredoc_script(command: RunCommand) -> list[str]:
    """A RUN's command with its heredocs (BuildKit's syntax) for the shell: ``RUN <<EOF`` alone runs the
    heredoc's content as the script; otherwise the shell gets the command line followed by each heredoc's
    body and end marker, and reads the heredocs itself (``RUN python3 <<EOF``)."""
    if not command.heredocs or not command.prepend_shell:
        return list(command.command)
    line = " ".join(command.command)
    if len(command.heredocs) == 1 and re.fullmatch(r"\d*<<-?[\"']?" + re.escape(command.heredocs[0].name) + r"[\"']?",
                                                   line.strip()):
        return [command.heredocs[0].content]
    bodies = "".join(f"{heredoc.content}{heredoc.name}\n" for heredoc in command.heredocs)
    return [f"{line}\n{bodies}"]


def run_key_extra(command: RunCommand) -> list[str]:
    """What besides its created_by makes a RUN another step: its network and mounts."""
    return [f"network={command.network}", *(repr(mount) for mount in command.mounts)]
