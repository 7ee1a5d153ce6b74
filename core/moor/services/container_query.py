"""Read-only questions about the container store: a container by name or ID, and who uses an image,
a layer or a volume.

The image and volume services must refuse to remove what a container uses, the container
networking looks containers up, and the container service uses all of them: to keep those
cycles out of the services, the engine builds this query over the
:class:`~moor.containers.record.ContainerStore` first and gives it to the image service
(:class:`~moor.services.images.ImageUsers`), the volume service
(:class:`~moor.services.volumes.VolumeUsers`) and the container networking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.containers.mountpoints import references
from moor.errors import InvalidParameter, NotFound
from moor.services.images import ImageUser

if TYPE_CHECKING:
    from moor.containers.record import Container, ContainerStore


def get_container(store: ContainerStore, ident: str) -> Container:
    """The container by full or short ID or name in ``store``; NotFound in Docker's words (an empty ``ident``
    is a 400, as in Docker: it names nothing)."""
    if not ident:
        raise InvalidParameter('invalid name or ID supplied: ""')
    container = store.find(ident)
    if container is None:
        raise NotFound(f"No such container: {ident}")
    return container


class ContainerQuery:
    """Answers from the container records; users count running or not (as Docker counts them)."""

    def __init__(self, store: ContainerStore) -> None:
        self.store = store

    def get(self, ident: str) -> Container:
        """The container by full or short ID or name; NotFound in Docker's words."""
        return get_container(self.store, ident)

    def image_users(self, image_id: str) -> list[ImageUser]:
        """The containers made from the image ``image_id``."""
        return [ImageUser(c.id, c.state.Running) for c in self.store.all() if c.image_id == image_id]

    def layer_in_use(self, key: str) -> bool:
        """Whether a container snapshot sits on the layer ``key``: never by itself, as the snapshots sit on
        image layers that their images keep (and the storage driver refuses the removal anyway)."""
        return False

    def volume_users(self, name: str) -> list[str]:
        """IDs of the containers whose mounts reference the volume ``name``."""
        return [c.id for c in self.store.all() if references(c.mounts, name)]
