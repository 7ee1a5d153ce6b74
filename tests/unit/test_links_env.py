"""Legacy links: the variables Docker 20.10 sets for ``--link srv:my-db`` (checked against dockerd 20.10)."""

from __future__ import annotations

from moor.containers.links import link_env, parse_link


def test_link_env_as_docker_sets_it() -> None:
    env = link_env("/par/my-db", "10.0.0.2", ["PATH=/bin", "HOME=/h", "A-B=x", "FOO=bar=baz", "BARE"],
                   {"80/tcp": {}, "53/udp": {}, "81/tcp": {}, "90": {}})
    assert env == [
        "MY_DB_PORT=udp://10.0.0.2:53",
        "MY_DB_PORT_53_UDP=udp://10.0.0.2:53", "MY_DB_PORT_53_UDP_ADDR=10.0.0.2", "MY_DB_PORT_53_UDP_PORT=53",
        "MY_DB_PORT_53_UDP_PROTO=udp",
        "MY_DB_PORT_80_TCP=tcp://10.0.0.2:80", "MY_DB_PORT_80_TCP_ADDR=10.0.0.2", "MY_DB_PORT_80_TCP_PORT=80",
        "MY_DB_PORT_80_TCP_PROTO=tcp",
        "MY_DB_PORT_81_TCP=tcp://10.0.0.2:81", "MY_DB_PORT_81_TCP_ADDR=10.0.0.2", "MY_DB_PORT_81_TCP_PORT=81",
        "MY_DB_PORT_81_TCP_PROTO=tcp",
        "MY_DB_PORT_90_TCP=tcp://10.0.0.2:90", "MY_DB_PORT_90_TCP_ADDR=10.0.0.2", "MY_DB_PORT_90_TCP_PORT=90",
        "MY_DB_PORT_90_TCP_PROTO=tcp",
        "MY_DB_NAME=/par/my-db", "MY_DB_ENV_A-B=x", "MY_DB_ENV_FOO=bar=baz",
    ]


def test_a_link_without_ports_names_the_container_only() -> None:
    assert link_env("/p/db", "10.0.0.3", [], {}) == ["DB_NAME=/p/db"]
    assert link_env("/p/db", "10.0.0.3", [], {"8080/tcp": {}, "8080/udp": {}})[0] == "DB_PORT=tcp://10.0.0.3:8080"


def test_stored_links_parse() -> None:
    assert parse_link("/srv:/par/db") == ("srv", "db")
    assert parse_link("/srv:/par/") == ("srv", "srv")
