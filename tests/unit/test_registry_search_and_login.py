"""RegistrySearch and RegistryLogin against fake registry clients: Docker's shapes, checks and wording."""

from __future__ import annotations

from typing import Any

import pytest

from moor.errors import InvalidParameter, RegistryUnreachable, Unauthorized
from moor.registry.authconfig import AuthConfig
from moor.registry.endpoints import Endpoint
from moor.registry.settings import RegistrySettings
from moor.services.registry.login import RegistryLogin
from moor.services.registry.search import RegistrySearch, split_search_term

HUB_ENTRY = {"star_count": 9000, "is_official": True, "name": "nginx", "is_automated": False,
             "description": "Official build of Nginx."}


class FakeSearchClient:
    def __init__(self, endpoint: Endpoint, credentials: AuthConfig | None, hub: list[dict[str, object]] | None,
                 catalog: list[str], down: set[str], asked: list[tuple[str, Any]]) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self.hub = hub
        self.repositories = catalog
        self.down = down
        self.asked = asked

    def _reach(self) -> None:
        if self.endpoint.base_url.split(":", 1)[0] in self.down:
            raise RegistryUnreachable(f'Get "{self.endpoint.base_url}/v2/": connection refused')

    def search_v1(self, term: str, limit: int = 25) -> list[dict[str, object]] | None:
        self._reach()
        self.asked.append(("search", (self.endpoint.base_url, term, limit)))
        return None if self.hub is None else self.hub[:limit]

    def catalog(self, limit: int = 0) -> list[str]:
        self._reach()
        self.asked.append(("catalog", limit))
        return self.repositories


def searcher(hub: list[dict[str, object]] | None = None, catalog: list[str] | None = None,
             down: set[str] | None = None) -> tuple[RegistrySearch, list[tuple[str, Any]]]:
    asked: list[tuple[str, Any]] = []
    service = RegistrySearch(RegistrySettings(), client_factory=lambda endpoint, credentials: FakeSearchClient(
        endpoint, credentials, hub, catalog or [], down or set(), asked))
    return service, asked


def test_hub_results_in_docker_shape_and_order() -> None:
    service, asked = searcher(hub=[HUB_ENTRY, {"name": "user/nginx", "star_count": 3}])
    found = service.search("nginx", 25, {}, AuthConfig())
    assert not found.from_catalog
    assert [list(r) for r in found.results] == [["star_count", "is_official", "name", "is_automated",
                                                  "description"]] * 2
    assert found.results[0] == HUB_ENTRY
    assert found.results[1] == {"star_count": 3, "is_official": False, "name": "user/nginx",
                                "is_automated": False, "description": ""}
    assert asked == [("search", ("https://registry-1.docker.io", "nginx", 25))]


def test_official_prefix_is_dropped_on_docker_hub() -> None:
    service, asked = searcher(hub=[])
    service.search("library/nginx", 10, {}, AuthConfig())
    assert asked[0][1][1] == "nginx"


def test_filters_apply_after_the_limit() -> None:
    entries: list[dict[str, object]] = [
        {"name": "a", "star_count": 5, "is_official": True},
        {"name": "b", "star_count": 50, "is_automated": True},
        {"name": "c", "star_count": 500},
    ]
    service, _ = searcher(hub=entries)
    names = lambda filters, limit=25: [r["name"] for r in service.search("x", limit, filters, AuthConfig()).results]  # noqa: E731
    assert names({"stars": ["10"]}) == ["b", "c"]
    assert names({"stars": ["10", "100"]}) == ["c"]  # the largest wins, as Docker
    assert names({"is-official": ["true"]}) == ["a"]
    assert names({"is-official": ["false"]}) == ["b", "c"]
    assert names({"is-automated": ["true"]}) == ["b"]
    assert names({"stars": ["10"]}, limit=1) == []


@pytest.mark.parametrize(("filters", "message"), [
    ({"name": ["x"]}, "invalid filter 'name'"),
    ({"stars": ["many"]}, "Invalid filter 'stars=many'"),
    ({"stars": ["1_0"]}, "Invalid filter 'stars=1_0'"),
    ({"is-official": ["yes"]}, "Invalid filter 'is-official=[yes]'"),
    ({"is-automated": ["true", "false"]}, "Invalid filter 'is-automated=[false true]'"),
])
def test_bad_filters_are_docker_errors(filters: dict[str, list[str]], message: str) -> None:
    service, asked = searcher(hub=[])
    with pytest.raises(InvalidParameter) as caught:
        service.search("x", 25, filters, AuthConfig())
    assert caught.value.message == message and asked == []


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_limit_outside_docker_range(limit: int) -> None:
    service, asked = searcher(hub=[])
    with pytest.raises(InvalidParameter) as caught:
        service.search("x", limit, {}, AuthConfig())
    assert caught.value.message == f"Limit {limit} is outside the range of [1, 100]" and asked == []


