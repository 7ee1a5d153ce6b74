"""The spec's merge rules for ``-f`` overrides (data/load/overrides: compose.yaml + compose.override.yaml)."""

from __future__ import annotations

from pathlib import Path

from moor.compose.loader.merge import merge, merge_service, unique
from unit.compose.loaddata import copy_data, load


def test_the_override_file_merges_key_by_key(tmp_path: Path) -> None:
    root = copy_data("overrides", tmp_path)
    project = load(root)
    assert project.config_files == [str(root / "compose.yaml"), str(root / "compose.override.yaml")]
    web = project.services["web"]
    # scalars and command/entrypoint/healthcheck.test: the override wins whole
    assert web["image"] == "nginx:1.25"
    assert web["command"] == ["nginx-debug"]
    assert web["healthcheck"] == {"test": ["CMD", "false"], "interval": "10s"}
    # mappings merge by key
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert web["labels"] == {"tier": "front", "debug": "true"}
    assert set(web["depends_on"]) == {"db", "cache"}
    assert web["depends_on"]["db"]["condition"] == "service_healthy"
    assert web["networks"] == {"front": {"aliases": ["www"]}}
    # sequences: ports unique by ip/published/target/protocol, volumes by target, plain lists by value
    assert [(p.get("published"), p["target"]) for p in web["ports"]] == [("8080", 80), ("8443", 443),
                                                                         ("9000", 9000)]
    assert [(v["type"], v.get("source"), v["target"]) for v in web["volumes"]] == [
        ("bind", str(root / "other"), "/data"), ("bind", str(root / "conf"), "/etc/nginx/conf.d")]
    assert web["dns"] == ["1.1.1.1", "8.8.8.8"]
    # logging: another driver replaces the whole section
    assert web["logging"] == {"driver": "syslog"}
    # ulimits: an entry is replaced whole
    assert project.services["db"]["ulimits"] == {"nofile": {"soft": 4096, "hard": 4096}}
    # ipam config entries merge by subnet
    assert project.networks["back"]["ipam"]["config"] == [
        {"subnet": "10.5.0.0/16", "gateway": "10.5.0.1", "ip_range": "10.5.1.0/24"}, {"subnet": "10.6.0.0/16"}]
    assert set(project.services) == {"web", "db", "cache"}


def test_reset_and_override_tags(tmp_path: Path) -> None:
    root = copy_data("overrides", tmp_path)
    project = load(root, files=["compose.yaml", "reset.yaml"])
    web = project.services["web"]
    assert "ports" not in web
    assert web["environment"] == {"ONLY": "1"}
    assert web["labels"] == {"tier": "front"}


def test_merge_keeps_its_inputs_and_folds_duplicates() -> None:
    base = {"services": {"a": {"environment": {"X": "1"}, "ports": [{"target": 80, "published": "80"}]}}}
    override = {"services": {"a": {"environment": {"Y": "2"}, "cap_add": ["NET_ADMIN", "NET_ADMIN"]}}}
    merged = merge(base, override)
    assert merged["services"]["a"]["environment"] == {"X": "1", "Y": "2"}
    assert merged["services"]["a"]["cap_add"] == ["NET_ADMIN"]
    assert base["services"]["a"]["environment"] == {"X": "1"}
    assert override["services"]["a"]["environment"] == {"Y": "2"}


def test_merge_service_secrets_by_target_and_none_keeps_the_base() -> None:
    merged = merge_service({"secrets": [{"source": "a"}, {"source": "b", "target": "/x"}], "user": "root"},
                           {"secrets": [{"source": "c", "target": "/run/secrets/a"}], "user": None})
    assert merged["secrets"] == [{"source": "c", "target": "/run/secrets/a"}, {"source": "b", "target": "/x"}]
    assert merged["user"] == "root"


def test_unique_keeps_the_first_place_and_the_last_value() -> None:
    assert unique(["a=1", "b", "a=2"], lambda entry: entry.split("=")[0]) == ["a=2", "b"]


def test_a_variable_without_value_in_the_override_replaces_the_base_value() -> None:
    merged = merge_service({"environment": {"A": "1", "B": "2"}, "build": {"args": {"X": "1"}}},
                           {"environment": {"A": None}, "build": {"args": {"X": None}}})
    assert merged["environment"] == {"A": None, "B": "2"}
    assert merged["build"]["args"] == {"X": None}
