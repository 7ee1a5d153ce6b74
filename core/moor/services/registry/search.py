"""``GET /images/search``: Docker Hub's search, or a v2 registry's catalog when it has no search.

The term names the registry as a reference does (``127.0.0.1:5000/app`` searches ``app`` there; a term
without a registry searches Docker Hub). A registry answering ``/v1/search`` gives its results; one that
does not (distribution, the usual private registry) is searched through ``/v2/_catalog``: the
repositories whose name contains the term, named with the registry (``127.0.0.1:5000/app``) so that they
can be pulled as printed. :class:`SearchResults` says which it was (the route tells the client in a
header). ``limit`` and the ``stars``/``is-official``/``is-automated`` filters work as Docker's, with its
error messages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from moor.errors import InvalidParameter, RegistryUnreachable
from moor.images.reference import DEFAULT_DOMAIN, OFFICIAL_PREFIX
from moor.registry.authconfig import AuthConfig
from moor.registry.client import RegistryClient
from moor.registry.endpoints import Endpoint, push_endpoints
from moor.registry.settings import RegistrySettings

log = logging.getLogger(__name__)

#: Docker's bounds on ``limit``.
MIN_LIMIT, MAX_LIMIT = 1, 100
#: A catalog is read up to this many repositories to find the ones matching a term.
CATALOG_SCAN = 10000
ACCEPTED_FILTERS = ("is-automated", "is-official", "stars")
_ATOI = re.compile(r"[+-]?[0-9]{1,18}\Z")


class SearchClient(Protocol):
    """What a search asks of a registry client (:class:`moor.registry.client.RegistryClient`)."""

    def search_v1(self, term: str, limit: int = 25) -> list[dict[str, object]] | None: ...

    def catalog(self, limit: int = 0) -> list[str]: ...


#: Makes the client of one endpoint with the credentials given.
SearchClientFactory = Callable[[Endpoint, "AuthConfig | None"], SearchClient]


@dataclass(frozen=True)
class SearchResults:
    """Docker Hub's result objects, and whether they came from the registry's catalog."""

    results: list[dict[str, Any]]
    from_catalog: bool = False


@dataclass(frozen=True)
class _Filters:
    automated: bool | None
    official: bool | None
    stars: int

    def keep(self, result: dict[str, Any]) -> bool:
        return (self.automated is None or result["is_automated"] == self.automated) and \
            (self.official is None or result["is_official"] == self.official) and result["star_count"] >= self.stars


class RegistrySearch:
    """Searches a registry for repositories."""

    def __init__(self, settings: RegistrySettings, client_factory: SearchClientFactory | None = None) -> None:
        self.settings = settings
        self.connect: SearchClientFactory = client_factory if client_factory is not None else self._client

    def _client(self, endpoint: Endpoint, credentials: AuthConfig | None) -> SearchClient:
        return RegistryClient(endpoint, "", credentials, actions=(), settings=self.settings)

    def search(self, term: str, limit: int, filters: dict[str, list[str]], auth: AuthConfig) -> SearchResults:
        """Up to ``limit`` repositories matching ``term``, then filtered (Docker filters after the limit)."""
        wanted = check_filters(filters)
        if "://" in term:
            raise InvalidParameter('Invalid repository name (ex: "registry.domain.tld/myrepos")')
        domain, remote = split_search_term(term)
        if domain == DEFAULT_DOMAIN and remote.startswith(OFFICIAL_PREFIX):
            remote = remote[len(OFFICIAL_PREFIX):]
        if not MIN_LIMIT <= limit <= MAX_LIMIT:
            raise InvalidParameter(f"Limit {limit} is outside the range of [{MIN_LIMIT}, {MAX_LIMIT}]")
        credentials = None if auth.empty else auth
        endpoints = push_endpoints(self.settings, domain)
        for number, endpoint in enumerate(endpoints):
            client = self.connect(endpoint, credentials)
            try:
                found = client.search_v1(remote, limit)
                if found is not None:
                    results = [hub_result(entry) for entry in found][:limit]
                    return SearchResults([r for r in results if wanted.keep(r)])
                names = [name for name in client.catalog(CATALOG_SCAN) if remote.lower() in name.lower()]
            except RegistryUnreachable:
                if number == len(endpoints) - 1:
                    raise
                log.info("search: %s does not answer, trying the next endpoint", endpoint.base_url)
                continue
            results = [catalog_result(domain, name) for name in names[:limit]]
            return SearchResults([r for r in results if wanted.keep(r)], from_catalog=True)
        raise RegistryUnreachable(f"no endpoint for registry {domain}")


def split_search_term(term: str) -> tuple[str, str]:
    """Docker's ``splitReposSearchTerm``: (registry domain, the term to search there)."""
    first, sep, rest = term.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        return DEFAULT_DOMAIN, term
    return first, rest


def check_filters(filters: dict[str, list[str]]) -> _Filters:
    """Docker's search filters, refused with its words: ``invalid filter 'x'``, ``Invalid filter 'stars=a'``."""
    for key in filters:
        if key not in ACCEPTED_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
    flags: dict[str, bool | None] = {}
    for key in ("is-automated", "is-official"):
        if key not in filters:
            flags[key] = None
            continue
        values = sorted(set(filters[key]))
        if values == ["true"]:
            flags[key] = True
        elif values == ["false"]:
            flags[key] = False
        else:
            raise InvalidParameter(f"Invalid filter '{key}=[{' '.join(values)}]'")
    stars = 0
    for value in filters.get("stars", []):
        if not _ATOI.match(value):  # Go's strconv.Atoi: no spaces, no underscores
            raise InvalidParameter(f"Invalid filter 'stars={value}'")
        stars = max(stars, int(value))
    return _Filters(flags["is-automated"], flags["is-official"], stars)


def hub_result(entry: dict[str, object]) -> dict[str, Any]:
    """One ``/v1/search`` result in Docker's ``SearchResult`` shape and field order (missing: zero values)."""
    stars = entry.get("star_count")
    return {
        "star_count": stars if isinstance(stars, int) and not isinstance(stars, bool) else 0,
        "is_official": entry.get("is_official") is True,
        "name": str(entry.get("name") or ""),
        "is_automated": entry.get("is_automated") is True,
        "description": str(entry.get("description") or ""),
    }


def catalog_result(domain: str, repository: str) -> dict[str, Any]:
    """A catalog entry as a search result: the repository with its registry, nothing else known."""
    return {"star_count": 0, "is_official": False, "name": f"{domain}/{repository}", "is_automated": False,
            "description": ""}
