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


def test_json_is_raw_utf8_without_html_escaping_as_dockers() -> None:
    assert render("{{json .}}", {"Name": "日本<&>"}) == '{"Name":"日本<&>"}'


def test_a_table_header_renders_functions_as_their_argument() -> None:
    headers = {"Name": "NAME", "Tags": "TAGS"}
    assert render("{{json .Name}}|{{upper .Name}}|{{join .Tags \",\"}}", headers, header=True) == "NAME|NAME|TAGS"
