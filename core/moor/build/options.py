"""What one build is asked to do: :class:`BuildOptions`, decoded from ``POST /build`` by the API layer.

Kept free of engine imports: the route (and unit tests) make one from the query, the headers and the
secrets header; the build service (:mod:`moor.services.build`) reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from moor.registry.authconfig import AuthConfig

#: The keys of Docker Hub in a client's ``X-Registry-Config`` (the docker CLI sends the first).
DOCKER_HUB_AUTH_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass
class BuildOptions:
    """One build's parameters (the query parameters of ``POST /build`` in Docker's v1.41 API, typed).

    ``build_args`` maps a name to its value, or to None for ``--build-arg NAME`` whose value the client did not
    know (an unset variable: the ARG's default applies). ``secrets`` are the contents of ``RUN --mount=type=secret``
    files by id; ``auth`` the registry credentials by registry (``X-Registry-Config``), for FROM pulls. Sizes are
    bytes; 0 means "not set" (the daemon's default), as in Docker's API.
    """

    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    rm: bool = True
    forcerm: bool = False
    cache_from: list[str] = field(default_factory=list)
    network_mode: str = ""
    extra_hosts: list[str] = field(default_factory=list)
    platform: str = ""
    quiet: bool = False
    memory: int = 0
    memswap: int = 0
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    cpu_period: int = 0
    cpu_quota: int = 0
    shm_size: int = 0
    cpuset_mems: str = ""
    cgroup_parent: str = ""
    #: ``--ulimit``s of the RUN containers, as Docker's ``[{"Name": ..., "Soft": n, "Hard": n}]``
    ulimits: list[dict[str, object]] = field(default_factory=list)
    secrets: dict[str, bytes] = field(default_factory=dict)
    auth: dict[str, AuthConfig] = field(default_factory=dict)

    def auth_for(self, domain: str) -> AuthConfig:
        """The credentials the client gave for the registry ``domain`` (empty ones when it gave none)."""
        return find_auth(self.auth, domain)

    def host_config(self) -> dict[str, object]:
        """The resource and network part of a RUN container's HostConfig, in Docker's field names."""
        config: dict[str, object] = {}
        for key, value in (("Memory", self.memory), ("MemorySwap", self.memswap), ("CpuShares", self.cpu_shares),
                           ("CpusetCpus", self.cpuset_cpus), ("CpuPeriod", self.cpu_period),
                           ("CpuQuota", self.cpu_quota), ("ShmSize", self.shm_size),
                           ("CpusetMems", self.cpuset_mems), ("CgroupParent", self.cgroup_parent)):
            if value:
                config[key] = value
        if self.extra_hosts:
            config["ExtraHosts"] = list(self.extra_hosts)
        if self.ulimits:
            config["Ulimits"] = [dict(limit) for limit in self.ulimits]
        return config


def find_auth(auth: Mapping[str, AuthConfig], domain: str) -> AuthConfig:
    """The entry of ``auth`` for ``domain``: by its name, with or without a scheme and path; Docker Hub by any of
    its names."""
    wanted = set(DOCKER_HUB_AUTH_KEYS) if domain in DOCKER_HUB_AUTH_KEYS else {domain}
    for key, value in auth.items():
        host = key.split("://", 1)[-1].split("/", 1)[0]
        if key in wanted or host in wanted:
            return value
    return AuthConfig()
