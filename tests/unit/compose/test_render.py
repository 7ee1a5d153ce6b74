"""render.py: go-yaml's block style, compose-go's key order, and output that loads back to the same model."""

from __future__ import annotations

import io
import json
from pathlib import Path

from moor.compose.loader.yamlfile import load_yaml
from moor.compose.render import project_dict, render, to_yaml
from unit.compose.loaddata import copy_data, load

AWKWARD = ["-c", "- x", "8080", "1e3", "0x1F", "true", "Yes", "", "null", "~", "2024-01-01", " lead", "trail ",
           "{x}", "*a", "!x", "%x", "@x", "a: b", "a #b", 'say "hi"', "it's", "multi\nline\n", "tab\there", "ü"]


def test_awkward_strings_read_back_as_the_same_strings() -> None:
    data = {"list": AWKWARD, "map": {f"k{index}": value for index, value in enumerate(AWKWARD)},
            "nested": [{"a": [1, 2.5, True, None, {}], "b": []}], "empty": {}}
    assert load_yaml(to_yaml(data), "t.yaml").data == data


def test_yaml_style() -> None:
    assert to_yaml({"a": {"b": [{"c": 1, "d": [2]}, "x"]}, "e": None}) == (
        "a:\n  b:\n    - c: 1\n      d:\n        - 2\n    - x\ne: null\n")


def test_config_output_loads_back_to_the_same_model(tmp_path: Path) -> None:
    for name in ("overrides", "extends", "include"):
        root = copy_data(name, tmp_path)
        project = load(root)
        text = render(project).replace("$", "$$")
        again = load(root, files=["-"], stdin=io.BytesIO(text.encode()))
        assert project_dict(again) == project_dict(project), name
        assert json.loads(render(project, "json")) == project_dict(project)
