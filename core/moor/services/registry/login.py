"""``POST /auth``: check credentials against a registry, as ``docker login`` asks the daemon to.

The server address names the registry (``https://index.docker.io/v1/`` or empty: Docker Hub); its own
endpoints are tried in order (never a mirror: credentials are not a mirror's business), https first, plain
http after for an insecure registry that cannot be reached over https. The answer is Docker's
``{"Status": "Login Succeeded", "IdentityToken": ...}``, the token being the refresh token a token server
handed out, if any; a refusal is :class:`moor.errors.Unauthorized` with the registry's words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from moor.errors import RegistryUnreachable
from moor.registry.authconfig import AuthConfig
from moor.registry.client import RegistryClient
from moor.registry.endpoints import Endpoint, domain_of_server_address, push_endpoints
from moor.registry.settings import RegistrySettings

log = logging.getLogger(__name__)


class LoginClient(Protocol):
    """What a login asks of a registry client (:class:`moor.registry.client.RegistryClient`)."""

    def check_login(self) -> str: ...


#: Makes the client that checks ``credentials`` on one endpoint.
LoginClientFactory = Callable[[Endpoint, AuthConfig], LoginClient]


class RegistryLogin:
    """Checks credentials; keeps nothing (the client stores them, as Docker's CLI does)."""

    def __init__(self, settings: RegistrySettings, client_factory: LoginClientFactory | None = None) -> None:
        self.settings = settings
        self.connect: LoginClientFactory = client_factory if client_factory is not None else self._client

    def _client(self, endpoint: Endpoint, credentials: AuthConfig) -> LoginClient:
        return RegistryClient(endpoint, "", credentials, actions=(), settings=self.settings)

    def login(self, auth: AuthConfig) -> dict[str, str]:
        """Docker's ``AuthenticateOKBody`` for good credentials; :class:`Unauthorized` for bad ones."""
        domain = domain_of_server_address(auth.serveraddress)
        endpoints = push_endpoints(self.settings, domain)
        for number, endpoint in enumerate(endpoints):
            try:
                token = self.connect(endpoint, auth).check_login()
            except RegistryUnreachable:
                if number == len(endpoints) - 1:
                    raise
                log.info("login: %s does not answer, trying the next endpoint", endpoint.base_url)
                continue
            return {"IdentityToken": token, "Status": "Login Succeeded"}  # the order of Docker's answer
        raise RegistryUnreachable(f"no endpoint for registry {domain}")
