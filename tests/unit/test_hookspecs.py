"""Every hook spec is documented (its docstring is the contract) and called, by name, by some test.

"Called by a test" is checked on the syntax tree of the test sources, so that a
method of the same name on a list or a dict does not count. A call site counts
for the hook ``moor_<kind>_<operation>`` when it is one of:

- a call of the hook itself: ``moor_<kind>_<operation>(...)`` or ``<x>.moor_<kind>_<operation>(...)``
  (a pluggy ``hook`` relay, say);
- a facade call ``<driver>.<operation>(...)`` or ``<driver>.call("<operation>", ...)`` whose keywords are
  exactly the hook's parameters (the engine always calls drivers with keywords), made where the kind is
  named: in the receiver (``storage.mount(key=...)``), the enclosing class or function
  (``class VolumeDriverConformance``) or the file's path (``plugins/volume_local/...``);
- for a lifecycle notification ``moor_container_<event>``: ``<drivers>.notify("<event>", ...)``.
"""

from __future__ import annotations

import ast
import inspect
import pathlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest

from moor import errors, hookspecs

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("moor_"))
REPO = pathlib.Path(__file__).resolve().parents[2]
DRIVER_KINDS = ("storage", "network", "volume", "log")


@dataclass(frozen=True)
class CallSite:
    """One call in a test source: where it is and the names around it."""

    path: str
    line: int
    function: str  # the attribute or name called
    receiver: str  # the source of what it is called on ("" for a plain name)
    positional: tuple[object, ...]  # literal positional arguments (None for any other expression)
    keywords: frozenset[str]
    scope: tuple[str, ...]  # enclosing class and function names, outermost first

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def source_files(root: pathlib.Path = REPO) -> list[pathlib.Path]:
    """The files whose calls count: every test module and helper, and the conformance suites."""
    roots = [root / "tests", *sorted((root / "plugins").glob("*/tests"))]
    files = [path for folder in roots for path in sorted(folder.rglob("*.py"))]
    return [*files, root / "core" / "moor" / "testing" / "conformance.py"]


