"""The Go template engine behind --format: the API callers use (render, Template, struct rows, headers)."""

from __future__ import annotations

import pytest

from moor.cli.gotemplate import Template, TemplateError, render, struct

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
        ("{{.Nope}}", "<no value>"),
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, DATA) == expected


@pytest.mark.parametrize("template", ["{{frobnicate .Tag}}", "{{range .Tags}}", "{{end}}", "{{.Tag.X}}"])
def test_errors(template: str) -> None:
    with pytest.raises(TemplateError):
        render(template, DATA)


def test_a_parse_error_is_told_from_an_execution_error() -> None:
    with pytest.raises(TemplateError) as parsing:
        Template("{{foo}}")
    assert parsing.value.parsing and str(parsing.value) == 'template: :1: function "foo" not defined'
    with pytest.raises(TemplateError) as executing:
        Template("{{.Tag.X}}").execute(DATA)
    assert not executing.value.parsing
    assert str(executing.value) == ('template: :1:6: executing "" at <.Tag.X>: '
                                    "can't evaluate field X in type interface {}")


def test_escapes_are_the_formatters_not_inspects() -> None:
    assert render("{{.Tag}}\\t{{.Tag}}\\n", DATA) == "latest\tlatest\n"
    assert render("{{.Tag}}\\t{{.Tag}}", DATA, escapes=False) == "latest\\tlatest"


def test_the_issue_idioms() -> None:
    container = {"NetworkSettings": {"Networks": {"front": {"IPAddress": "10.1.0.5"},
                                                  "bridge": {"IPAddress": "172.17.0.2"}}}}
    assert render("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container) == "172.17.0.2 10.1.0.5 "
    assert render("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}};{{end}}", container) == \
        "bridge=172.17.0.2;front=10.1.0.5;"


def test_json_is_raw_utf8_without_html_escaping_as_dockers() -> None:
    assert render("{{json .}}", {"Name": "日本<&>"}) == '{"Name":"日本<&>"}'


def test_a_table_header_renders_functions_as_their_argument() -> None:
    headers = {"Name": "NAME", "Tags": "TAGS"}
    assert render("{{json .Name}}|{{upper .Name}}|{{join .Tags \",\"}}", headers, header=True) == "NAME|NAME|TAGS"


def test_a_struct_row_names_its_type_for_an_unknown_field() -> None:
    row = struct({"ID": "abc", "Names": "web"}, "*formatter.ContainerContext")
    assert render("{{.ID}} {{.Names}}", row) == "abc web"
    with pytest.raises(TemplateError) as err:
        render("{{.Nope}}", row)
    assert str(err.value) == ('template: :1:2: executing "" at <.Nope>: '
                              "can't evaluate field Nope in type *formatter.ContainerContext")


def test_a_callable_field_is_a_method_with_arguments() -> None:
    labels = {"com.example": "x"}
    row = struct({"Label": lambda name: labels.get(name, "")}, "*formatter.ContainerContext")
    assert render('{{.Label "com.example"}}|{{.Label "nope"}}', row) == "x|"


def test_missingkey_error_as_inspects_raw_fallback() -> None:
    with pytest.raises(TemplateError) as err:
        Template("{{.Nope}}", missing_key="error").execute(DATA)
    assert str(err.value) == 'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"'


def test_the_template_name_is_in_messages() -> None:
    with pytest.raises(TemplateError) as err:
        Template("{{.X.Y}}", name="version").execute({"X": 1})
    assert str(err.value) == ('template: version:1:4: executing "version" at <.X.Y>: '
                              "can't evaluate field Y in type interface {}")


def test_range_over_an_integer_as_go_1_22() -> None:
    assert render("{{range $i := 3}}{{$i}}{{end}}", {}) == "012"


def test_deep_recursion_is_an_error_not_a_crash() -> None:
    with pytest.raises(TemplateError, match="exceeded maximum template depth"):
        render('{{define "T"}}{{template "T" .}}{{end}}{{template "T" .}}', {})


def test_inspect_objects_read_as_dockers_typed_structs() -> None:
    from moor.cli.gotemplate.typed import typed_view

    container = typed_view({"State": {"Status": "running"}, "Config": {"Cmd": ["sh"], "Entrypoint": None},
                            "HostConfig": {}}, "container")
    template = Template("{{.State.Health}}|{{.Config.Entrypoint}}|{{.Config.ExposedPorts}}|{{.HostConfig.Binds}}|"
                        "{{if .State.Health}}h{{else}}none{{end}}|{{json .State}}|{{json .Config}}", typed=True)
    assert template.execute(container) == \
        '<nil>|[]|map[]|[]|none|{"Status":"running"}|{"Cmd":["sh"],"Entrypoint":null}'
    # strings the daemon leaves out (omitempty) print empty, as the typed struct's zero
    template = Template("[{{.Config.StopSignal}}]{{json .Config.MacAddress}}{{json .Config}}", typed=True)
    assert template.execute(container) == '[]""{"Cmd":["sh"],"Entrypoint":null}'
