"""The image service: finding, listing, tagging, removing and pruning images.

Loading, saving and importing live in :mod:`moor.services.image_transfer`.
The service is given an :class:`ImageUsers` query (the engine's
:class:`~moor.services.container_query.ContainerQuery`) so that ``rmi`` refuses an
image a container uses, as Docker does.
"""

from __future__ import annotations

import builtins
import fnmatch
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from moor.errors import Conflict, InvalidParameter, NotFound
from moor.filters import labels_match
from moor.images import reference
from moor.images.store import ImageRecord, ImageStore, chain_ids, hex_of
from moor.images.views import created_time
from moor.services.events import EventBus
from moor.timefmt import parse_timestamp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageUser:
    """A container that uses an image."""

    container_id: str
    running: bool


class ImageUsers(Protocol):
    """Who uses an image or a layer (the containers, answered from their store)."""

    def image_users(self, image_id: str) -> builtins.list[ImageUser]:
        """The containers made from the image ``image_id``."""
        ...

    def layer_in_use(self, key: str) -> bool:
        """Whether something other than images holds the layer ``key`` (its storage key)."""
        ...


class NoImageUsers:
    """Nothing uses any image (an image service without containers, as in unit tests)."""

    def image_users(self, image_id: str) -> builtins.list[ImageUser]:
        return []

    def layer_in_use(self, key: str) -> bool:
        return False


def short_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


