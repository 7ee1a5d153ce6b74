"""A repeated query parameter reads as its first value, as Go's ``url.Values.Get`` in Docker's routes.

docker-py sends an out-of-context Dockerfile as ``dockerfile=.dockerfile.<hex>&dockerfile=<its text>``
(a tuple encoded by requests); Docker uses the first, the name of the file docker-py put in the context.
"""

from __future__ import annotations

from moor.api.http import Request


def request(query: dict[str, list[str]]) -> Request:
    return Request(method="POST", path="/build", query=query, headers={}, body=None,  # type: ignore[arg-type]
                   version="1.41")


def test_a_repeated_parameter_reads_as_its_first_value() -> None:
    built = request({"dockerfile": [".dockerfile.0123abcd", "FROM busybox\nCOPY . /src\n"], "t": ["a", "b"]})
    assert built.arg("dockerfile") == ".dockerfile.0123abcd"
    assert built.arg("t") == "a"
    assert built.arg("missing", "Dockerfile") == "Dockerfile"


def test_flags_and_numbers_read_the_first_value_too() -> None:
    built = request({"rm": ["0", "1"], "memory": ["5", "7"]})
    assert built.flag("rm", default=True) is False
    assert built.int_arg("memory") == 5