def test_a_scheme_in_the_term_is_refused() -> None:
    service, _ = searcher(hub=[])
    with pytest.raises(InvalidParameter, match="Invalid repository name"):
        service.search("https://127.0.0.1:5000/app", 25, {}, AuthConfig())


def test_a_registry_without_search_is_searched_through_its_catalog() -> None:
    service, asked = searcher(hub=None, catalog=["app", "team/app-server", "other", "APPLE"])
    found = service.search("127.0.0.1:5000/app", 25, {}, AuthConfig())
    assert found.from_catalog
    assert [r["name"] for r in found.results] == ["127.0.0.1:5000/app", "127.0.0.1:5000/team/app-server",
                                                   "127.0.0.1:5000/APPLE"]
    assert found.results[0] == {"star_count": 0, "is_official": False, "name": "127.0.0.1:5000/app",
                                "is_automated": False, "description": ""}
    assert asked[0] == ("search", ("https://127.0.0.1:5000", "app", 25))
    assert service.search("127.0.0.1:5000/app", 1, {}, AuthConfig()).results[0]["name"] == "127.0.0.1:5000/app"
    assert service.search("127.0.0.1:5000/app", 25, {"is-official": ["true"]}, AuthConfig()).results == []


def test_search_falls_back_to_http_for_an_insecure_registry() -> None:
    service, asked = searcher(hub=None, catalog=["app"], down={"https"})
    assert service.search("127.0.0.1:5000/app", 25, {}, AuthConfig()).from_catalog
    assert asked[0][1][0] == "http://127.0.0.1:5000"
    service, _ = searcher(hub=None, down={"https", "http"})
    with pytest.raises(RegistryUnreachable):
        service.search("127.0.0.1:5000/app", 25, {}, AuthConfig())


def test_split_search_term() -> None:
    assert split_search_term("nginx") == ("docker.io", "nginx")
    assert split_search_term("user/nginx") == ("docker.io", "user/nginx")
    assert split_search_term("localhost/app") == ("localhost", "app")
    assert split_search_term("127.0.0.1:5000/team/app") == ("127.0.0.1:5000", "team/app")


# ---------------------------------------------------------------------------------------------- login


class FakeLoginClient:
    def __init__(self, endpoint: Endpoint, credentials: AuthConfig, down: set[str], token: str,
                 seen: list[str]) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self.down = down
        self.token = token
        seen.append(endpoint.base_url)

    def check_login(self) -> str:
        if self.endpoint.base_url.split(":", 1)[0] in self.down:
            raise RegistryUnreachable(f'Get "{self.endpoint.base_url}/v2/": connection refused')
        if self.credentials.password != "secret":
            raise Unauthorized(f"login attempt to {self.endpoint.base_url}/v2/ failed with status: 401 Unauthorized")
        return self.token


def login(auth: AuthConfig, down: set[str] | None = None, token: str = "") -> tuple[dict[str, str], list[str]]:
    seen: list[str] = []
    service = RegistryLogin(RegistrySettings(), client_factory=lambda endpoint, credentials: FakeLoginClient(
        endpoint, credentials, down or set(), token, seen))
    return service.login(auth), seen


def test_login_succeeds_with_docker_answer() -> None:
    answer, seen = login(AuthConfig(username="u", password="secret", serveraddress="127.0.0.1:5000"))
    assert answer == {"Status": "Login Succeeded", "IdentityToken": ""}
    assert list(answer) == ["IdentityToken", "Status"]  # as dockerd writes it
    assert seen == ["https://127.0.0.1:5000"]


def test_login_gives_the_refresh_token() -> None:
    answer, _ = login(AuthConfig(username="u", password="secret", serveraddress="127.0.0.1:5000"), token="rt")
    assert answer["IdentityToken"] == "rt"


def test_login_to_docker_hub_by_default() -> None:
    _, seen = login(AuthConfig(username="u", password="secret"))
    assert seen == ["https://registry-1.docker.io"]
    _, seen = login(AuthConfig(username="u", password="secret", serveraddress="https://index.docker.io/v1/"))
    assert seen == ["https://registry-1.docker.io"]


def test_login_falls_back_to_http_but_not_past_a_refusal() -> None:
    answer, seen = login(AuthConfig(username="u", password="secret", serveraddress="http://127.0.0.1:5000"),
                         down={"https"})
    assert answer["Status"] == "Login Succeeded" and seen == ["https://127.0.0.1:5000", "http://127.0.0.1:5000"]
    with pytest.raises(Unauthorized, match="failed with status: 401 Unauthorized"):
        login(AuthConfig(username="u", password="wrong", serveraddress="127.0.0.1:5000"))
    with pytest.raises(RegistryUnreachable):
        login(AuthConfig(username="u", password="secret", serveraddress="127.0.0.1:5000"), down={"https", "http"})
