"""--change instructions applied to an image's container config."""

from __future__ import annotations

import pytest

from moor.errors import InvalidParameter
from moor.images.changes import apply_changes


def test_every_instruction() -> None:
    config = apply_changes({}, [
        'CMD ["/bin/sh", "-c", "echo hi"]',
        "ENTRYPOINT /entry.sh",
        "ENV A=1 B=two",
        "ENV C three words",
        'LABEL maintainer="me" version=2',
        "EXPOSE 80 53/udp",
        'VOLUME ["/data", "/logs"]',
        "WORKDIR /srv",
        "USER nobody",
        "STOPSIGNAL SIGINT",
    ])
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/entry.sh"]
    assert config["Env"] == ["A=1", "B=two", "C=three words"]
    assert config["Labels"] == {"maintainer": "me", "version": "2"}
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["Volumes"] == {"/data": {}, "/logs": {}}
    assert (config["WorkingDir"], config["User"], config["StopSignal"]) == ("/srv", "nobody", "SIGINT")


def test_env_replaces_same_key() -> None:
    assert apply_changes({"Env": ["A=1", "B=2"]}, ["ENV A=3"])["Env"] == ["B=2", "A=3"]


@pytest.mark.parametrize(("change", "error"), [
    ("RUN echo", "RUN is not a valid change command"),
    ("EXPOSE http", "invalid containerPort: http"),
    ("LABEL novalue", "must have two arguments|can't find ="),
    ("EXPOSE 99999", "invalid containerPort: 99999"),
    ("EXPOSE 0-80", "invalid containerPort: 0-80"),
    ("USER", "USER requires exactly one argument"),
    ("VOLUME", "VOLUME requires at least one argument"),
    ("CMD [1, 2]", "arrays must be comprised of strings only"),
    ("STOPSIGNAL NOPE", "Invalid signal: NOPE"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
])
def test_bad_changes(change: str, error: str) -> None:
    with pytest.raises(InvalidParameter, match=error):
        apply_changes({}, [change])


def test_healthcheck_recovered_from_docker_history() -> None:
    from moor.images.healthcheck import healthcheck_from_history

    history = [{"created_by": "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"test -f /data/x\"] \"5s\" \"2s\" "
                              "\"0s\" '\\x02'}"},
               {"created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]"}]
    assert healthcheck_from_history(history) == {"Test": ["CMD-SHELL", "test -f /data/x"], "Interval": 5_000_000_000,
                                                 "Timeout": 2_000_000_000, "Retries": 2}
    assert healthcheck_from_history([{"created_by": "RUN true"}]) is None
