"""How ``moor compose ps|ls|top|version`` print (moor.cli.compose.status), as docker compose v2 does."""

from __future__ import annotations

import json
import time
from typing import Any

import click
import pytest
from click.testing import CliRunner

from moor.cli.compose import compose
from moor.cli.compose.status import ellipsis, go_quote, print_ps, print_stacks, ps_row, top_rows

NOW = time.time()  # for the rows given an explicit now; summary() dates from the moment it is called


def summary(name: str = "p-web-1", **extra: Any) -> dict[str, Any]:
    """A summary as moor.compose.runtime.status.ps returns it."""
    base = {"ID": "4f66ad9a0b2e" + "0" * 52, "Name": name, "Names": [name], "Image": "busybox",
            "Project": "p", "Service": name.split("-")[1], "Command": "sleep 1000", "State": "running",
            "Status": "Up 2 minutes", "Created": int(time.time()) - 120,
            "Labels": {"com.docker.compose.project": "p", "a": "<b>"}, "SizeRw": 0, "SizeRootFs": 0,
            "Mounts": ["p_data"], "LocalVolumes": 1, "Networks": ["p_default"], "Health": "", "ExitCode": 0,
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
            "Publishers": [{"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"}]}
    return {**base, **extra}


def run(function: Any, *args: Any, **kwargs: Any) -> str:
    @click.command()
    def command() -> None:
        function(*args, **kwargs)

    result = CliRunner().invoke(command, [])
    assert result.exit_code == 0, result.output
    return result.output


def test_default_table_has_compose_columns() -> None:
    out = run(print_ps, [summary(Command="/docker-entrypoint.sh nginx -g daemon off;"), summary("p-db-1", Ports=[])],
              "")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert lines[1].startswith("p-web-1   busybox   \"/docker-entrypoint.…\"   web       2 minutes ago   Up 2 minutes")
    assert lines[1].endswith("0.0.0.0:8080->80/tcp")
    assert lines[2].startswith("p-db-1    busybox ")
    assert run(print_ps, [], "table").splitlines() == [
        "NAME      IMAGE     COMMAND   SERVICE   CREATED   STATUS    PORTS"]


def test_json_is_one_object_per_line_with_compose_fields() -> None:
    out = run(print_ps, [summary(), summary("p-db-1")], "json")
    lines = out.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert sorted(first) == ["Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels", "LocalVolumes",
                             "Mounts", "Name", "Names", "Networks", "Ports", "Project", "Publishers", "RunningFor",
                             "Service", "Size", "State", "Status"]
    assert first["Name"] == "p-web-1" and first["Service"] == "web" and first["ID"] == "4f66ad9a0b2e"
    assert first["Command"] == '"sleep 1000"' and first["ExitCode"] == 0 and first["LocalVolumes"] == "1"
    assert first["Publishers"] == [{"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"}]
    assert '"Publishers":[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"}]' in lines[0]
    assert "\\u003cb\\u003e" in lines[0]  # json.Marshal of the context escapes HTML


def test_templates_quiet_and_services() -> None:
    rows = [summary(), summary("p-web-2"), summary("p-db-1")]
    assert run(print_ps, rows, "{{.Name}} {{.Service}} {{.State}} {{.Label \"a\"}}").splitlines() == [
        "p-web-1 web running <b>", "p-web-2 web running <b>", "p-db-1 db running <b>"]
    assert run(print_ps, rows, "table {{.Name}}\\t{{.Health}}").splitlines()[0].rstrip() == "NAME      HEALTH"
    assert run(print_ps, rows, "", quiet=True).splitlines() == ["4f66ad9a0b2e" + "0" * 52] * 3
    assert run(print_ps, rows, "", services=True).splitlines() == ["web", "db"]
    assert run(print_ps, [], "", services=True) == "\n"


def test_no_trunc_keeps_id_and_command() -> None:
    row = ps_row(summary(Command="x" * 30), trunc=False, now=NOW)
    assert row["ID"] == "4f66ad9a0b2e" + "0" * 52 and row["Command"] == '"' + "x" * 30 + '"'
    assert ps_row(summary(Command="x" * 30), now=NOW)["Command"] == '"' + "x" * 19 + '…"'


def test_go_quote_and_ellipsis() -> None:
    assert go_quote('sh -c "echo \\a"\n\x01') == '"sh -c \\"echo \\\\a\\"\\n\\x01"'
    assert ellipsis("abcdef", 4) == "abc…" and ellipsis("abc", 3) == "abc"


def test_ls_table_json_and_bad_format() -> None:
    stacks = [{"Name": "alpha", "Status": "running(2)", "ConfigFiles": "/x/compose.yaml"},
              {"Name": "b", "Status": "exited(1), running(1)", "ConfigFiles": "/y/a.yaml,/y/b.yaml"}]
    assert run(print_stacks, stacks, "table").splitlines() == [
        "NAME                STATUS                  CONFIG FILES",
        "alpha               running(2)              /x/compose.yaml",
        "b                   exited(1), running(1)   /y/a.yaml,/y/b.yaml"]
    assert json.loads(run(print_stacks, stacks, "json")) == stacks
    assert run(print_stacks, stacks, "json").count("\n") == 1
    assert [json.loads(line) for line in run(print_stacks, stacks, "{{json .}}").splitlines()] == stacks
    assert run(print_stacks, stacks, "table", quiet=True).splitlines() == ["alpha", "b"]

    @click.command()
    def bad() -> None:
        print_stacks(stacks, "yaml")

    result = CliRunner().invoke(bad, [])
    assert result.exit_code == 1
    assert 'format value "yaml" could not be parsed: parsing failed' in result.output


def test_top_rows_put_cmd_last_and_fill_gaps() -> None:
    rows = top_rows([{"Service": "db", "Replica": "1", "Titles": ["UID", "PID", "CMD"],
                      "Processes": [["root", "10", "postgres"], ["root", "11", "postgres: writer"]]},
                     {"Service": "web", "Replica": "2", "Titles": ["UID", "PID", "CMD", "TIME"],
                      "Processes": [["www", "20", "nginx", "00:01"]]}])
    assert rows == [["SERVICE", "#", "UID", "PID", "TIME", "CMD"],
                    ["db", "1", "root", "10", "-", "postgres"],
                    ["db", "1", "root", "11", "-", "postgres: writer"],
                    ["web", "2", "www", "20", "00:01", "nginx"]]


@pytest.mark.parametrize(("args", "expected"), [
    ([], "Docker Compose version v2.29.7+moor."),
    (["--short"], "2.29.7+moor."),
    (["--format", "json"], '{"version":"v2.29.7+moor.'),
])
def test_version(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(compose, ["version", *args])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(expected)
