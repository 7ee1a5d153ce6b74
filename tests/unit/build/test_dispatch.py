"""Each Dockerfile instruction's config, history text and image config, checked against Docker 20.10's classic
builder byte for byte: ``data/classic_builder.json`` holds what a private dockerd built from each Dockerfile
(every step image's raw config); replaying the steps through ``moor.build.dispatch`` and
``moor.build.history.new_image_config`` must give the same bytes, hence the same image IDs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from moor.build import dispatch as d
from moor.build import instructions as ins
from moor.build.dockerfile import parse_dockerfile, parse_instruction
from moor.build.history import new_image_config
from moor.build.instructions import plan_stages
from moor.build.shell_lexer import ShellLexer
from moor.errors import InvalidParameter

DATA = json.loads((Path(__file__).parent / "data" / "classic_builder.json").read_text())
CASES = {case["name"]: case for case in DATA["cases"]}
NS = 1_000_000_000


@dataclass
class Stage:
    config: dict[str, Any]
    args: d.BuildArgs
    cmd_set: bool = False
    author: str = ""
    triggers: list[str] = field(default_factory=list)


Action = Callable[[Stage], "d.Change | d.RunStep"]
FROM = "FROM"


class Recorded:
    """Docker's step images of a case, checked one by one against what moor makes of each step."""

    def __init__(self, case_name: str) -> None:
        self.case = CASES[case_name]
        self.parent: dict[str, Any] = json.loads(DATA["base"]["config"])
        self.parent_id: str = DATA["base"]["id"]
        self.steps = iter(self.case["steps"])
        self.seen = 0
        self.step: dict[str, Any] = {}

    def next(self) -> dict[str, Any]:
        """Docker's next step (its created_by tells a COPY's checksum)."""
        self.step = next(self.steps)
        return self.step

    def check(self, stage: Stage, result: d.Change | d.RunStep) -> None:
        """The step's history text, image config bytes and image ID are Docker's; the stage moves on."""
        step = self.step or self.next()
        self.step = {}
        self.seen += 1
        raw = json.loads(step["raw_config"])
        container = raw.get("container", "")
        if isinstance(result, d.RunStep):
            container_config = result.container_config
        else:
            container_config = result.container_config(container, on_image=bool(self.parent_id))
            assert result.empty_layer is False or step["empty_layer"], step["created_by"]
            stage.cmd_set = result.cmd_set
            if result.author is not None:
                stage.author = result.author
            if result.args:
                stage.args.declare(result.args)
        assert result.created_by == step["created_by"]
        assert " ".join(container_config["Cmd"]) == step["created_by"]
        diff_id = None if step["empty_layer"] else raw["rootfs"]["diff_ids"][-1]
        data = new_image_config(self.parent, {**result.config, "Image": self.parent_id},
                                {**container_config, "Image": self.parent_id}, raw["created"], diff_id,
                                author=stage.author, container=container, docker_version=raw["docker_version"])
        assert data.decode() == step["raw_config"], step["created_by"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == step["id"]
        stage.config = result.config
        self.parent, self.parent_id = raw, step["id"]

    def done(self) -> None:
        assert self.seen == len(self.case["steps"])


def replay(case_name: str, script: list[Any], options: dict[str, str | None] | None = None,
           meta: dict[str, str | None] | None = None) -> None:
    """Run ``script`` (actions, and FROM to start a stage from the image so far) over the case's steps and
    compare every step image with Docker's, byte for byte."""
    recorded = Recorded(case_name)
    all_args = d.BuildArgs(options or {}, meta or {})
    stage = Stage({}, all_args)
    for action in script:
        if action == FROM:
            config, triggers = d.begin_stage(recorded.parent.get("config"))
            stage = Stage(config, all_args.for_stage(), triggers=triggers)
            continue
        recorded.check(stage, action(stage))
    recorded.done()


def cmd(words: list[str], shell: bool = False) -> Action:
    return lambda s: d.set_cmd(s.config, words, shell, s.cmd_set)


def entrypoint(words: list[str], shell: bool = False) -> Action:
    return lambda s: d.set_entrypoint(s.config, words, shell, s.cmd_set)


def env(*pairs: tuple[str, str]) -> Action:
    return lambda s: d.set_env(s.config, pairs)


def arg(*pairs: tuple[str, str | None]) -> Action:
    return lambda s: d.declare_args(s.config, pairs)


def run(words: list[str], shell: bool = True) -> Action:
    return lambda s: d.run(s.config, words, shell, s.args)


def test_cmd_and_entrypoint() -> None:
    replay("cmd_entrypoint", [FROM, cmd(["echo shell form"], True), cmd(["echo", "json", "form"]),
                              cmd(["[oops"], True), cmd([]), entrypoint(["/bin/echo"]), cmd(["after", "entrypoint"]),
                              entrypoint(['echo "shell entry" & <done>'], True)])


def test_entrypoint_clears_an_inherited_cmd_only() -> None:
    replay("entrypoint_reset", [FROM, cmd(["sh"]), FROM, entrypoint(["/bin/true"]), cmd(["x"]),
                                entrypoint(["/bin/echo"])])
    # an empty CMD does not count as set: the inherited one goes
    replay("entrypoint_empty_cmd", [FROM, cmd(["sh"]), FROM, cmd([]), entrypoint(["/bin/echo"])])


def test_env() -> None:
    replay("env", [FROM, env(("A", "b")), env(("B", "quoted value")), env(("C", "d"), ("E", "f g"), ("H", "i j")),
                   env(("OLD", "two  spaces  here")), env(("A", "override")),
                   env(("K", "override-quoted value"), ("L", "single $A")),
                   env(("PATH", "/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")),
                   env(("EMPTY", "")), env(("U", "ünï<&>"))])


def test_label() -> None:
    replay("label", [FROM, lambda s: d.set_labels(s.config, [("a", "b"), ("c d", "e f"), ("g", 'h"i')]),
                     lambda s: d.set_labels(s.config, [("single", "value with spaces")]), arg(("V", "1.0")),
                     lambda s: d.set_labels(s.config, [("version", "1.0"), ("multi", "line continued")]),
                     lambda s: d.set_labels(s.config, [("a", "replaced")])])


def test_maintainer_is_the_author_of_later_steps() -> None:
    replay("maintainer", [FROM, lambda s: d.set_maintainer(s.config, "Jane Doe <jane@example.com>"),
                          env(("A", "b")), run(["true"]), lambda s: d.set_maintainer(s.config, "second")])


def test_expose() -> None:
    replay("expose", [FROM, lambda s: d.expose(s.config, ["80", "80/udp", "8000-8002"]),
                      lambda s: d.expose(s.config, ["443/TCP"]), arg(("P", "9000")),
                      lambda s: d.expose(s.config, ["9000", "7000/sctp"])])


def test_volume() -> None:
    replay("volume", [FROM, lambda s: d.add_volumes(s.config, ["/a", "/b"]),
                      lambda s: d.add_volumes(s.config, ["/c", "/d e"]), lambda s: d.add_volumes(s.config, ["/f/"]),
                      arg(("V", "/g")), lambda s: d.add_volumes(s.config, ["/g"])])


def workdir(path: str) -> Action:
    return lambda s: d.set_workdir(s.config, path)


def test_workdir() -> None:
    replay("workdir", [FROM, workdir("app"), workdir("sub"), workdir("../other/./x/"), workdir("/abs/./y/"),
                       env(("BASE", "/env")), workdir("/env/dir"), workdir("/tmp"), workdir("/")])


def test_user() -> None:
    replay("user", [FROM, lambda s: d.set_user(s.config, "nobody"), lambda s: d.set_user(s.config, "1000:1000"),
                    arg(("U", "daemon")), lambda s: d.set_user(s.config, "daemon")])


def test_healthcheck_takes_what_it_does_not_give_from_the_previous_one() -> None:
    notes: list[tuple[str, ...]] = []

    def health(*args: Any, **kwargs: Any) -> Action:
        def action(s: Stage) -> d.Change:
            change = d.set_healthcheck(s.config, *args, **kwargs)
            notes.append(change.notes)
            return change
        return action

    replay("healthcheck", [
        FROM, health(["CMD-SHELL", "wget -q http://localhost/ || exit 1"], 5 * NS, 3 * NS, 90 * NS, 4),
        health(["CMD", "true", "x"]), health(["CMD-SHELL", "true"], interval=1_500_000_000, retries=65),
        health(["CMD-SHELL", "true"], timeout=7200 * NS, retries=10), health(None)])
    printed = [line for line in CASES["healthcheck"]["output"].splitlines() if line.startswith("Note:")]
    assert [line for group in notes for line in group] == printed


def test_onbuild_triggers_are_taken_out_at_from() -> None:
    triggers: list[str] = []

    def start(s: Stage) -> d.RunStep:
        triggers.extend(s.triggers)
        return d.run(s.config, ["echo triggered"], True, s.args)

    checksum = "dir:784a5efc937e77c8de06e2a341207d1eb0f39f6aeb2b7c4827f2115fad5fc350"
    onbuild: list[Any] = [lambda s, e=e: d.add_onbuild(s.config, e)
                          for e in ("RUN echo triggered", "ENV T=1", "COPY . /ctx")]
    replay("onbuild_child", [FROM, *onbuild, FROM, start, env(("T", "1")),
                             lambda s: d.copy_files(s.config, "COPY", checksum, "/ctx"), run(["echo child"])])
    assert triggers == ["RUN echo triggered", "ENV T=1", "COPY . /ctx"]


def test_stopsignal() -> None:
    replay("stopsignal", [FROM, lambda s: d.set_stopsignal(s.config, "SIGKILL"),
                          lambda s: d.set_stopsignal(s.config, "9"), arg(("S", "SIGTERM")),
                          lambda s: d.set_stopsignal(s.config, "SIGTERM")])


def test_shell_is_used_by_later_shell_forms_and_history() -> None:
    replay("shell", [FROM, lambda s: d.set_shell(s.config, ["/bin/sh", "-xc"]), run(["echo hi"]), env(("A", "b")),
                     cmd(["echo shell cmd"], True), entrypoint(["echo entry"], True),
                     lambda s: d.set_healthcheck(s.config, ["CMD-SHELL", "echo hc"]),
                     lambda s: d.set_shell(s.config, ["/bin/sh", "-c"]), run(["echo back"])])


def test_run_records_the_build_args_it_sees() -> None:
    options: dict[str, str | None] = {"A": "aye", "HTTP_PROXY": "http://p:1", "FTP_PROXY": "ftp://f", "X": "unused",
                                      "META": "over"}
    replay("arg", [FROM, arg(("A", None)), arg(("B", "bee")), arg(("Z", None)), run(["echo $A $B"]),
                   arg(("A", None)), run(["echo", "exec"], False), env(("B", "shadow")), run(["echo shadowed"]),
                   arg(("HTTP_PROXY", None)), run(["echo proxy"]), arg(("META", None)), run(["echo meta"])],
           options, meta={"META": "m"})
    replay("arg_multi", [FROM, arg(("C", "c1"), ("D", None), ("E", "e")), run(["echo multi"])], {"D": "dee"})


def test_run() -> None:
    replay("run", [FROM, run(["echo hi > /hi"]), run(["true"]), run(["sh", "-c", "echo exec > /exec"], False),
                   run(['echo "quoted  spaces" &&     echo continued'])])


def test_copy_and_add_history() -> None:
    def copy(name: str, checksum: str, dest: str, chown: str | None = None) -> Action:
        return lambda s: d.copy_files(s.config, name, "file:" + checksum if ":" not in checksum else checksum, dest,
                                      chown)

    file_sum = "98027b5fa8678c56318538a9365c63c540a60a7068334572fb548b6ec82e4f74"
    # the archive's checksum is that of the tar's bytes (its mtimes): as recorded
    archive_sum = CASES["copy_add"]["steps"][4]["created_by"].split("file:")[1].split()[0]
    replay("copy_add", [
        FROM, copy("COPY", file_sum, "/dst/"),
        copy("COPY", "dir:6c50bd776c5c60170c9236bfe73f84d1d488d06d852e1e8edf858cf09446961f", "/d/"),
        copy("COPY", "multi:12f5c5c849e967903d922faebefd4b5d4748eacc2fa1ae6aa98f7b631c017494", "/multi/"),
        copy("ADD", file_sum, "/added"), copy("ADD", archive_sum, "/x/"),
        copy("COPY", file_sum, "/owned", "1:1"), workdir("/w"), copy("COPY", file_sum, "rel"),
        copy("COPY", "c3c998ce7af99513214f0a19ce9b139c0e99518d483ab9164ade55293a7e7359", "/p")])


# --------------------------------------------------------------------------- beyond the recorded builds


def test_run_container_config_and_env() -> None:
    args = d.BuildArgs({"A": "1", "HTTP_PROXY": "http://p"})
    args.declare([("A", None), ("B", "2")])
    step = d.run({"Env": ["PATH=/bin", "B=env"], "Entrypoint": ["/e"], "Healthcheck": {"Test": ["CMD", "x"]}},
                 ["echo hi"], True, args)
    assert step.created_by == "|1 A=1 /bin/sh -c echo hi"
    assert step.container_config["Entrypoint"] is None
    run_config = step.run_config()
    assert run_config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert run_config["Env"] == ["PATH=/bin", "B=env", "A=1", "HTTP_PROXY=http://p"]
    assert run_config["Healthcheck"] == {"Test": ["NONE"]}
    assert run_config["Entrypoint"] is None
    # only an undeclared proxy arg: Docker still writes the (empty) prefix
    assert d.run({}, ["true"], True, d.BuildArgs({"no_proxy": "x"})).created_by == "|0 /bin/sh -c true"


def test_build_arg_values() -> None:
    args = d.BuildArgs({"A": "opt", "N": None}, {"M": "meta", "N": "meta-n"})
    args.declare([("A", "def"), ("M", None), ("N", "def-n"), ("U", None)])
    assert (args.value("A"), args.value("M"), args.value("N"), args.value("U")) == ("opt", "meta", "def-n", None)
    assert args.allowed() == {"A": "opt", "M": "meta", "N": "def-n"}
    assert args.expansion_env({"Env": ["A=env", "P=1"]}) == {"A": "env", "P": "1", "M": "meta", "N": "def-n"}
    assert args.for_stage().declared == {}


def test_begin_stage() -> None:
    config, triggers = d.begin_stage({"Env": ["A=1"], "OpenStdin": True, "OnBuild": ["RUN x"]})
    assert config["Env"] == ["A=1", d.DEFAULT_PATH]
    assert (config["OpenStdin"], config["OnBuild"], triggers) == (False, None, ["RUN x"])
    assert d.begin_stage(None)[0]["Env"] == [d.DEFAULT_PATH]
    assert d.begin_stage({"Env": ["PATH=/x"]})[0]["Env"] == ["PATH=/x"]


@pytest.mark.parametrize(("call", "error"), [
    (lambda: d.expose({}, ["http"]), "^Invalid containerPort: http$"),
    (lambda: d.expose({}, ["80/foo"]), "^Invalid proto: foo$"),
    (lambda: d.expose({}, ["99999"]), "^Invalid containerPort: 99999$"),
    (lambda: d.expose({}, ["80-70"]), "^Invalid containerPort: 80-70$"),
    (lambda: d.set_workdir({}, ""), "^cannot normalize nothing$"),
    (lambda: d.add_volumes({}, [" "]), "VOLUME specified can not be an empty string"),
    (lambda: d.set_stopsignal({}, "NOPE"), "Invalid signal: NOPE"),
    (lambda: d.add_onbuild({}, "ONBUILD RUN x"), "Chaining ONBUILD"),
    (lambda: d.add_onbuild({}, "FROM x"), "FROM isn't allowed as an ONBUILD trigger"),
])
def test_refusals(call: Callable[[], object], error: str) -> None:
    with pytest.raises(InvalidParameter, match=error):
        call()


def test_apply_dispatches_typed_commands() -> None:
    change = d.apply(ins.EnvCommand(pairs=[("A", "b")]), {"Env": []})
    assert (change.config["Env"], change.created_by) == (["A=b"], "/bin/sh -c #(nop)  ENV A=b")
    change = d.apply(ins.CmdCommand(command=["x"], prepend_shell=False), {})
    assert change.cmd_set and change.config["Cmd"] == ["x"]
    change = d.apply(ins.EntrypointCommand(command=["e"], prepend_shell=False), {"Cmd": ["c"]}, cmd_set=True)
    assert change.config["Cmd"] == ["c"] and change.cmd_set
    change = d.apply(ins.HealthcheckCommand(test=None), {})
    assert change.config["Healthcheck"] == {"Test": ["NONE"]}
    change = d.apply(ins.ArgCommand(pairs=[("A", None)]), {})
    assert change.args == (("A", None),) and change.created_by.endswith("ARG A")
    with pytest.raises(InvalidParameter):
        d.apply(ins.RunCommand(command=["x"]), {})


# --------------------------------------------------------------------------- from the Dockerfiles themselves

#: cases built on another case's image: the Dockerfiles to replay in order
CHAINS = {"entrypoint_reset": ["withcmd", "entrypoint_reset"],
          "entrypoint_empty_cmd": ["withcmd", "entrypoint_empty_cmd"], "onbuild_child": ["onbuild", "onbuild_child"],
          "hc_child": ["hc_base", "hc_child"]}
BASES = ("withcmd", "onbuild", "hc_base")
_CHECKSUM = re.compile(r" (?:--chown=\S*?)?((?:file|dir|multi):[0-9a-f]{64}) in ")


def build_from_dockerfile(recorded: Recorded, case_name: str) -> None:
    """Parse a recorded Dockerfile, expand and dispatch each command as the executor does."""
    case = CASES[case_name]
    options: dict[str, str | None] = dict(case["build_args"])
    plan = plan_stages(parse_dockerfile(case["dockerfile"]), options)
    lexer = ShellLexer(plan.escape)
    planned = plan.stages[plan.target_index]  # the recorded steps are the target's (the image's history)
    if planned.image == "scratch":
        recorded.parent, recorded.parent_id = {}, ""
    config, triggers = d.begin_stage(recorded.parent.get("config"))
    stage = Stage(config, d.BuildArgs(options, plan.meta_args))
    commands = [ins.parse_command(parse_instruction(trigger)) for trigger in triggers] + planned.commands
    labels = d.label_commands(dict(label.split("=", 1) for label in case["labels"]))
    for command in [*commands, *labels]:
        if command not in labels:
            command = ins.expand_command(command, lexer, stage.args.expansion_env(stage.config))
        result: d.Change | d.RunStep
        if isinstance(command, ins.RunCommand):
            result = d.run(stage.config, command.command, command.prepend_shell, stage.args)
        elif isinstance(command, ins.CopyCommand):
            found = _CHECKSUM.search(recorded.next()["created_by"])
            assert found is not None
            result = d.copy_files(stage.config, command.keyword, found.group(1), command.dest, command.chown)
        else:
            result = d.apply(command, stage.config, stage.cmd_set)
        recorded.check(stage, result)


@pytest.mark.parametrize("case_name", [name for name in CASES if name not in BASES])
def test_dockerfile_builds_as_docker(case_name: str) -> None:
    recorded = Recorded(case_name)
    for name in CHAINS.get(case_name, [case_name]):
        build_from_dockerfile(recorded, name)
    recorded.done()


def test_label_options_are_steps_sorted_and_never_expanded() -> None:
    recorded = DATA["label_options"]
    labels = d.label_commands(dict(label.split("=", 1) for label in recorded["labels"]))
    assert [command.original for command in labels] == recorded["steps"]
    config: dict[str, Any] = {"Env": ["A=1"]}
    for command in labels:
        config = d.apply(command, config).config
    assert config["Labels"] == recorded["config_labels"]


def test_container_config_of_a_config_step() -> None:
    change = d.set_env({"Image": "sha256:p", "WorkingDir": "/a/./b/"}, [("A", "b")])
    config = change.container_config("c" * 64)
    assert (config["Hostname"], config["Labels"], config["WorkingDir"]) == ("c" * 12, {}, "/a/b")
    assert config["Cmd"] == ["/bin/sh", "-c", "#(nop) ", "ENV A=b"]
    # on nothing yet (FROM scratch's first step) Docker's daemon merges no image config: no label map
    assert d.set_env({"Image": ""}, [("A", "b")]).container_config("c" * 64).get("Labels") is None
    # COPY and ADD make no container
    copied = d.copy_files({"Image": "sha256:p"}, "COPY", "file:x", "/d").container_config("c" * 64)
    assert "Hostname" not in copied and "Labels" not in copied
