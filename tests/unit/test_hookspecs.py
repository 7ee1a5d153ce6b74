"""Every hook spec is documented (its docstring is the contract) and exercised by a test."""

from __future__ import annotations

import inspect
import pathlib

import pytest

from moor import hookspecs

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("moor_"))
TESTS_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _all_test_text() -> str:
    roots = [TESTS_ROOT, TESTS_ROOT.parent / "core" / "moor" / "testing", TESTS_ROOT.parent / "plugins"]
    files = [p for root in roots for p in root.rglob("test*.py")] + list(roots[1].rglob("*.py"))
    return "\n".join(p.read_text() for p in files)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    summary = doc.split("\n", 1)[0]
    assert summary.endswith("."), f"{name}: no one-line summary"
    assert "Called" in doc or "Notification" in doc, f"{name}: does not say when the engine calls it"
    parameters = inspect.signature(getattr(hookspecs, name)).parameters
    if name.startswith(("moor_storage", "moor_network", "moor_volume", "moor_log")) and parameters:
        mentioned = [p for p in parameters if p in doc]
        assert mentioned, f"{name}: documents none of its parameters"


def test_every_driver_kind_has_required_hooks_that_exist() -> None:
    for kind, hooks in hookspecs.REQUIRED_HOOKS.items():
        for hook in hooks:
            assert hook.startswith(f"moor_{kind}_") and hasattr(hookspecs, hook)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_exercised_by_a_test(name: str) -> None:
    operation = name.split("_", 2)[2]
    text = _all_test_text()
    exercised = name in text or f".{operation}(" in text or f'"{operation}"' in text
    assert exercised, f"no test calls {name}"
