"""moor.cli.deferred: the stand-ins of inspect, platform and datetime behave as the real modules."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from moor.cli.deferred import cleandoc, system

DOCS = ["", "one line", "  lead\n    indented\n      more\n    back\n", "\n\n  first\n\tx\n\n", "a\n\n  b\n c\n",
        "   \n   \n", "x\n  \n    y"]


@pytest.mark.parametrize("doc", DOCS)
def test_cleandoc_is_the_standard_librarys(doc: str) -> None:
    assert cleandoc(doc) == inspect.cleandoc(doc)


def test_system_is_platforms() -> None:
    import platform

    assert system() == platform.system()


PROBE = """
import sys
import moor.cli  # installs the stand-ins
import click

def stand_in(name):
    return type(sys.modules[name]).__name__ == "Deferred"

before = (stand_in("inspect"), stand_in("platform"), "ast" in sys.modules)
import inspect
from inspect import signature
print("SIG", signature(lambda a, b=1: None))
print("CLEAN", repr(inspect.cleandoc("  x\\n    y")))
import uuid
print("UUID", uuid.UUID("12345678123456781234567812345678"))
import datetime, _datetime
early = datetime.datetime
print("DATETIME", stand_in("datetime"), datetime.datetime(2020, 1, 2, tzinfo=datetime.UTC).isoformat(),
      all(getattr(datetime, name) is getattr(_datetime, name) for name in ("date", "datetime", "time", "timedelta",
          "timezone", "tzinfo", "MINYEAR", "MAXYEAR", "UTC")))
print("DATETIME-REAL", datetime.__file__.endswith("datetime.py"), stand_in("datetime"), datetime.datetime is early,
      sorted(name for name in vars(datetime) if not name.startswith("_")) == sorted(
          name for name in vars(__import__("datetime")) if not name.startswith("_")))
import platform
print("MACHINE", platform.machine() == __import__("os").uname().machine, platform.system())
print("BEFORE", before, "AFTER", stand_in("inspect"), stand_in("platform"), inspect.getsource(signature) != "")
"""


def test_the_real_modules_load_on_first_use_and_take_the_stand_ins_place() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["SIG"] == "(a, b=1)"
    assert lines["CLEAN"] == "'x\\ny'"
    assert lines["UUID"] == "12345678-1234-5678-1234-567812345678"
    assert lines["MACHINE"] == "True Linux"
    assert lines["DATETIME"] == "True 2020-01-02T00:00:00+00:00 True"
    assert lines["DATETIME-REAL"] == "True False True True"
    assert lines["BEFORE"] == "(True, True, False) AFTER False False True"
