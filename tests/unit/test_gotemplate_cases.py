"""The Go template engine against a table of cases whose answers Go's own text/template gave.

tests/unit/data/gotemplate_cases.json: ``inputs`` (JSON values: a container's, an image's, a network's ... inspect,
rows of ps, events, and a value for the language itself) and ``cases`` (template, input name, Go's ``missingkey``
option when not the default, and the ``output`` or ``error`` Go gave). tests/unit/data/gotemplate_oracle.go is the
program that made them (``go run gotemplate_oracle.go < cases`` with Debian's golang).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moor.cli.gotemplate import Template, TemplateError

TABLE = json.loads((Path(__file__).parent / "data" / "gotemplate_cases.json").read_text())


def test_the_table_is_big_enough() -> None:
    assert len(TABLE["cases"]) >= 100


@pytest.mark.parametrize("case", TABLE["cases"], ids=lambda c: c["template"][:60])
def test_case_as_go_renders_it(case: dict[str, Any]) -> None:
    data = json.loads(json.dumps(TABLE["inputs"][case["input"]]))
    try:
        got = {"output": Template(case["template"], missing_key=case.get("missingkey", "default")).execute(data)}
    except TemplateError as err:
        got = {"error": str(err)}
    assert got == {key: case[key] for key in ("output", "error") if key in case}
