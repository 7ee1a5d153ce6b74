""".dockerignore rules and Go's filepath.Match (moor.build.ignore).

The context cases are docker-py's own ``ExcludePathsTest`` expectations (the tree and the answers),
run through the walk as the docker CLI 20.10 does it (:meth:`IgnoreRules.keeping` + :meth:`walk`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moor.build.ignore import IgnorePatternError, IgnoreRules, go_match, read_patterns

BAD = "bad"

# Go's own filepath.Match table (path/filepath/match_test.go)
GO_MATCH_CASES = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True), ("a*", "abc", True),
    ("a*", "ab/c", False), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False), ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    ("a?b", "a\u263ab", True), ("a[^a]b", "a\u263ab", True), ("a???b", "a\u263ab", False),
    ("a[^a][^a][^a]b", "a\u263ab", False), ("[a-\u03b6]*", "\u03b1", True), ("*[a-\u03b6]", "A", False),
    ("a?b", "a/b", False), ("a*b", "a/b", False), ("[\\]a]", "]", True), ("[\\-]", "-", True),
    ("[x\\-]", "x", True), ("[x\\-]", "-", True), ("[x\\-]", "z", False), ("[\\-x]", "x", True),
    ("[\\-x]", "-", True), ("[\\-x]", "a", False), ("[]a]", "]", BAD), ("[-]", "-", BAD), ("[x-]", "x", BAD),
    ("[x-]", "-", BAD), ("[x-]", "z", BAD), ("[-x]", "x", BAD), ("[-x]", "-", BAD), ("[-x]", "a", BAD),
    ("\\", "a", BAD), ("[a-b-c]", "a", BAD), ("[", "a", BAD), ("[^", "a", BAD), ("[^bc", "a", BAD),
    ("a[", "a", BAD), ("a[", "ab", BAD), ("a[", "x", BAD), ("a/b[", "x", BAD), ("*x", "xxx", True),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), GO_MATCH_CASES)
def test_go_match(pattern: str, name: str, expected: object) -> None:
    if expected == BAD:
        with pytest.raises(IgnorePatternError, match="syntax error in pattern"):
            go_match(pattern, name)
    else:
        assert go_match(pattern, name) is expected


def test_reading_an_ignore_file() -> None:
    text = "\ufeff# comment\n  # not a comment\n\n  foo/  \r\n! bar\n/abs\n/../up\n../stays\n./dot\n"
    assert read_patterns(text) == ["# not a comment", "foo", "!bar", "abs", "up", "../stays", "dot"]


def test_bad_patterns_are_refused() -> None:
    with pytest.raises(IgnorePatternError, match='illegal exclusion pattern: "!"'):
        IgnoreRules.parse("!\n")
    with pytest.raises(IgnorePatternError, match="syntax error in pattern"):
        IgnoreRules.parse("a[\n")


DIRS = ["foo", "foo/bar", "bar", "target", "target/subdir", "subdir", "subdir/target", "subdir/target/subdir",
        "subdir/subdir2", "subdir/subdir2/target", "subdir/subdir2/target/subdir"]
FILES = ["Dockerfile", "Dockerfile.alt", ".dockerignore", "a.py", "a.go", "b.py", "cde.py", "foo/a.py", "foo/b.py",
         "foo/bar/a.py", "bar/a.py", "foo/Dockerfile3", "target/file.txt", "target/subdir/file.txt",
         "subdir/file.txt", "subdir/target/file.txt", "subdir/target/subdir/file.txt", "subdir/subdir2/file.txt",
         "subdir/subdir2/target/file.txt", "subdir/subdir2/target/subdir/file.txt"]
ALL = set(DIRS + FILES)


def make_tree(base: Path, dirs: list[str], files: list[str]) -> Path:
    for directory in dirs:
        (base / directory).mkdir(parents=True, exist_ok=True)
    for file in files:
        (base / file).parent.mkdir(parents=True, exist_ok=True)
        (base / file).write_text("x")
    return base


def context(root: Path, patterns: list[str], dockerfile: str = "Dockerfile") -> set[str]:
    """What the docker CLI puts in the context tar: the ignore file and the Dockerfile always."""
    rules = IgnoreRules.parse("\n".join(patterns)).keeping(".dockerignore", os.path.normpath(dockerfile))
    names = [path for path, _ in rules.walk(str(root))]
    assert len(names) == len(set(names))
    for name in names:  # the single-path answer agrees with the walk
        assert not rules.matches(name)
    for name in ALL - set(names) if root.name == "tree" else ():
        assert rules.matches(name)
    return set(names)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "tree", DIRS, FILES)


DOCKER_PY_CASES = [
    ([""], ALL),
    (["*"], {"Dockerfile", ".dockerignore"}),
    (["Dockerfile", ".dockerignore"], ALL),
    (["a.py"], ALL - {"a.py"}),
    (["./a.py"], ALL - {"a.py"}),
    (["a.py/"], ALL - {"a.py"}),
    (["*.py"], ALL - {"a.py", "b.py", "cde.py"}),
    (["*.py", "!b.py"], ALL - {"a.py", "cde.py"}),
    (["*.*", "!*.go"], ALL - {"a.py", "b.py", "cde.py", "Dockerfile.alt"}),
    (["a.*"], ALL - {"a.py", "a.go"}),
    (["?.py"], ALL - {"a.py", "b.py"}),
    (["foo/a.py"], ALL - {"foo/a.py"}),
    (["/foo/a.py"], ALL - {"foo/a.py"}),
    (["foo/whoops/../a.py"], ALL - {"foo/a.py"}),
    (["foo/*.py"], ALL - {"foo/a.py", "foo/b.py"}),
    (["*/a.py"], ALL - {"foo/a.py", "bar/a.py"}),
    (["*/*.py"], ALL - {"foo/a.py", "foo/b.py", "bar/a.py"}),
    (["foo"], ALL - {"foo", "foo/a.py", "foo/b.py", "foo/bar", "foo/bar/a.py", "foo/Dockerfile3"}),
    (["foo/"], ALL - {"foo", "foo/a.py", "foo/b.py", "foo/bar", "foo/bar/a.py", "foo/Dockerfile3"}),
    (["foo", "!foo/bar/a.py"], ALL - {"foo/a.py", "foo/b.py", "foo", "foo/bar", "foo/Dockerfile3"}),
    (["foo", "!foo/bar"], ALL - {"foo/a.py", "foo/b.py", "foo", "foo/Dockerfile3"}),
    (["foo", "!foo/*.py"], ALL - {"foo/bar", "foo/bar/a.py", "foo", "foo/Dockerfile3"}),
    (["foo/bar"], ALL - {"foo/bar", "foo/bar/a.py"}),
    (["**/a.py"], ALL - {"a.py", "foo/a.py", "foo/bar/a.py", "bar/a.py"}),
    (["foo/**/bar"], ALL - {"foo/bar", "foo/bar/a.py"}),
    (["**/target/*/*"], ALL - {"target/subdir/file.txt", "subdir/target/subdir/file.txt",
                               "subdir/subdir2/target/subdir/file.txt"}),
    (["subdir/**"], ALL - {"subdir/file.txt", "subdir/target/file.txt", "subdir/target/subdir/file.txt",
                           "subdir/subdir2/file.txt", "subdir/subdir2/target/file.txt",
                           "subdir/subdir2/target/subdir/file.txt", "subdir/target", "subdir/target/subdir",
                           "subdir/subdir2", "subdir/subdir2/target", "subdir/subdir2/target/subdir"}),
    (["**", "!bar", "!foo/bar"], {"foo/bar", "foo/bar/a.py", "bar", "bar/a.py", "Dockerfile", ".dockerignore"}),
]


@pytest.mark.parametrize(("patterns", "expected"), DOCKER_PY_CASES, ids=[" ".join(c[0]) or "none" for c in
                                                                         DOCKER_PY_CASES])
def test_docker_py_exclude_cases(tree: Path, patterns: list[str], expected: set[str]) -> None:
    assert context(tree, patterns) == expected


def test_a_custom_dockerfile_is_always_sent(tree: Path) -> None:
    assert context(tree, ["*"], "Dockerfile.alt") == {"Dockerfile.alt", ".dockerignore"}
    assert context(tree, ["*"], "foo/Dockerfile3") == {"foo/Dockerfile3", ".dockerignore"}
    assert context(tree, ["*"], "./foo/Dockerfile3") == {"foo/Dockerfile3", ".dockerignore"}
    kept = context(tree, ["foo/"], "foo/Dockerfile3")
    assert "foo/Dockerfile3" in kept
    assert "foo/a.py" not in kept


def test_absolute_patterns_with_an_exception(tmp_path: Path) -> None:
    root = make_tree(tmp_path, [], ["a.py", "b.py"])
    assert context(root, ["/*", "!/*.py"]) == {"a.py", "b.py"}


def test_an_exception_inside_an_excluded_directory_needs_its_prefix(tmp_path: Path) -> None:
    """docker-py's test_include_wildcard (the CLI's behaviour): ``!*/b.py`` does not reopen ``a``."""
    root = make_tree(tmp_path, ["a"], ["a/b.py"])
    assert context(root, ["*", "!*/b.py"]) == set()


def test_the_last_matching_line_wins(tmp_path: Path) -> None:
    root = make_tree(tmp_path, [], ["garbage.md", "trash.md", "README.md", "README-bis.md", "README-secret.md"])
    assert context(root, ["*.md", "!README*.md", "README-secret.md"]) == {"README.md", "README-bis.md"}


def test_parent_directory_patterns_follow_go_clean(tmp_path: Path) -> None:
    """``/../b.py`` is ``b.py`` (Clean drops ``..`` at the root), but ``../a.py`` matches nothing in Docker.

    docker-py drops the ``..`` of both; Docker's CLI (whose rules moor follows) keeps ``a.py``.
    """
    root = make_tree(tmp_path, [], ["a.py", "b.py", "c.py"])
    rules = IgnoreRules.parse("../a.py\n/../b.py\n")
    assert {path for path, _ in rules.walk(str(root))} == {"a.py", "c.py"}


def test_matches_answers_for_single_paths() -> None:
    rules = IgnoreRules.parse("**/node_modules\n*.log\n!keep.log\nbuild/**\n")
    assert rules.matches("node_modules")
    assert rules.matches("a/b/node_modules/x/y.js")
    assert rules.matches("x.log")
    assert not rules.matches("keep.log")
    assert not rules.matches("a/x.log")
    assert rules.matches("build/out/x")
    assert not rules.matches("build")
    assert not rules.matches(".")
    assert not IgnoreRules().matches("anything")


def test_symlinks_are_listed_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    (tmp_path / "link").symlink_to("real")
    assert [path for path, _ in IgnoreRules().walk(str(tmp_path))] == ["link", "real", "real/f"]


def test_the_module_imports_only_the_standard_library() -> None:
    import subprocess
    import sys

    code = ("import sys; import moor.build.ignore; "
            "print(sorted(m for m in sys.modules if m.startswith('moor')), 'inspect' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['moor', 'moor.build', 'moor.build.ignore'] False"  # no dataclasses/inspect either
