"""The long syntax of every service key (docs/compose.md's canonical model), and the merged model's defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from moor.compose.errors import ComposeFileError
from moor.compose.loader.normalize import canonical, canonical_service, parse_port_spec, parse_volume_spec
from unit.compose.loaddata import load, write


def test_short_ports_expand_to_one_long_entry_per_port() -> None:
    assert parse_port_spec("80", "p") == [{"mode": "ingress", "target": 80, "protocol": "tcp"}]
    assert parse_port_spec("8080:80", "p") == [{"mode": "ingress", "target": 80, "published": "8080",
                                                "protocol": "tcp"}]
    assert parse_port_spec("127.0.0.1:8080:80/udp", "p") == [
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "udp"}]
    assert parse_port_spec("127.0.0.1::80", "p") == [
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "protocol": "tcp"}]
    assert parse_port_spec("[::1]:53:53/udp", "p")[0]["host_ip"] == "::1"
    assert [(e["published"], e["target"]) for e in parse_port_spec("9000-9002:8000-8002", "p")] == [
        ("9000", 8000), ("9001", 8001), ("9002", 8002)]
    assert [e["target"] for e in parse_port_spec("3000-3001", "p")] == [3000, 3001]
    # a range of host ports for one container port stays one entry (Docker picks one of them)
    assert parse_port_spec("8000-8010:80", "p") == [{"mode": "ingress", "target": 80, "published": "8000-8010",
                                                     "protocol": "tcp"}]


@pytest.mark.parametrize("spec", ["abc", "80:80:80:80", "9000-9001:80-82", "70000", "80/"])
def test_bad_port_specifications_name_the_key(spec: str) -> None:
    with pytest.raises(ComposeFileError, match=r"services\.web\.ports\[0\]: invalid port specification"):
        canonical_service({"ports": [spec]}, "services.web")


def test_long_ports_get_protocol_and_mode_and_published_as_a_string() -> None:
    service = canonical_service({"ports": [{"target": 80, "published": 8080}, 443]}, "s")
    assert service["ports"] == [{"target": 80, "published": "8080", "protocol": "tcp", "mode": "ingress"},
                                {"mode": "ingress", "target": 443, "protocol": "tcp"}]


def test_short_volumes() -> None:
    assert parse_volume_spec("data:/var/lib/data", "v") == {"type": "volume", "source": "data",
                                                           "target": "/var/lib/data", "volume": {}}
    assert parse_volume_spec("/anon", "v") == {"type": "volume", "target": "/anon", "volume": {}}
    assert parse_volume_spec("./src:/app/:ro", "v") == {
        "type": "bind", "source": "./src", "target": "/app", "read_only": True,
        "bind": {"create_host_path": True}}
    assert parse_volume_spec("/etc/hosts:/h:rw,z", "v")["bind"] == {"selinux": "z", "create_host_path": True}
    assert parse_volume_spec("~/x:/x:rslave", "v")["bind"] == {"propagation": "rslave", "create_host_path": True}
    assert parse_volume_spec("cache:/c:nocopy", "v")["volume"] == {"nocopy": True}
    with pytest.raises(ComposeFileError, match="too many colons"):
        parse_volume_spec("a:b:ro:x", "v")


def test_keys_with_a_short_syntax() -> None:
    service = canonical_service({
        "build": "./app",
        "command": "sh -c 'echo hello; sleep 1'",
        "entrypoint": ["/bin/sh", 1],
        "environment": ["A=1", "B", "C=x=y"],
        "env_file": ".env.web",
        "expose": [80, "90-91/udp"],
        "networks": ["front", "back"],
        "depends_on": ["db"],
        "healthcheck": {"test": "curl -f http://x", "retries": 3},
        "labels": ["a=1", "b"],
        "sysctls": {"net.core.somaxconn": 1024},
        "dns": "1.1.1.1",
        "cap_add": "NET_ADMIN",
        "extra_hosts": {"db": "10.0.0.2", "multi": ["10.0.0.3", "::1"]},
        "ulimits": {"nofile": {"soft": 1024, "hard": 2048}, "nproc": 65535},
        "mem_limit": "512m",
        "shm_size": "1g",
        "memswap_limit": -1,
        "cpus": "0.5",
        "secrets": ["token", {"source": "key", "target": "k", "mode": "0440"}],
        "logging": {"driver": "json-file", "options": {"max-file": 3}},
        "deploy": {"replicas": 2, "resources": {"limits": {"cpus": 1.5, "memory": "1g"}},
                   "labels": ["x=y"]},
        "devices": ["/dev/fuse", {"source": "/dev/a", "target": "/dev/b", "permissions": "rw"}],
        "tmpfs": "/run",
        "extends": "base",
        "init": True,
    }, "services.web")
    assert service["build"] == {"context": "./app"}
    assert service["command"] == ["sh", "-c", "echo hello; sleep 1"]
    assert service["entrypoint"] == ["/bin/sh", "1"]
    assert service["environment"] == {"A": "1", "B": None, "C": "x=y"}
    assert service["env_file"] == [{"path": ".env.web", "required": True}]
    assert service["expose"] == ["80", "90-91/udp"]
    assert service["networks"] == {"front": None, "back": None}
    assert service["depends_on"] == {"db": {"condition": "service_started", "required": True, "restart": False}}
    assert service["healthcheck"] == {"test": ["CMD-SHELL", "curl -f http://x"], "retries": 3}
    assert service["labels"] == {"a": "1", "b": ""}
    assert service["sysctls"] == {"net.core.somaxconn": "1024"}
    assert service["dns"] == ["1.1.1.1"]
    assert service["cap_add"] == ["NET_ADMIN"]
    assert service["extra_hosts"] == ["db:10.0.0.2", "multi:10.0.0.3", "multi:::1"]
    assert service["ulimits"] == {"nofile": {"soft": 1024, "hard": 2048}, "nproc": {"soft": 65535, "hard": 65535}}
    assert service["mem_limit"] == 512 * 1024**2
    assert service["shm_size"] == 1024**3
    assert service["memswap_limit"] == -1
    assert service["cpus"] == 0.5
    assert service["secrets"] == [{"source": "token"}, {"source": "key", "target": "k", "mode": 0o440}]
    assert service["logging"] == {"driver": "json-file", "options": {"max-file": "3"}}
    assert service["deploy"] == {"replicas": 2, "resources": {"limits": {"cpus": "1.5", "memory": 1024**3}},
                                 "labels": {"x": "y"}}
    assert service["devices"] == ["/dev/fuse", "/dev/a:/dev/b:rw"]
    assert service["tmpfs"] == ["/run"]
    assert service["extends"] == {"service": "base"}
    assert service["init"] is True


def test_extra_hosts_equals_form_and_bad_sizes() -> None:
    assert canonical_service({"extra_hosts": ["a=1.2.3.4", "b:5.6.7.8"]}, "s")["extra_hosts"] == [
        "a:1.2.3.4", "b:5.6.7.8"]
    with pytest.raises(ComposeFileError, match=r"services\.web\.mem_limit: invalid size: 'lots'"):
        canonical_service({"mem_limit": "lots"}, "services.web")


def test_top_level_resources() -> None:
    model = canonical({"version": "3.8", "networks": {"front": None, "old": {"external": {"name": "legacy"}}},
                       "volumes": {"data": {"labels": ["a=b"], "driver_opts": {"size": 10}}}})
    assert "version" not in model
    assert model["networks"] == {"front": {}, "old": {"external": True, "name": "legacy"}}
    assert model["volumes"] == {"data": {"labels": {"a": "b"}, "driver_opts": {"size": "10"}}}


def test_the_merged_model_gets_paths_defaults_and_names(tmp_path: Path) -> None:
    write(tmp_path / "app", {
        "compose.yaml": """
            services:
              web:
                build: ./src
                volumes: ["./data:/data", "~/cache:/cache", "named:/named"]
                links: ["db:database"]
                env_file: [web.env]
                environment: [FROM_ENV, UNSET]
                pull_policy: if_not_present
              db:
                image: postgres
                network_mode: none
              side:
                image: busybox
                network_mode: "service:web"
                volumes_from: [db]
            volumes:
              named: {}
              outside:
                external: true
            secrets:
              token:
                file: ./token.txt
        """,
        "web.env": "FROM_FILE=1\nFROM_ENV=file\n",
    })
    project = load(tmp_path / "app", environ={"FROM_ENV": "process", "HOME": "/home/u"}, all_resources=True)
    root = str(tmp_path / "app")
    web = project.services["web"]
    assert web["build"] == {"context": f"{root}/src", "dockerfile": "Dockerfile"}
    assert [v.get("source") for v in web["volumes"]] == [f"{root}/data", "/home/u/cache", "named"]
    assert web["env_file"] == [{"path": f"{root}/web.env", "required": True}]
    # env_file first, environment over it; a name alone takes the project environment's value or stays None
    assert web["environment"] == {"FROM_FILE": "1", "FROM_ENV": "process", "UNSET": None}
    assert web["pull_policy"] == "missing"
    assert web["depends_on"] == {"db": {"condition": "service_started", "required": True, "restart": True}}
    assert web["networks"] == {"default": None}
    assert "networks" not in project.services["db"]
    assert project.services["side"]["depends_on"] == {
        "web": {"condition": "service_started", "required": True, "restart": True},
        "db": {"condition": "service_started", "required": True, "restart": False}}
    assert project.networks == {"default": {"name": "app_default"}}
    assert project.volumes == {"named": {"name": "app_named"}, "outside": {"external": True, "name": "outside"}}
    assert project.secrets == {"token": {"file": f"{root}/token.txt", "name": "app_token"}}


def test_a_missing_required_env_file_is_an_error_an_optional_one_is_not(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
        services:
          web:
            image: busybox
            env_file:
              - path: ./optional.env
                required: false
    """})
    assert load(tmp_path).services["web"].get("environment", {}) == {}
    write(tmp_path, {"compose.yaml": "services: {web: {image: busybox, env_file: missing.env}}\n"})
    with pytest.raises(ComposeFileError, match="missing.env"):
        load(tmp_path)


