"""Docker's reference grammar and normalisation."""

from __future__ import annotations

import pytest

from moor.errors import InvalidParameter
from moor.images import reference


@pytest.mark.parametrize(("text", "full", "familiar"), [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
    ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"),
    ("a.b/c__d-e.f", "a.b/c__d-e.f:latest", "a.b/c__d-e.f:latest"),
    ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64,
     "busybox@sha256:" + "a" * 64),
])
def test_normalisation(text: str, full: str, familiar: str) -> None:
    parsed = reference.parse(text)
    assert str(parsed) == full
    assert parsed.familiar == familiar


@pytest.mark.parametrize("text", ["", "Busybox", "busybox:", ":tag", "a//b", "-a", "a:tag:tag", "a@sha256:xyz",
                                  "a:" + "t" * 129, "x" * 256])
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid reference format"):
        reference.parse(text)


def test_uppercase_names_say_lowercase() -> None:
    with pytest.raises(InvalidParameter, match="must be lowercase"):
        reference.parse("Busybox:latest")


def test_repository_and_tag() -> None:
    assert str(reference.parse_repository_and_tag("busybox", "")) == "docker.io/library/busybox:latest"
    assert str(reference.parse_repository_and_tag("localhost:5000/x", "v2")) == "localhost:5000/x:v2"
    with pytest.raises(InvalidParameter, match="cannot specify 64-byte hexadecimal strings"):
        reference.parse_repository_and_tag("a" * 64, "")
    with pytest.raises(InvalidParameter, match="invalid tag format"):
        reference.parse_repository_and_tag("busybox", "bad tag")
