"""Image archive formats: ``docker load`` input and ``docker save`` output.

The image store uses exactly this interface:

* :func:`spool_archive` extracts an untrusted archive stream (docker-save or OCI
  image layout tar, plain or compressed) into an empty work directory;
* :func:`read_archive` parses the work directory into :class:`ArchiveImage`
  values (config bytes, layer files, tags), verifying every known digest;
* :func:`open_layer` opens one layer file as a stream of its uncompressed tar;
* :func:`write_docker_archive` streams :class:`SaveImage` values out as
  Docker 20.10's ``docker save`` writes them.

The pieces live in small modules: :mod:`~moor.images.archive_spool`,
:mod:`~moor.images.archive_read`, :mod:`~moor.images.archive_write`,
:mod:`~moor.images.archive_v1` (legacy v1 IDs) and
:mod:`~moor.images.compression` (magic-byte detection and the decompression
bomb guard, whose limits ``BOMB_RATIO`` and ``BOMB_MIN_BYTES`` live there).
"""

from __future__ import annotations

from moor.images import archive_read
from moor.images.archive_legacy import is_legacy, read_legacy
from moor.images.archive_read import ArchiveImage, ArchiveLayer, archive_kind
from moor.images.archive_spool import spool_archive
from moor.images.archive_write import SaveImage, SaveLayer, write_docker_archive
from moor.images.compression import open_layer

__all__ = [
    "ArchiveImage",
    "ArchiveLayer",
    "SaveImage",
    "SaveLayer",
    "archive_kind",
    "open_layer",
    "read_archive",
    "spool_archive",
    "write_docker_archive",
]


def read_archive(workdir: str) -> list[ArchiveImage]:
    """The images of the archive spooled into ``workdir``: docker-save, OCI layout or legacy v1."""
    if is_legacy(workdir):
        return read_legacy(workdir)
    return archive_read.read_archive(workdir)