class _Calls(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.scope: list[str] = []
        self.found: list[CallSite] = []

    def _scoped(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _scoped

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            function, receiver = node.func.attr, ast.unparse(node.func.value)
        elif isinstance(node.func, ast.Name):
            function, receiver = node.func.id, ""
        else:
            function = ""
        if function:
            positional = tuple(arg.value if isinstance(arg, ast.Constant) else None for arg in node.args)
            keywords = frozenset(k.arg for k in node.keywords if k.arg is not None)
            self.found.append(CallSite(self.path, node.lineno, function, receiver, positional, keywords,
                                       tuple(self.scope)))
        self.generic_visit(node)


def call_sites(sources: Iterable[pathlib.Path], root: pathlib.Path = REPO) -> list[CallSite]:
    """Every call in ``sources`` with its receiver, literal arguments, keywords and scope."""
    found: list[CallSite] = []
    for path in sources:
        visitor = _Calls(str(path.relative_to(root)) if path.is_relative_to(root) else str(path))
        visitor.visit(ast.parse(path.read_text(), str(path)))
        found.extend(visitor.found)
    return found


def _words(text: str) -> set[str]:
    """``VolumeDriverConformance``, ``storage_overlay/tests``, ``self.drivers.storage`` -> lower-case words."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return {word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word}


def names_kind(site: CallSite, kind: str) -> bool:
    """Whether the call is made where ``kind`` is named (receiver, enclosing class or function, file path)."""
    words = _words(" ".join([site.receiver, *site.scope, site.path]))
    return kind in words or f"{kind}s" in words


def calls_of(hook: str, parameters: Iterable[str], sites: Iterable[CallSite]) -> Iterator[CallSite]:
    """The call sites that call ``hook`` (taking ``parameters``) by its name, as the module docstring says."""
    _, kind, operation = hook.split("_", 2)
    wanted = frozenset(parameters)
    for site in sites:
        if site.function == hook:
            yield site
        elif kind == "container":
            if site.function == "notify" and site.positional[:1] == (operation,):
                yield site
        elif kind in DRIVER_KINDS and site.keywords == wanted and names_kind(site, kind) and (
                (site.function == operation and not site.positional)
                or (site.function == "call" and site.positional == (operation,))):
            yield site


@pytest.fixture(scope="module")
def sites() -> list[CallSite]:
    return call_sites(source_files())


def _parameters(hook: str) -> list[str]:
    return list(inspect.signature(getattr(hookspecs, hook)).parameters)


# --------------------------------------------------------------------------- the contract is documented


def _doc(hook: str) -> str:
    return inspect.getdoc(getattr(hookspecs, hook)) or ""


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented(name: str) -> None:
    doc = _doc(name)
    summary = doc.split("\n", 1)[0]
    assert summary.endswith("."), f"{name}: no one-line summary"
    assert "Called" in doc or "Notification" in doc, f"{name}: does not say when the engine calls it"
    unnamed = [p for p in _parameters(name) if not re.search(rf"\b{p}\b", doc)]
    assert not unnamed, f"{name}: does not say what {', '.join(unnamed)} is"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_says_what_it_returns(name: str) -> None:
    returns = inspect.signature(getattr(hookspecs, name)).return_annotation
    if returns in (None, "None"):
        return
    doc = _doc(name)
    summary = doc.split("\n", 1)[0]
    said = ":return:" in doc or re.search(r"\breturn\b", summary, re.IGNORECASE) or \
        summary.startswith(("Tell whether", "List "))
    assert said, f"{name}: returns {returns} but does not say what"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_raises_only_moor_errors(name: str) -> None:
    """The module's rule: a driver raises only errors from :mod:`moor.errors`, and the docs name real ones."""
    for raised in re.findall(r":raises ([\w.]+):", _doc(name)):
        module, _, error = raised.rpartition(".")
        assert module == "moor.errors", f"{name}: raises {raised}, not an error of moor.errors"
        defined = getattr(errors, error, None)
        assert isinstance(defined, type) and issubclass(defined, errors.MoorError), \
            f"{name}: raises {raised}, which moor.errors does not define"


def test_every_driver_kind_has_required_hooks_that_exist() -> None:
    for kind, hooks in hookspecs.REQUIRED_HOOKS.items():
        for hook in hooks:
            assert hook.startswith(f"moor_{kind}_") and hasattr(hookspecs, hook)


# --------------------------------------------------------------------------- every hook is called by a test


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_called_by_a_test(name: str, sites: list[CallSite]) -> None:
    found = list(calls_of(name, _parameters(name), sites))
    assert found, f"no test calls {name}({', '.join(_parameters(name))}) by name"


def test_made_up_hooks_are_called_by_no_test(sites: list[CallSite]) -> None:
    """The check above can fail: names no test calls, or calls of another kind's hook, are not found."""
    assert list(calls_of("moor_volume_frobnicate", ["name"], sites)) == []
    assert list(calls_of("moor_storage_get", ["name"], sites)) == []  # volume.get(name=) is not storage's
    assert list(calls_of("moor_log_list", [], sites)) == []  # volume.list() is not the log driver's
    assert list(calls_of("moor_volume_remove", ["key"], sites)) == []  # storage's remove(key=)
    assert list(calls_of("moor_container_paused", ["container"], sites)) == []


def test_the_checker_reads_call_sites_not_text(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "test_sample.py"
    source.write_text(
        "items.remove(1)\n"                                # a list's remove: not a hook call
        "'driver.get(name=x)'\n"                           # inside a string: not a call
        "class VolumeCase:\n"
        "    def test(self, driver):\n"
        "        driver.get(name='v')\n"                   # the volume driver's get, by its keywords
        "        driver.remove(name='v', force=True)\n"
        "def test_other(driver):\n"
        "    driver.list()\n"                              # no kind named: does not count
        "    storage.call('usage', key='k')\n"
        "    drivers.notify('started', container=ref)\n"
        "    hook.moor_log_open(container=ref)\n"
    )
    found = call_sites([source], tmp_path)

    def lines(hook: str, *parameters: str) -> list[int]:
        return [site.line for site in calls_of(hook, parameters, found)]

    assert lines("moor_volume_get", "name") == [5]
    assert lines("moor_volume_remove", "name", "force") == [6]
    assert lines("moor_volume_remove", "name") == []  # keywords must be exactly the parameters
    assert lines("moor_storage_remove", "key") == []
    assert lines("moor_volume_list") == []
    assert lines("moor_storage_usage", "key") == [9]
    assert lines("moor_container_started", "container") == [10]
    assert lines("moor_container_stopped", "container") == []
    assert lines("moor_log_open", "container") == [11]
