"""The build service: ``POST /build`` from a context tar to a tagged image, in Docker's classic builder's words.

One build: the context is received into a private directory (removed at the end, whatever happens), its
Dockerfile parsed and planned into stages (:mod:`moor.build.instructions`), the stages the target needs built
(independent ones at the same time, :mod:`moor.services.build.scheduler`), each step of each stage run by a
:class:`~moor.services.build.steps.StageBuilder`; then the final image is tagged and reported (``aux`` ID,
``Successfully built``, ``Successfully tagged``). Progress goes to ``emit`` from the calling thread; when it
raises (the client went away) the build is cancelled: running containers are killed and removed, and
``emit``'s exception raised.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from typing import IO

from moor.build.checksum import ChecksumCache
from moor.build.context import BuildContext, remove_tree
from moor.build.dispatch import BuildArgs, label_commands
from moor.build.dockerfile import parse_dockerfile
from moor.build.instructions import BuildPlan, Command, CopyCommand, RunCommand, Stage, plan_stages, stages_needed
from moor.build.options import BuildOptions
from moor.build.shell_lexer import ShellLexer
from moor.drivers import DriverSet
from moor.errors import InvalidParameter
from moor.images import reference
from moor.services.build import output
from moor.services.build.cache import BuildCache, BuildSession
from moor.services.build.commit import StepCommitter
from moor.services.build.run import RunExecutor
from moor.services.build.scheduler import Emit, StageRun, StageScheduler
from moor.services.build.state import StageState
from moor.services.build.steps import StageBuilder, StepContext
from moor.services.container_io import ContainerIO
from moor.services.containers import ContainerService
from moor.services.events import EventBus
from moor.services.images import ImageService
from moor.services.registry.pull import PullService

log = logging.getLogger(__name__)


class BuildService:
    """Builds images from Dockerfiles (``POST /build``).

    ``cache`` is the :class:`~moor.services.build.cache.BuildCache`; ``data_root`` the daemon's data root
    (contexts are received under ``<data_root>/build/tmp``).
    """

    def __init__(self, images: ImageService, containers: ContainerService, container_io: ContainerIO,
                 pull: PullService, cache: BuildCache, drivers: DriverSet, events: EventBus, data_root: str) -> None:
        self.images = images
        self.containers = containers
        self.pull = pull
        self.cache = cache
        self.drivers = drivers
        self.events = events
        self.work_dir = os.path.join(data_root, "build", "tmp")
        self.trash_dir = os.path.join(data_root, "build", "trash")  # contexts of ended builds, being removed
        # what a build that moord did not finish left (contexts, step files): no build runs yet
        shutil.rmtree(self.work_dir, ignore_errors=True)
        remove_tree(self.trash_dir)
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        self.committer = StepCommitter(images.store, drivers.storage)
        self.runner = RunExecutor(containers, container_io, self.committer)

    def build(self, options: BuildOptions, context_stream: IO[bytes], emit: Emit) -> str:
        """Build the image ``options`` describe from the context tar ``context_stream``; its image ID."""
        for tag in options.tags:
            reference.parse(tag)
        context = BuildContext.receive(context_stream, self.work_dir, options.dockerfile)
        try:
            return self._build(options, context, emit)
        finally:
            self._discard(context)

    def _discard(self, context: BuildContext) -> None:
        """Remove the context off the build's path: moved out of ``build/tmp`` at once, deleted by a thread
        (what a stop interrupts goes when moord starts again)."""
        moved = context.retire(self.trash_dir)
        if moved:
            threading.Thread(target=remove_tree, args=(moved,), name="moor-build-trash", daemon=True).start()

    def _build(self, options: BuildOptions, context: BuildContext, emit: Emit) -> str:
        dockerfile = parse_dockerfile(context.dockerfile_text(), options.dockerfile)
        plan = plan_stages(dockerfile, options.build_args, options.target)
        stages = {stage.index: stage for stage in plan.stages}
        total = len(plan.meta_commands) + sum(1 + len(stages[index].commands) for index in stages_needed(plan)) + \
            len(options.labels)
        cache_from = [image for name in options.cache_from if (image := self.images.find(name)) is not None]
        work_dir = tempfile.mkdtemp(prefix="steps-", dir=self.work_dir)
        try:
            shared = StepContext(options=options, lexer=ShellLexer(dockerfile.escape), context_root=context.root,
                                 args=BuildArgs(options.build_args, plan.meta_args), total_steps=total,
                                 work_dir=work_dir, checksums=ChecksumCache(context.root, "context", context.sums),
                                 stage_reference=plan.stage_reference, warnings=list(dockerfile.warnings),
                                 notes=list(dockerfile.notes),
                                 cache_from=self.cache.cache_from(cache_from) if options.cache_from else None)
            with self.cache.session() as session:  # what the build uses stays until it ends
                return self._run_stages(plan, shared, emit, session)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    def _run_stages(self, plan: BuildPlan, shared: StepContext, emit: Emit, session: BuildSession) -> str:
        options, total = shared.options, shared.total_steps
        stages = {stage.index: stage for stage in plan.stages}
        needed = stages_needed(plan)
        for note in shared.notes:  # moor's (the ignored syntax directive)
            emit(output.stream(note + "\n"))
        if shared.warnings:  # Docker's, before Step 1, in its colours
            emit(output.output(("\n".join(shared.warnings) + "\n").encode(), stderr=True))
        number = 1
        for command in plan.meta_commands:  # ARG before FROM: a step of the output, with nothing to run
            for message in output.step(number, total, command.original):
                emit(message)
            number += 1
        jobs = {}
        labels: list[Command] = list(label_commands(options.labels))
        for index in needed:
            jobs[index] = self._job(shared, session, stages[index], number,
                                    labels if index == plan.target_index else [])
            number += 1 + len(stages[index].commands) + (len(labels) if index == plan.target_index else 0)
        dependencies = {index: stage_dependencies(plan, index) for index in needed}
        results = StageScheduler(jobs, dependencies).run(emit)
        final = results[plan.target_index]
        if final.image is None:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        image_id = final.image.id
        if plan.unused_build_args:
            emit(output.unused_args(list(plan.unused_build_args)))
        emit(output.built(image_id))
        for tag in options.tags:
            target = reference.parse(tag)
            self.images.store.set_ref(str(target), image_id)
            self.events.publish("image", "tag", image_id, {"name": target.familiar})
            emit(output.tagged(target.familiar))
        return image_id

    def _job(self, shared: StepContext, session: BuildSession, stage: Stage, first: int,
             labels: list[Command]) -> Callable[[StageRun[StageState]], StageState]:
        def job(run: StageRun[StageState]) -> StageState:
            builder = StageBuilder(self.images, self.pull, self.committer, self.runner, session, shared, run, first)
            return builder.build(stage, labels)

        return job


def stage_dependencies(plan: BuildPlan, index: int) -> set[int]:
    """The earlier stages stage ``index`` needs: its base, ``COPY --from`` and ``RUN --mount=from=`` of a stage."""
    stage = plan.stages[index]
    result = {stage.base_stage} if stage.base_stage is not None else set()
    for command in stage.commands:
        names: list[str] = []
        if isinstance(command, CopyCommand) and command.from_stage:
            names.append(command.from_stage)
        if isinstance(command, RunCommand):
            names.extend(mount.from_ for mount in command.mounts if mount.from_)
        for name in names:
            found = plan.stage_reference(index, name)
            if found is not None:
                result.add(found)
    return result
