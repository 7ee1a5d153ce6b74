"""Digest references (``repo@sha256:...``, set by pull and push): RepoDigests, and ``rmi`` as Docker 20.10
does it (a digest goes with the last tag of its repository; an image named by one tag and its digests
counts as singly referenced)."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from moor.errors import Conflict
from moor.images import reference, views
from moor.images.store import ImageRecord, ImageStore
from moor.services.images import ImageService, ImageUser, single_reference
from moor.testing.fakes import add_image, fake_drivers

DIGEST = "sha256:" + "d" * 64
OTHER_DIGEST = "sha256:" + "e" * 64


class OneUser:
    def __init__(self, image_id: str) -> None:
        self.image_id = image_id

    def image_users(self, image_id: str) -> builtins.list[ImageUser]:
        return [ImageUser("c" * 64, running=False)] if image_id == self.image_id else []

    def layer_in_use(self, key: str) -> bool:
        return False


@pytest.fixture
def service(tmp_path: Path) -> ImageService:
    drivers = fake_drivers(tmp_path / "drivers")
    return ImageService(ImageStore(str(tmp_path / "image"), drivers.storage))


def pulled(service: ImageService, name: str = "busybox:latest", digest: str = DIGEST) -> ImageRecord:
    image = add_image(service.store, name)
    repository = reference.parse(name).name
    service.store.set_ref(f"{repository}@{digest}", image.id)
    return image


def test_repo_digests_show_in_inspect_and_list(service: ImageService) -> None:
    image = pulled(service, "127.0.0.1:5000/team/app:v1")
    assert views.inspect(service, image, {})["RepoDigests"] == [f"127.0.0.1:5000/team/app@{DIGEST}"]
    assert views.summary(service, image)["RepoDigests"] == [f"127.0.0.1:5000/team/app@{DIGEST}"]
    assert service.resolve(f"127.0.0.1:5000/team/app@{DIGEST}").id == image.id


def test_rmi_of_the_last_tag_takes_the_digests_of_its_repository_and_the_image(service: ImageService) -> None:
    image = pulled(service)
    report = service.remove("busybox:latest")
    assert report[:2] == [{"Untagged": "busybox:latest"}, {"Untagged": f"busybox@{DIGEST}"}]
    assert {"Deleted": image.id} in report
    assert service.store.get(image.id) is None


def test_rmi_by_digest_untags_that_digest_only(service: ImageService) -> None:
    image = pulled(service)
    assert service.remove(f"busybox@{DIGEST}") == [{"Untagged": f"busybox@{DIGEST}"}]
    assert service.tags_of(image.id) == ["busybox:latest"] and service.digests_of(image.id) == []


def test_a_digest_stays_while_another_tag_of_its_repository_names_the_image(service: ImageService) -> None:
    image = pulled(service)
    service.tag(image.id, "busybox", "stable")
    service.tag(image.id, "mine", "v1")
    assert service.remove("busybox:latest") == [{"Untagged": "busybox:latest"}]
    assert service.remove("busybox:stable") == [{"Untagged": "busybox:stable"}, {"Untagged": f"busybox@{DIGEST}"}]
    assert service.tags_of(image.id) == ["mine:v1"]


def test_rmi_by_id_of_a_tag_and_its_digests_needs_no_force(service: ImageService) -> None:
    image = pulled(service)
    service.store.set_ref(f"docker.io/library/busybox@{OTHER_DIGEST}", image.id)
    report = service.remove(image.id)
    assert {"Untagged": "busybox:latest"} in report and {"Untagged": f"busybox@{OTHER_DIGEST}"} in report
    assert {"Deleted": image.id} in report


def test_rmi_by_id_of_two_repositories_still_needs_force(service: ImageService) -> None:
    image = pulled(service)
    service.tag(image.id, "mine", "v1")
    with pytest.raises(Conflict, match="referenced in multiple repositories"):
        service.remove(image.id)


def test_a_container_user_blocks_removing_the_tag_even_beside_its_digest(tmp_path: Path) -> None:
    drivers = fake_drivers(tmp_path / "drivers")
    store = ImageStore(str(tmp_path / "image"), drivers.storage)
    image = add_image(store, "busybox:latest")
    store.set_ref(f"docker.io/library/busybox@{DIGEST}", image.id)
    service = ImageService(store, OneUser(image.id))
    with pytest.raises(Conflict, match='unable to remove repository reference "busybox:latest"'):
        service.remove("busybox:latest")


@pytest.mark.parametrize(("refs", "single"), [
    ([], False),
    (["docker.io/library/a:1"], True),
    ([f"docker.io/library/a@{DIGEST}"], True),
    (["docker.io/library/a:1", f"docker.io/library/a@{DIGEST}", f"docker.io/library/a@{OTHER_DIGEST}"], True),
    ([f"docker.io/library/a@{DIGEST}", f"docker.io/library/a@{OTHER_DIGEST}"], True),
    (["docker.io/library/a:1", "docker.io/library/a:2"], False),
    (["docker.io/library/a:1", f"docker.io/library/b@{DIGEST}"], False),
    ([f"docker.io/library/a@{DIGEST}", f"docker.io/library/b@{DIGEST}"], False),
])
def test_single_reference_is_dockers(refs: list[str], single: bool) -> None:
    assert single_reference(refs) is single


def test_an_image_pulled_by_digest_is_listed_as_docker_lists_it(service: ImageService) -> None:
    image = pulled(service)
    service.store.remove_ref("docker.io/library/busybox:latest")  # as after `pull busybox@sha256:...`
    row = views.summary(service, image)
    assert row["RepoTags"] == [] and row["RepoDigests"] == [f"busybox@{DIGEST}"]
    assert [i.id for i in service.list(filters={"dangling": ["true"]})] == [image.id]  # untagged: dangling
    assert [i.id for i in service.list(filters={"dangling": ["false"]})] == [image.id]  # ... and listed as not too
    tagged = add_image(service.store, "tagged:1", files={"t": "t\n"})
    assert tagged.id not in [i.id for i in service.list(filters={"dangling": ["true"]})]


def test_prune_takes_an_image_pulled_by_digest_as_docker_does(service: ImageService) -> None:
    image = pulled(service)
    service.store.remove_ref("docker.io/library/busybox:latest")
    kept = add_image(service.store, "kept:1", files={"k": "k\n"})
    report = service.prune(all_images=False, filters={})
    assert {"Untagged": f"busybox@{DIGEST}"} in report["ImagesDeleted"]
    assert {"Deleted": image.id} in report["ImagesDeleted"]
    assert service.store.get(image.id) is None and service.store.get(kept.id) is not None
