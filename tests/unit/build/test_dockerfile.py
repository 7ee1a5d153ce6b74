"""Dockerfiles parsed with Docker's grammar: directives, continuations, comments, heredocs, JSON form, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moor.build.dockerfile import parse_dockerfile, parse_instruction
from moor.build.instructions import ArgCommand, EnvCommand, expand_command, plan_stages
from moor.build.shell_lexer import ShellLexer
from moor.errors import InvalidParameter


def test_instructions_keywords_lines_and_flags() -> None:
    parsed = parse_dockerfile("FROM busybox AS base\n\n  run --mount=type=cache,target=/c echo hi\n"
                              "COPY --from=base a b\n")
    assert [(i.keyword, i.line, i.end_line) for i in parsed.instructions] == [("FROM", 1, 1), ("RUN", 3, 3),
                                                                            ("COPY", 4, 4)]
    assert parsed.instructions[0].args == ("busybox", "AS", "base")
    assert parsed.instructions[1].flags == ("--mount=type=cache,target=/c",)
    assert parsed.instructions[1].args == ("echo hi",)
    assert parsed.instructions[2].flags == ("--from=base",)
    assert parsed.escape == "\\" and parsed.syntax is None and parsed.warnings == []


def test_continuation_lines_and_comments_inside_them() -> None:
    parsed = parse_dockerfile("FROM a\nRUN echo one \\\n  # a comment\n  two\nRUN x # not a comment\n")
    run = parsed.instructions[1]
    assert run.args == ("echo one   two",)
    assert (run.line, run.end_line) == (2, 4)
    assert parsed.instructions[2].args == ("x # not a comment",)


def test_escape_directive_is_honoured() -> None:
    parsed = parse_dockerfile("# escape=`\nFROM a\nRUN dir c:\\ `\n  /b\n")
    assert parsed.escape == "`"
    assert parsed.instructions[1].args == ("dir c:\\   /b",)


def test_escape_directive_after_an_instruction_is_a_comment() -> None:
    parsed = parse_dockerfile("FROM a\n# escape=`\nRUN a`\n")
    assert parsed.escape == "\\"
    assert parsed.instructions[1].args == ("a`",)


def test_syntax_directive_is_noted_and_ignored() -> None:
    parsed = parse_dockerfile("# syntax=docker/dockerfile:1.4\nFROM a\n")
    assert parsed.syntax == "docker/dockerfile:1.4"
    assert any("docker/dockerfile:1.4" in note for note in parsed.notes)
    assert parsed.warnings == []  # Docker prints nothing for it
    assert [i.keyword for i in parsed.instructions] == ["FROM"]


def test_json_form_and_invalid_json_falls_back_to_shell_form() -> None:
    parsed = parse_dockerfile('FROM a\nCMD ["a", "b c"]\nCMD [a, b]\nCMD ["a", \'b\']\n')
    assert parsed.instructions[1].json and parsed.instructions[1].args == ("a", "b c")
    assert not parsed.instructions[2].json and parsed.instructions[2].args == ("[a, b]",)
    assert not parsed.instructions[3].json


def test_heredocs_plain_chomped_quoted_and_numbered() -> None:
    text = ("FROM a\nRUN <<EOF\necho $HOME\nEOF\nRUN <<-EOT\n\techo hi\n\tEOT\nCOPY <<\"EOF\" /x\n$HOME\nEOF\n"
            "RUN 3<<EOF cat /proc/self/fd/3\nx\nEOF\n")
    run, chomped, copy, numbered = parse_dockerfile(text).instructions[1:]
    assert run.heredocs[0].name == "EOF" and run.heredocs[0].content == "echo $HOME\n" and run.heredocs[0].expand
    assert (run.line, run.end_line) == (2, 4)
    assert chomped.heredocs[0].content == "echo hi\n" and chomped.heredocs[0].chomp
    assert copy.heredocs[0].content == "$HOME\n" and not copy.heredocs[0].expand
    assert copy.args == ('<<"EOF"', "/x")
    assert numbered.heredocs[0].file_descriptor == 3


def test_two_heredocs_in_one_instruction() -> None:
    copy = parse_dockerfile("FROM a\nCOPY <<one <<two /d/\n1\none\n2\ntwo\n").instructions[1]
    assert [(h.name, h.content) for h in copy.heredocs] == [("one", "1\n"), ("two", "2\n")]


def test_onbuild_keeps_its_trigger_with_flags() -> None:
    onbuild = parse_dockerfile("FROM a\nONBUILD COPY --from=x a b\n").instructions[1]
    assert onbuild.keyword == "ONBUILD"
    assert onbuild.sub is not None and onbuild.sub.keyword == "COPY" and onbuild.sub.flags == ("--from=x",)
    assert onbuild.sub.line == 2


def test_parse_instruction_reads_one_trigger() -> None:
    run = parse_instruction("RUN echo hi")
    assert run.keyword == "RUN" and run.args == ("echo hi",)


def test_byte_order_mark_and_crlf() -> None:
    parsed = parse_dockerfile("\ufeffFROM a\r\nRUN x\r\n")
    assert [(i.keyword, i.args) for i in parsed.instructions] == [("FROM", ("a",)), ("RUN", ("x",))]


def test_empty_continuation_line_is_a_warning() -> None:
    parsed = parse_dockerfile("FROM a\nRUN a \\\n\n b\n")
    assert parsed.instructions[1].args == ("a  b",)
    # Docker 20.10's words, recorded: its stream is "\x1b[91m" + these lines joined + "\n\x1b[0m"
    assert "\n".join(parsed.warnings) == ("[WARNING]: Empty continuation line found in:\n    RUN a  b\n"
                                         "[WARNING]: Empty continuation lines will become errors in a future "
                                         "release.")


@pytest.mark.parametrize(("text", "message"), [
    ("", "the Dockerfile (Dockerfile) cannot be empty"),
    ("# only a comment\n", "failed to parse Dockerfile: file with no instructions"),
    ("\n\n", "failed to parse Dockerfile: file with no instructions"),
    ("FROM a\nFOO bar\n", "dockerfile parse error line 2: unknown instruction: FOO"),
    ("FROM a\n\nfoo bar\n", "dockerfile parse error line 3: unknown instruction: FOO"),
    ("FROM a\nENV a\n", "failed to parse Dockerfile: ENV must have two arguments"),
    ("# escape=x\nFROM a\n", "failed to parse Dockerfile: invalid escape token 'x' does not match ` or \\"),
    ("FROM a\nRUN <<EOF\nnever ends\n", "failed to parse Dockerfile: unterminated heredoc"),
])
def test_errors_in_dockers_words(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_dockerfile(text)
    assert str(caught.value) == message


def test_empty_message_names_the_dockerfile() -> None:
    with pytest.raises(InvalidParameter, match=r"the Dockerfile \(sub/Dockerfile.dev\) cannot be empty"):
        parse_dockerfile("", name="sub/Dockerfile.dev")


# --------------------------------------------------------------------------- Docker's recorded answers

CASES = json.loads((Path(__file__).parent / "data" / "docker_parse_errors.json").read_text())["cases"]


def check_like_docker(case: dict[str, Any]) -> None:
    """Everything Docker checks before running a step: parse, plan, expand each step's words in order."""
    dockerfile = parse_dockerfile(case["dockerfile"])
    plan = plan_stages(dockerfile, case.get("build_args", {}), case.get("target", ""))
    lexer = ShellLexer(dockerfile.escape)
    for stage in plan.stages[:plan.target_index + 1]:
        env: dict[str, str] = {}
        args: dict[str, str] = {}
        for command in stage.commands:
            expanded = expand_command(command, lexer, {**args, **env})
            if isinstance(expanded, ArgCommand):
                args.update((name, value) for name, value in plan.arg_values(expanded) if value is not None)
            elif isinstance(expanded, EnvCommand):
                env.update(expanded.pairs)


def case_id(case: dict[str, Any]) -> str:
    return case["dockerfile"].replace("\n", "|")[:60]


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] in ("parse", "ok", "beyond")], ids=case_id)
def test_dockers_recorded_answers(case: dict[str, Any]) -> None:
    expected = case["docker"] if case["kind"] == "parse" else case.get("moor")
    if expected is None:
        check_like_docker(case)
        return
    with pytest.raises(InvalidParameter) as caught:
        check_like_docker(case)
    assert str(caught.value) == expected


def test_recorded_answers_cover_every_kind() -> None:
    kinds = {case["kind"] for case in CASES}
    assert kinds == {"parse", "ok", "runtime", "beyond"}
    assert sum(case["kind"] == "parse" for case in CASES) >= 60
