"""The page's files as shipped: vendored files match plugins/web_ui/vendor.json, nothing is loaded from
another origin, and every module import points at a file that exists (no build step checks it for us)."""

from __future__ import annotations

import hashlib
import json
import pathlib
import re

import pytest

PLUGIN = pathlib.Path(__file__).resolve().parents[1]
STATIC = PLUGIN / "moor_web_ui" / "static"
OWN_FILES = sorted(p for p in STATIC.rglob("*") if p.suffix in {".js", ".css", ".html"} and "vendor" not in p.parts)
MODULES = sorted(p for p in STATIC.rglob("*") if p.suffix in {".js", ".mjs"})
#: a URL with a host written out (``http://${host}`` built from a container's published port is not one)
LITERAL_URL = re.compile(r"""(?:https?:|wss?:)?//[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}|https?://[A-Za-z0-9]""")
STATIC_IMPORT = re.compile(r"""(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]""", re.M)
DYNAMIC_IMPORT = re.compile(r"""import\(\s*['"`]([^'"`$]+)['"`]\s*\)""")
HTML_REF = re.compile(r"""(?:src|href)="([^"#]+)\"""")


def test_vendored_files_are_the_recorded_npm_files() -> None:
    vendor = json.loads((PLUGIN / "vendor.json").read_text())
    names = set()
    for package in vendor["packages"]:
        names.add(package["name"])
        dest = PLUGIN / package["dest"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"]), package
        assert package["integrity"].startswith("sha512-")
        for source, entry in package["files"].items():
            path = dest / entry["to"]
            assert path.is_file(), f"{package['name']} {source}: {path} is missing"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], f"{path} differs from npm's"
        assert any(entry["to"].startswith("LICENSE") for entry in package["files"].values())
    assert {"@xterm/xterm", "@xterm/addon-fit"} <= names


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: str(p.relative_to(STATIC)))
def test_the_page_loads_nothing_from_another_origin(path: pathlib.Path) -> None:
    text = path.read_text()
    assert not LITERAL_URL.findall(text), f"{path.name} names another origin"
    assert "@import" not in text and "fonts.googleapis" not in text


def test_vendored_modules_import_nothing_from_elsewhere() -> None:
    for path in MODULES:
        if "vendor" not in path.parts:
            continue
        text = path.read_text()
        for target in STATIC_IMPORT.findall(text) + DYNAMIC_IMPORT.findall(text):
            assert target.startswith("."), f"{path.name} imports {target}"
    css = (STATIC / "vendor" / "xterm" / "xterm.css").read_text()
    assert "url(" not in css.replace("url(data:", "")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(STATIC)))
def test_every_module_import_exists(path: pathlib.Path) -> None:
    text = path.read_text()
    targets = STATIC_IMPORT.findall(text) + DYNAMIC_IMPORT.findall(text)
    for target in targets:
        if target.startswith("/static/"):
            resolved = STATIC / target[len("/static/"):]
        else:
            assert target.startswith("."), f"{path.name} imports {target!r}: only relative or /static/ paths"
            resolved = (path.parent / target).resolve()
        assert resolved.is_file(), f"{path.relative_to(STATIC)} imports {target}, which does not exist"


def test_index_refers_to_files_that_exist() -> None:
    html = (STATIC / "index.html").read_text()
    refs = [ref for ref in HTML_REF.findall(html) if not ref.startswith("data:")]
    assert "/static/js/app.js" in refs and "/static/css/app.css" in refs
    for ref in refs:
        assert ref.startswith("/static/"), ref
        assert (STATIC / ref[len("/static/"):]).is_file(), ref


def test_views_of_the_route_table_exist() -> None:
    app = (STATIC / "js" / "app.js").read_text()
    views = set(re.findall(r"view: '([a-z]+)'", app))
    assert {"dashboard", "containers", "container", "create", "images", "networks", "volumes", "stacks",
            "events"} == views
    missing = [view for view in views if not (STATIC / "js" / "views" / f"{view}.js").is_file()]
    assert not missing, f"views in the route table without a module: {missing}"
