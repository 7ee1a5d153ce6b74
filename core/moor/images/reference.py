"""Image references with Docker's grammar and normalisation.

``busybox`` is ``docker.io/library/busybox:latest``; ``localhost:5000/a/b@sha256:...``
names a repository on a registry with a digest. The first path component is
a registry domain when it contains ``.`` or ``:``, is ``localhost``, or has
upper-case letters; otherwise the name lives on ``docker.io``, and a
one-component name there gets ``library/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import re2  # type: ignore[import-untyped]

from moor.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
# Matched with RE2 (linear time, Go's syntax, as Docker's reference package): with Python's re the nested
# repetition in _COMPONENT backtracks exponentially ("a" * 30 + "!" took minutes).
_REFERENCE = re2.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_ANY_CASE = re2.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?[a-zA-Z0-9._/-]+?)(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
HEX64 = re.compile(r"^[a-f0-9]{64}\Z")
_TAG_ONLY = re2.compile(rf"^{_TAG}$")


@dataclass(frozen=True)
class Reference:
    """A normalised reference: full repository name, optional tag and digest."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """``busybox``, ``user/app`` or ``localhost:5000/app``, as Docker prints repositories."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path[len(OFFICIAL_PREFIX):] if self.path.startswith(OFFICIAL_PREFIX) else self.path
        return self.name

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        """The familiar form with tag or digest: ``busybox:latest``."""
        text = self.familiar_name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, "")


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse and normalise ``text``; add ``latest`` when neither tag nor digest is given.

    :raises InvalidParameter: with Docker's wording (``invalid reference format``).
    """
    match = _REFERENCE.match(text)
    if not match:
        loose = _ANY_CASE.match(text)
        if loose and loose.group("name").lower() != loose.group("name") and _REFERENCE.match(
            _lower_path(loose.group("name")) + text[len(loose.group("name")):]
        ):
            raise InvalidParameter(f"invalid reference format: repository name ({text}) must be lowercase")
        raise InvalidParameter(f"invalid reference format: {text!r}" if text else "invalid reference format")
    name = match.group("name")
    if len(name) > NAME_MAX:
        raise InvalidParameter(f"invalid reference format: repository name must not be more than {NAME_MAX} characters")
    domain, path = _split_domain(name)
    tag = match.group("tag") or ""
    digest = match.group("digest") or ""
    if not tag and not digest and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def _lower_path(name: str) -> str:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return f"{first}/{rest.lower()}"
    return name.lower()


def parse_repository_and_tag(repo: str, tag: str) -> Reference:
    """The ``repo`` and ``tag`` query parameters of ``POST /images/{name}/tag`` and import."""
    if HEX64.match(repo):
        raise InvalidParameter(f"invalid repository name ({repo}), cannot specify 64-byte hexadecimal strings")
    reference = parse(repo, default_tag=False)
    if reference.digest:
        raise InvalidParameter("refusing to create a tag with a digest reference")
    if tag:
        if not _TAG_ONLY.match(tag):
            raise InvalidParameter(f"invalid tag format: {tag!r}")
        return reference.with_tag(tag)
    return reference if reference.tag else reference.with_tag(DEFAULT_TAG)


def familiar(text: str) -> str:
    """Normalise then print familiar: ``docker.io/library/busybox:latest`` -> ``busybox:latest``."""
    return parse(text).familiar