class ImageService:
    """Owns the image store and answers every image question of the API."""

    def __init__(self, store: ImageStore, users: ImageUsers | None = None, events: EventBus | None = None) -> None:
        self.store = store
        #: who uses an image or a layer: removal refuses (or keeps) what they use
        self.usage: ImageUsers = users if users is not None else NoImageUsers()
        #: where tag, untag, delete and prune are published (a bus of its own when nobody listens)
        self.events = events if events is not None else EventBus()

    def counts(self) -> dict[str, int]:
        return {"images": len(self.store.images())}

    def recover(self) -> None:
        self.store.collect_garbage(self.usage.layer_in_use)

    # ------------------------------------------------------------------ lookup

    def resolve(self, name: str) -> ImageRecord:
        """Find an image by reference, full ID, ``sha256:`` ID or unambiguous ID prefix."""
        record = self.find(name)
        if record is None:
            raise NotFound(f"No such image: {name}")
        return record

    def find(self, name: str) -> ImageRecord | None:
        if not name:
            return None
        candidate = name[len("sha256:"):] if name.startswith("sha256:") else name
        if len(candidate) == 64 and reference.HEX64.match(candidate):
            return self.store.get("sha256:" + candidate)
        try:
            ref = reference.parse(name)
        except InvalidParameter:
            ref = None
        if ref is not None:
            image_id = self.store.refs().get(str(ref))
            if image_id is not None:
                return self.store.get(image_id)
        if len(candidate) >= 1 and all(c in "0123456789abcdef" for c in candidate) and (
                ref is None or not ref.digest):
            matches = [i for i in self.store.images() if hex_of(i.id).startswith(candidate)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"ambiguous image ID prefix {candidate!r}")
        return None

    def tags_of(self, image_id: str) -> builtins.list[str]:
        refs = [r for r, i in self.store.refs().items() if i == image_id]
        return sorted(reference.parse(r).familiar for r in refs if "@" not in r)

    def digests_of(self, image_id: str) -> builtins.list[str]:
        refs = [r for r, i in self.store.refs().items() if i == image_id]
        return sorted(reference.parse(r).familiar for r in refs if "@" in r)

    def children(self, image_id: str) -> builtins.list[ImageRecord]:
        return [i for i in self.store.images() if i.parent == image_id]

    def users(self, image_id: str) -> builtins.list[ImageUser]:
        """The containers made from the image ``image_id``, running or not."""
        return self.usage.image_users(image_id)

    def size(self, image: ImageRecord) -> int:
        return sum(layer.disk_size for layer in self.store.layer_chain(image))

    # ------------------------------------------------------------------ tag

    def tag(self, name: str, repo: str, tag: str) -> None:
        image = self.resolve(name)
        target = reference.parse_repository_and_tag(repo, tag)
        self.store.set_ref(str(target), image.id)
        self.events.publish_image(image, "tag", target.familiar)

    # ------------------------------------------------------------------ remove

    def remove(self, name: str, force: bool = False, prune: bool = True) -> builtins.list[dict[str, str]]:
        """Docker's ``DELETE /images/{name}``: untag, and delete when nothing references it."""
        image = self.resolve(name)
        report: builtins.list[dict[str, str]] = []
        by_reference = self.is_reference_to(name, image)
        refs = [r for r, i in self.store.refs().items() if i == image.id]
        users = self.users(image.id)
        if by_reference:
            ref = str(reference.parse(name))
            if single_reference(refs) and users and not force:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{name}" (must force) - container '
                    f"{users[0].container_id[:12]} is using its referenced image {short_id(image.id)}"
                )
            self.store.remove_ref(ref)
            report.append({"Untagged": reference.parse(ref).familiar})
            self.events.publish_image(image, "untag")
            remaining = [r for r in refs if r != ref]
            for digest_ref in digest_refs_left_alone(ref, remaining):  # as Docker: they go with the last tag
                self.store.remove_ref(digest_ref)
                report.append({"Untagged": reference.parse(digest_ref).familiar})
                self.events.publish_image(image, "untag")
                remaining.remove(digest_ref)
            if remaining or (users and force):
                return report
        else:
            running = [u for u in users if u.running]
            if running:
                raise Conflict(
                    f"conflict: unable to delete {short_id(image.id)} (cannot be forced) - image is being "
                    f"used by running container {running[0].container_id[:12]}"
                )
            if refs and not single_reference(refs) and not force:
                raise Conflict(
                    f"conflict: unable to delete {short_id(image.id)} (must be forced) - image is referenced "
                    "in multiple repositories"
                )
            if users and not force:
                raise Conflict(
                    f"conflict: unable to delete {short_id(image.id)} (must be forced) - image is being used by "
                    f"stopped container {users[0].container_id[:12]}"
                )
            for ref in refs:
                self.store.remove_ref(ref)
                report.append({"Untagged": reference.parse(ref).familiar})
                self.events.publish_image(image, "untag")
            if users:
                return report
        if self.children(image.id):
            return report
        report.append({"Deleted": image.id})
        for chain in self.store.delete_image(image.id, self.usage.layer_in_use):
            report.append({"Deleted": chain})
        self.events.publish("image", "delete", image.id, {"name": image.id})  # gone: no labels, as Docker's
        if prune and image.parent:
            parent = self.store.get(image.parent)
            if parent is not None and not self.tags_of(parent.id) and not self.children(parent.id) \
                    and not self.users(parent.id):
                report.extend(self.remove(parent.id, force=False, prune=True))
        return report

    def is_reference_to(self, name: str, image: ImageRecord) -> bool:
        """Whether ``name`` is a reference (a tag or digest) that names ``image``, not an ID."""
        try:
            ref = reference.parse(name)
        except InvalidParameter:
            return False
        return self.store.refs().get(str(ref)) == image.id

    # ------------------------------------------------------------------ list / prune

    def list(self, all_images: bool = False,
             filters: dict[str, builtins.list[str]] | None = None) -> builtins.list[ImageRecord]:
        filters = filters or {}
        for key in filters:
            if key not in ("dangling", "reference", "label", "before", "since"):
                raise InvalidParameter(f"invalid filter '{key}'")
        images = self.store.images()
        result = []
        for image in images:
            tags = self.tags_of(image.id)
            if not all_images and not tags and not self.digests_of(image.id) and self.children(image.id) \
                    and "dangling" not in filters:
                continue  # an intermediate image
            if not self._matches(image, tags, filters):
                continue
            result.append(image)
        result.sort(key=lambda i: (created_time(i), i.id), reverse=True)
        return result

    def _matches(self, image: ImageRecord, tags: builtins.list[str], filters: dict[str, builtins.list[str]]) -> bool:
        for value in filters.get("dangling", []):
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"Invalid filter 'dangling={value}'")
            # Docker's: untagged images are dangling, pulled by digest or not; yet one that has a digest
            # reference is also listed as not dangling
            if value.lower() in ("true", "1"):
                if tags:
                    return False
            elif not tags and not self.digests_of(image.id):
                return False
        patterns = filters.get("reference", [])
        if patterns:
            names = tags + self.digests_of(image.id)
            if not any(reference_matches_any(patterns, name) for name in names):
                return False
        if not _label_filters_match(image, {"label": filters.get("label", [])}):
            return False
        for key, keep in (("before", lambda a, b: a < b), ("since", lambda a, b: a > b)):
            for name in filters.get(key, []):
                other = self.resolve(name)
                if not keep((created_time(image), image.id), (created_time(other), other.id)):
                    return False
        return True

    def prune(self, all_images: bool, filters: dict[str, builtins.list[str]]) -> dict[str, Any]:
        deleted: builtins.list[dict[str, str]] = []
        reclaimed = 0
        for key in filters:
            if key not in ("label", "label!", "until", "dangling"):
                raise InvalidParameter(f"invalid filter '{key}'")
        if filters.get("dangling"):
            all_images = filters["dangling"][-1].lower() in ("false", "0")
        changed = True
        while changed:  # removing a child can leave its parent prunable
            changed = False
            for image in sorted(self.store.images(), key=created_time, reverse=True):
                if self.store.get(image.id) is None or self.users(image.id) or self.children(image.id):
                    continue
                if self.tags_of(image.id) and not all_images:  # untagged is dangling, digest references or not
                    continue
                if not _label_filters_match(image, filters):
                    continue
                sizes = {layer.chain_id: layer.disk_size for layer in self.store.layer_chain(image)}
                report = self.remove(image.id, force=True, prune=False)
                deleted.extend(report)
                if any("Deleted" in r for r in report):  # as Docker: the layers that went (not those kept)
                    reclaimed += sum(sizes.get(r["Deleted"], 0) for r in report if "Deleted" in r)
                    changed = True
        self.events.publish("image", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def single_reference(refs: list[str]) -> bool:
    """Docker's test before an ``rmi``: at most one tag, and every reference in that one repository (a tag and
    the digests it was pulled or pushed as count as one)."""
    if len(refs) <= 1:
        return len(refs) == 1
    parsed = [reference.parse(r) for r in refs]
    tags = [p for p in parsed if not p.digest]
    if len(tags) > 1:
        return False
    digested = {p.name for p in parsed if p.digest}
    return len(digested) == 1 and (tags[0] if tags else parsed[0]).name in digested


def digest_refs_left_alone(removed: str, remaining: list[str]) -> list[str]:
    """The digest references of ``removed``'s repository that Docker removes with it: when ``removed`` was a tag
    and no other tag of that repository names the image."""
    gone = reference.parse(removed)
    if gone.digest:
        return []
    others = [reference.parse(r) for r in remaining]
    if any(not other.digest and other.name == gone.name for other in others):
        return []
    return [r for r, other in zip(remaining, others) if other.digest and other.name == gone.name]


def _label_filters_match(image: ImageRecord, filters: dict[str, list[str]]) -> bool:
    if not labels_match((image.config.get("config") or {}).get("Labels") or {}, filters):
        return False
    return all(created_time(image) < parse_timestamp(until) for until in filters.get("until", []))


def _reference_matches(pattern: str, name: str) -> bool:
    """Docker's reference filter: a glob on the familiar name, with or without tag."""
    repository = name.split("@", 1)[0]
    repository_only = repository.rsplit(":", 1)[0] if ":" in repository.rsplit("/", 1)[-1] else repository
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(repository_only, pattern) or \
        fnmatch.fnmatchcase(repository, pattern)


def reference_matches_any(patterns: list[str], name: str) -> bool:
    return any(_reference_matches(pattern, name) for pattern in patterns)


def layer_keys(image: ImageRecord) -> list[str]:
    return [hex_of(c) for c in chain_ids(image.diff_ids)]
