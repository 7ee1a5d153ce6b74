"""``docker import``'s image as Docker 20.10 makes it (read off a private dockerd): a zero container config
(changed by ``--change``), never a null one, and the message as the image's comment."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from moor.images import views
from moor.images.store import ImageStore
from moor.services.events import EventBus
from moor.services.image_transfer import ImageTransfer
from moor.services.images import ImageService
from moor.testing.fakes import fake_drivers, layer_tar

ZERO = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
        "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
        "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}


@pytest.fixture
def service(tmp_path: Path) -> ImageService:
    drivers = fake_drivers(tmp_path / "drivers")
    return ImageService(ImageStore(str(tmp_path / "image"), drivers.storage), None, EventBus())


def test_import_without_changes_has_a_zero_config(service: ImageService) -> None:
    image = ImageTransfer(service).import_tarball(io.BytesIO(layer_tar({"bin/sh": b"#!fake\n"})), "", "", [], "")
    shown = views.inspect(service, image, {}, version="1.41")
    assert shown["Config"] == ZERO and shown["ContainerConfig"] == ZERO
    assert shown["Comment"] == "Imported from -"
    stored = json.loads(service.store.get_blob(image.id))  # the image's JSON, as docker save writes it
    assert stored["config"] == ZERO and stored["container_config"] == ZERO and stored["comment"] == "Imported from -"


def test_import_with_changes_changes_the_zero_config(service: ImageService) -> None:
    image = ImageTransfer(service).import_tarball(io.BytesIO(layer_tar({"bin/sh": b"#!fake\n"})), "imp", "1",
                                                  ["ENV A=1", 'CMD ["sh"]'], "a message")
    shown = views.inspect(service, image, {}, version="1.41")
    assert shown["Config"] == {**ZERO, "Env": ["A=1"], "Cmd": ["sh"]}
    assert shown["Comment"] == "a message"
