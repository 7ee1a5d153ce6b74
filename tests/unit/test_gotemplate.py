"""The Go-template subset behind --format."""

from __future__ import annotations

import pytest

from moor.cli.gotemplate import TemplateError, render

DATA = {"Repository": "busybox", "Tag": "latest", "Labels": {"a": "1"}, "Tags": ["x", "y"], "Empty": ""}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.Repository}}:{{.Tag}}", "busybox:latest"),
        ("{{.Repository}}\\t{{.Tag}}", "busybox\tlatest"),
        ('{{index .Labels "a"}}', "1"),
        ("{{json .Tags}}", '["x","y"]'),
        ('{{join .Tags ","}}', "x,y"),
        ("{{range .Tags}}[{{.}}]{{end}}", "[x][y]"),
        ("{{if .Empty}}yes{{else}}no{{end}}", "no"),
        ("{{upper .Tag}}", "LATEST"),
        ("{{.Labels}}", "map[a:1]"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, DATA) == expected


@pytest.mark.parametrize("template", ["{{.Nope}}", "{{frobnicate .Tag}}", "{{range .Tags}}", "{{end}}"])
def test_errors(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template, DATA)