def test_label_files_are_read_into_labels(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web: {image: x, label_file: web.labels, labels: {b: own}}\n",
                     "web.labels": "a=1\nb=file\n"})
    assert load(tmp_path).services["web"]["labels"] == {"a": "1", "b": "own"}


def test_a_service_secret_gets_compose_s_default_target(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """
        services:
          web: {image: x, secrets: [token, {source: key, target: /etc/key}]}
        secrets:
          token: {file: ./token}
          key: {environment: KEY}
    """})
    assert load(tmp_path).services["web"]["secrets"] == [{"source": "token", "target": "/run/secrets/token"},
                                                        {"source": "key", "target": "/etc/key"}]


@pytest.mark.parametrize(("service", "message"), [
    ({"ports": [{"published": 80}]}, r"service ports services\.web\.ports\[0\] is missing a target port"),
    ({"volumes": [{"type": "volume", "source": "x"}]},
     r"service volume services\.web\.volumes\[0\] is missing a mount target"),
    ({"volumes": [{"type": "bind", "target": "/x"}]}, "field Source must not be empty"),
    ({"volumes": [""]}, "invalid empty volume spec"),
])
def test_long_syntax_entries_missing_what_they_need(service: dict[str, object], message: str) -> None:
    with pytest.raises(ComposeFileError, match=message):
        canonical_service(service, "services.web")


