"""Compose's progress output in its plain, json, quiet and tty forms."""

from __future__ import annotations

import io
import json
import re

import pytest

from moor.compose.runtime.progress import Progress


def test_plain_lines() -> None:
    out = io.StringIO()
    progress = Progress("plain", out)
    progress.event("Network", "p_default", "Creating")
    progress.event("Container", "p-web-1", "Started")
    progress.event("Container", "p-db-1", "Error", "port is already allocated")
    progress.close()
    assert out.getvalue() == (" Network p_default  Creating\n Container p-web-1  Started\n"
                              " Container p-db-1  Error port is already allocated\n")


def test_auto_is_plain_off_a_terminal_and_quiet_prints_nothing() -> None:
    out = io.StringIO()
    assert Progress("auto", out).mode == "plain"
    quiet = Progress("quiet", out)
    quiet.event("Container", "x", "Started")
    quiet.close()
    assert out.getvalue() == ""


def test_json_objects() -> None:
    out = io.StringIO()
    progress = Progress("json", out)
    progress.event("Container", "p-web-1", "Starting")
    progress.event("Container", "p-web-1", "Error", "boom")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [{"id": "Container p-web-1", "status": "Working", "text": "Starting"},
                     {"id": "Container p-web-1", "status": "Error", "text": "Error", "details": "boom"}]


def test_tty_list_marks() -> None:
    out = io.StringIO()
    progress = Progress("tty", out)
    progress.event("Container", "p-web-1", "Creating")
    progress.event("Container", "p-web-1", "Started")
    progress.event("Container", "p-db-1", "Error")
    progress.close()
    last = out.getvalue().split("[+] Running")[-1]
    assert last.startswith(" 2/2")
    assert "✔" in last and "Container p-web-1" in last and "✘" in last


def test_tty_message_goes_above_the_list() -> None:
    out = io.StringIO()
    progress = Progress("tty", out)
    progress.event("Container", "p-web-1", "Creating")
    progress.message("WARN[0000] something")
    progress.close()
    text = out.getvalue()
    assert text.index("WARN[0000] something") < text.rindex("[+] Running")


def test_dry_run_lines_say_so() -> None:
    out = io.StringIO()
    progress = Progress("plain", out, dry_run=True)
    progress.event("Container", "p-web-1", "Started")
    json_out = io.StringIO()
    Progress("json", json_out, dry_run=True).event("Container", "p-web-1", "Started")
    assert out.getvalue() == " DRY-RUN MODE - Container p-web-1  Started\n"
    assert json.loads(json_out.getvalue()) == {"dry-run": True, "id": "Container p-web-1", "status": "Done",
                                               "text": "Started"}


def test_tty_list_fits_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("LINES", "6")
    out = io.StringIO()
    progress = Progress("tty", out)
    for number in range(10):
        progress.event("Container", f"p-web-{number}", "Error", "a very long explanation " * 5)
    progress.close()
    last = out.getvalue().split("[+] Running")[-1]
    lines = [line for line in last.split("\n") if line and line != "\x1b[?25h"]
    assert len(lines) == 1 + 3 + 1 and "... 7 more" in lines[-1]
    visible = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in lines[1:-1]]
    assert all(len(line) <= 40 for line in visible)
