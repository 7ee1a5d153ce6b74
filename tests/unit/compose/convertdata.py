"""A canonical project for the convert, labels, naming and hash tests (as the loader makes it)."""

from __future__ import annotations

from moor.compose.model import Project


def project(**services: dict) -> Project:
    """Project ``demo`` in /srv/demo with the given canonical services, the default network, a volume
    ``data`` and a secret and a config from files."""
    return Project(
        name="demo", working_dir="/srv/demo", config_files=["/srv/demo/compose.yaml"],
        environment={"HOME": "/root"}, env_files=[],
        services=services,
        networks={"default": {"name": "demo_default"}, "back": {"name": "demo_back"},
                  "outside": {"name": "shared", "external": True}},
        volumes={"data": {"name": "demo_data"}, "named": {"name": "custom-name", "labels": {"a": "b"}}},
        secrets={"token": {"name": "demo_token", "file": "/srv/demo/token.txt"},
                 "fromenv": {"name": "demo_fromenv", "environment": "HOME"},
                 "far": {"name": "far", "external": True}},
        configs={"conf": {"name": "demo_conf", "file": "/srv/demo/app.conf"},
                 "inline": {"name": "demo_inline", "content": "hello"}},
    )
