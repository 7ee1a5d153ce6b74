"""The registry client as pull and distribution inspect see it, and the endpoint fallback they share.

:class:`RegistryAPI` is the part of :class:`moor.registry.client.RegistryClient` these services call;
unit tests pass a :data:`ClientFactory` making in-memory fakes. :class:`EndpointChain` tries the
endpoints of a registry in order (its mirrors, then https, then plain http for an insecure one): a
mirror that fails in any way is skipped, the registry's https endpoint is skipped only when it cannot
be reached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from moor.errors import MoorError, RegistryUnreachable
from moor.images.reference import Reference
from moor.registry.authconfig import AuthConfig
from moor.registry.client import RegistryClient
from moor.registry.endpoints import Endpoint, pull_endpoints
from moor.registry.manifests import Descriptor
from moor.registry.settings import RegistrySettings
from moor.services.registry.downloads import BlobStream

log = logging.getLogger(__name__)

T = TypeVar("T")


class FetchedManifestLike(Protocol):
    """A manifest as the registry sent it."""

    @property
    def media_type(self) -> str: ...

    @property
    def data(self) -> bytes: ...

    @property
    def digest(self) -> str: ...


class RegistryAPI(Protocol):
    """What pull and distribution inspect ask of a registry client (one repository on one endpoint)."""

    def get_manifest(self, reference: str) -> FetchedManifestLike: ...

    def head_manifest(self, reference: str) -> Descriptor | None: ...

    def open_blob(self, digest: str, offset: int = 0) -> BlobStream: ...

    def tags(self) -> list[str]: ...

    def close(self) -> None: ...


#: Makes the client of one repository on one endpoint: (endpoint, repository path, credentials, the
#: repository's familiar name for messages) -> client.
ClientFactory = Callable[[Endpoint, str, "AuthConfig | None", str], RegistryAPI]


def default_client_factory(settings: RegistrySettings) -> ClientFactory:
    """Pull clients of :class:`moor.registry.client.RegistryClient` (thread-safe: one per endpoint)."""

    def make(endpoint: Endpoint, repository: str, credentials: AuthConfig | None, name: str) -> RegistryAPI:
        return RegistryClient(endpoint, repository, credentials, ("pull",), settings, name=name)

    return make


class EndpointChain:
    """The clients of one repository on each endpoint of its registry, tried in order."""

    def __init__(self, factory: ClientFactory, settings: RegistrySettings, domain: str, repository: str,
                 auth: AuthConfig | None) -> None:
        self.domain = domain
        self.repository = repository
        self.endpoints = pull_endpoints(settings, domain)
        self._factory = factory
        self._repository = repository
        self._auth = auth if auth is not None and not auth.empty else None
        self._name = Reference(domain, repository).familiar_name
        self._clients: dict[Endpoint, RegistryAPI] = {}
        #: the endpoints still worth asking, the one that answered last first
        self.order: list[Endpoint] = list(self.endpoints)

    def client(self, endpoint: Endpoint) -> RegistryAPI:
        if endpoint not in self._clients:
            self._clients[endpoint] = self._factory(endpoint, self._repository, self._auth, self._name)
        return self._clients[endpoint]

    def close(self) -> None:
        """Let every client's connections go."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def first(self, call: Callable[[RegistryAPI], T]) -> T:
        """``call`` on the first endpoint that answers; later calls start from that endpoint."""
        failure: BaseException | None = None
        for position, endpoint in enumerate(self.order):
            try:
                result = call(self.client(endpoint))
            except MoorError as error:
                last = position == len(self.order) - 1
                if last or not (endpoint.mirror or isinstance(error, RegistryUnreachable)):
                    raise
                log.info("registry endpoint %s failed (%s): trying the next one", endpoint.base_url, error)
                failure = error
                continue
            self.order = self.order[position:]
            return result
        assert failure is not None  # the loop returns or raises unless order is empty
        raise failure

    def any(self, call: Callable[[RegistryAPI], T]) -> T:
        """``call`` on each endpoint in order until one answers (blobs: any copy of the bytes will do)."""
        failure: BaseException | None = None
        for endpoint in self.order:
            try:
                return call(self.client(endpoint))
            except MoorError as error:
                failure = error
                log.info("fetching from %s failed (%s)", endpoint.base_url, error)
        if failure is None:
            raise RegistryUnreachable("no registry endpoint to pull from")
        raise failure