@pytest.mark.parametrize(("service", "key"), [
    ("healthcheck: {test: [CMD, 'true'], interval: soon}", "services.web.healthcheck.interval"),
    ("healthcheck: {test: [CMD, 'true'], timeout: '10'}", "services.web.healthcheck.timeout"),
    ("healthcheck: {test: [CMD, 'true'], start_period: 5x}", "services.web.healthcheck.start_period"),
    ("healthcheck: {test: [CMD, 'true'], start_interval: '-'}", "services.web.healthcheck.start_interval"),
    ("stop_grace_period: later", "services.web.stop_grace_period"),
    ("deploy: {restart_policy: {delay: 1y}}", "services.web.deploy.restart_policy.delay"),
    ("deploy: {restart_policy: {window: x}}", "services.web.deploy.restart_policy.window"),
])
def test_a_bad_duration_fails_at_load_naming_the_key(tmp_path: Path, service: str, key: str) -> None:
    write(tmp_path, {"compose.yaml": f"services:\n  web:\n    image: busybox\n    {service}\n"})
    with pytest.raises(ComposeFileError, match=rf"^{re.escape(key)}: time: (invalid duration|missing unit|unknown)"):
        load(tmp_path)


def test_good_durations_load_as_written(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": """\
        services:
          web:
            image: busybox
            stop_grace_period: 1m30s
            healthcheck: {test: [CMD, 'true'], interval: 1d, timeout: '0', start_period: 1.5s}
            deploy: {restart_policy: {delay: 5s, window: 2m}}
        """})
    web = load(tmp_path).services["web"]
    assert web["stop_grace_period"] == "1m30s"
    assert (web["healthcheck"]["interval"], web["healthcheck"]["timeout"]) == ("1d", "0")
    assert web["deploy"]["restart_policy"] == {"delay": "5s", "window": "2m"}
