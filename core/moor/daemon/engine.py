"""The engine: the configuration, the loaded drivers and the services, wired together once."""

from __future__ import annotations

import logging
import os
import time
import uuid

from moor.config import Config
from moor.drivers import DriverSet, load_drivers
from moor.fsutil import atomic_write

log = logging.getLogger(__name__)


class Engine:
    """Everything moord serves, built from a :class:`Config`."""

    def __init__(self, config: Config, drivers: DriverSet | None = None) -> None:
        self.config = config
        self.started_at = time.time()
        os.makedirs(config.data_root, mode=0o711, exist_ok=True)
        os.makedirs(config.exec_root, mode=0o700, exist_ok=True)
        self.drivers = drivers if drivers is not None else load_drivers(config)
        self.id = self._engine_id()
        self.services: dict[str, object] = {}
        self._build_services()

    def _build_services(self) -> None:
        from moor.images.store import ImageStore
        from moor.services.container_io import ContainerIO
        from moor.services.containers import ContainerService
        from moor.services.events import EventBus
        from moor.services.image_transfer import ImageTransfer
        from moor.services.images import ImageService
        from moor.services.networks import NetworkService
        from moor.services.volumes import VolumeService

        self.events = EventBus()
        images = ImageService(ImageStore(os.path.join(self.config.data_root, "image"), self.drivers.storage))
        self.images = images
        self.transfer = ImageTransfer(images)
        self.volumes = VolumeService(self.config.data_root, self.drivers, self.events)
        self.networks = NetworkService(self.config.data_root, self.drivers, self.events)
        self.containers = ContainerService(self.config, self.drivers, images, self.events, self.volumes,
                                           networks=self.networks)
        self.container_io = ContainerIO(self.containers)
        self.containers.pending_attaches = self.container_io.take_pending
        from moor.services.health import HealthChecker

        self.health = HealthChecker(self.containers, self.container_io)
        self.containers.on_started = self.health.watch
        self.services["images"] = images
        self.services["containers"] = self.containers
        self.services["volumes"] = self.volumes
        self.containers.recover()
        images.recover()

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
        for service in reversed(list(self.services.values())):
            close = getattr(service, "close", None)
            if callable(close):
                close()
        from moor.containers.launch import ZYGOTE

        ZYGOTE.close()
