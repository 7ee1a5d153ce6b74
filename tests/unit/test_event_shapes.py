"""Events as Docker 20.10 publishes them (checked with ``docker events --format '{{json .}}'`` on dockerd):
image tag, untag, delete and prune, prune events without id, exec actions."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from moor.images.store import ImageStore
from moor.services.container_io import exec_words
from moor.services.events import EventBus
from moor.services.image_transfer import ImageTransfer
from moor.services.images import ImageService
from moor.testing.fakes import add_image, fake_drivers, layer_tar


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def service(tmp_path: Path, bus: EventBus) -> ImageService:
    drivers = fake_drivers(tmp_path / "drivers")
    return ImageService(ImageStore(str(tmp_path / "image"), drivers.storage), None, bus)


def image_events(bus: EventBus) -> list[dict[str, Any]]:
    past, channel = bus.subscribe()
    bus.unsubscribe(channel)
    return [e for e in past if e["Type"] == "image"]


def test_tag_then_rmi_of_one_of_two_tags_untags_only(service: ImageService, bus: EventBus) -> None:
    image = add_image(service.store, "busybox:latest")
    service.tag("busybox:latest", "bb2", "one")
    service.remove("bb2:one")
    tag, untag = image_events(bus)
    assert (tag["status"], tag["id"], tag["Action"], tag["Actor"]) == (
        "tag", image.id, "tag", {"ID": image.id, "Attributes": {"name": "bb2:one"}})
    assert "from" not in tag
    assert (untag["Action"], untag["Actor"]) == ("untag", {"ID": image.id, "Attributes": {"name": image.id}})


def test_rmi_of_the_last_tag_untags_then_deletes(service: ImageService, bus: EventBus) -> None:
    image = add_image(service.store, "busybox:latest")
    service.remove("busybox:latest")
    assert [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in image_events(bus)] == [
        ("untag", image.id), ("delete", image.id)]


def test_image_prune_publishes_a_prune_without_id(service: ImageService, bus: EventBus) -> None:
    service.prune(all_images=False, filters={})
    (prune,) = image_events(bus)
    assert prune["Action"] == prune["status"] == "prune" and "id" not in prune
    assert prune["Actor"] == {"ID": "", "Attributes": {"reclaimed": "0"}}


def test_a_container_prune_event_has_a_status_but_no_id_or_from(bus: EventBus) -> None:
    bus.publish("container", "prune", "", {"reclaimed": "0"})
    event = bus.subscribe()[0][-1]
    assert event["status"] == "prune" and "id" not in event and "from" not in event


@pytest.mark.parametrize(("command", "words"), [(["true"], "true "), (["sh", "-c", "x y"], "sh -c x y")])
def test_exec_events_name_the_program_then_its_arguments(command: list[str], words: str) -> None:
    assert exec_words(command) == words


def test_save_load_and_import_publish_one_event_an_image(service: ImageService, bus: EventBus) -> None:
    transfer = ImageTransfer(service)
    image = add_image(service.store, "lab:1", config={"Cmd": ["sh"], "Labels": {"a": "b"}})
    service.tag("lab:1", "lab", "2")
    archive = io.BytesIO()
    transfer.save(["lab:1", "lab:2"], archive)
    service.remove(image.id, force=True)
    archive.seek(0)
    transfer.load(archive)
    imported = transfer.import_tarball(io.BytesIO(layer_tar({"bin/sh": b"#!fake\n"})), "imp", "1", [], "")
    events = [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]) for e in image_events(bus)]
    labelled = {"a": "b", "name": image.id}
    assert events == [
        ("tag", image.id, {"a": "b", "name": "lab:2"}), ("save", image.id, labelled),
        ("untag", image.id, labelled), ("untag", image.id, labelled), ("delete", image.id, {"name": image.id}),
        ("load", image.id, labelled),
        ("tag", imported.id, {"name": "imp:1"}), ("import", imported.id, {"name": imported.id}),
    ]
