"""The engine: the configuration, the loaded drivers and the services, wired together once."""

from __future__ import annotations

import logging
import os
import time
import uuid

from moor.config import Config
from moor.containers.processes import ContainerProcesses, RuncProcesses
from moor.containers.record import ContainerStore
from moor.containers.runcnamespace import RuncNamespace
from moor.daemon import storagemounts
from moor.drivers import DriverSet, load_drivers
from moor.fsutil import atomic_write, make_private_dir
from moor.images.store import ImageStore
from moor.networks import netns
from moor.services.archive import ContainerArchive
from moor.services.build.builder import BuildService
from moor.services.build.cache import BuildCache, CacheAwareImageUsers
from moor.services.commit import CommitService
from moor.services.container_io import ContainerIO
from moor.services.container_networking import ContainerNetworking
from moor.services.container_query import ContainerQuery
from moor.services.containers import ContainerService
from moor.services.events import EventBus
from moor.services.health import HealthChecker
from moor.services.image_transfer import ImageTransfer
from moor.services.images import ImageService
from moor.services.networks import NetworkService
from moor.services.registry.distribution import DistributionService
from moor.services.registry.login import RegistryLogin
from moor.services.registry.metadata import DistributionMetadata
from moor.services.registry.pull import PullService
from moor.services.registry.push import PushService
from moor.services.registry.search import RegistrySearch
from moor.services.start_hooks import PendingAttaches, StartListeners
from moor.services.stats import ContainerResources
from moor.services.volumes import VolumeService

log = logging.getLogger(__name__)

#: The data root's mode, as Docker's since 20.10.9: the owner (root) and its group only may traverse it.
DATA_ROOT_MODE = 0o710


class Engine:
    """Everything moord serves, built from a :class:`Config`."""

    def __init__(self, config: Config, drivers: DriverSet | None = None,
                 processes: ContainerProcesses | None = None) -> None:
        """``drivers`` default to those the configuration names, found by entry point; ``processes`` to runc
        (``[runtime] path``, its state under the exec root) and monitor processes, the storage root then made a
        mount of its own (:mod:`moor.daemon.storagemounts`; released by :meth:`close` when no root is mounted)."""
        self.config = config
        self.started_at = time.time()
        # 0710 as Docker's (CVE-2021-41091): no other user may traverse to a volume or a rootfs
        make_private_dir(config.data_root, DATA_ROOT_MODE)
        os.makedirs(config.exec_root, mode=0o700, exist_ok=True)
        self.drivers = drivers if drivers is not None else load_drivers(config)
        # runc's containers are created without the other containers' roots: they sit under one private mount
        self._hide_roots = storagemounts.prepare(config.data_root, config.drivers["storage"].driver) \
            if processes is None else ""
        try:
            self.processes = processes if processes is not None else RuncProcesses(
                config.runtime.path, os.path.join(config.exec_root, "runc"), hide_roots=self._hide_roots,
                runc_namespace=RuncNamespace.watching(self._hide_roots))
            self.id = self._engine_id()
            self.services: dict[str, object] = {}
            self._build_services()
        except BaseException:
            self._release_storage_mounts()
            raise

    def _build_services(self) -> None:
        """Each service gets its collaborators as constructor arguments; the shared objects come first.

        The container store (read through a :class:`ContainerQuery` by the image and volume services and the
        container networking), the attach hooks and the start listeners are what would otherwise make the
        services hold each other.
        """
        config, drivers, processes = self.config, self.drivers, self.processes
        self.events = EventBus()
        store = ContainerStore(os.path.join(config.data_root, "containers"))
        query = ContainerQuery(store)
        attaches = PendingAttaches()
        started = StartListeners()
        image_store = ImageStore(os.path.join(config.data_root, "image"), drivers.storage)
        # the build cache holds layers of removed images (made again on a hit): image removal asks it too
        self.build_cache = BuildCache(image_store, os.path.join(config.data_root, "build"))
        self.images = ImageService(image_store, CacheAwareImageUsers(query, self.build_cache), self.events)
        self.transfer = ImageTransfer(self.images)
        self._build_registry_services()
        self.volumes = VolumeService(config.data_root, drivers, self.events, query)
        self.networks = NetworkService(config.data_root, drivers, self.events)
        # with runc, a container's network namespace is made ahead of it and set up while runc creates it
        self.networking = ContainerNetworking(config, self.networks, store, self.events, processes, query.get,
                                              netns.make if isinstance(processes, RuncProcesses) else None)
        self.containers = ContainerService(config, drivers, store, self.images, self.volumes, self.networking,
                                           self.events, processes, attaches, started)
        self.container_io = ContainerIO(self.containers, self.events, processes, attaches)
        self.health = HealthChecker(store, self.container_io, self.events)
        started.add(self.health.watch)
        self.archive = ContainerArchive(self.containers, drivers, self.events)
        self.commits = CommitService(self.containers, self.images, drivers, self.events, processes)
        self.builds = BuildService(self.images, self.containers, self.container_io, self.pulls, self.build_cache,
                                   drivers, self.events, config.data_root)
        self.resources = ContainerResources(self.containers, self.events, processes)
        self.services["images"] = self.images
        self.services["containers"] = self.containers
        self.services["networking"] = self.networking
        self.services["volumes"] = self.volumes
        self.containers.recover()
        self.images.recover()

    def _build_registry_services(self) -> None:
        """Pull, push, login, search and distribution inspect, over ``[registry]``; pull and push share what
        is known of which registry blobs hold which layer."""
        settings, images = self.config.registry, self.images
        metadata = DistributionMetadata(images.store.root)
        self.pulls = PullService(images, settings, self.events, os.path.join(images.store.root, "downloads"), metadata)
        self.pushes = PushService(images, settings, self.events, metadata)
        self.distribution = DistributionService(settings)
        self.registry_login = RegistryLogin(settings)
        self.registry_search = RegistrySearch(settings)

    def _engine_id(self) -> str:
        path = os.path.join(self.config.data_root, "engine-id")
        try:
            with open(path) as handle:
                return handle.read().strip()
        except FileNotFoundError:
            value = str(uuid.uuid4()).upper()
            atomic_write(path, value.encode() + b"\n", mode=0o600)
            return value

    def counts(self) -> dict[str, int]:
        """Object counts for ``/info``, from every service that keeps some."""
        totals: dict[str, int] = {}
        for service in self.services.values():
            counts = getattr(service, "counts", None)
            if callable(counts):
                totals.update(counts())
        return totals

    def close(self) -> None:
        """At a clean stop, in the reverse order of their building: the services that hold something, then the
        process layer (its warm monitor process)."""
        for service in reversed(list(self.services.values())):
            close = getattr(service, "close", None)
            if callable(close):
                close()
        self.processes.close()
        self._release_storage_mounts()

    def _release_storage_mounts(self) -> None:
        """The storage mounts moord made at start, unless a root is still mounted in them."""
        if self._hide_roots:
            storagemounts.release(self.config.data_root, self.config.drivers["storage"].driver)
