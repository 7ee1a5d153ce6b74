"""--change instructions applied to an image's container config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moor.errors import InvalidParameter
from moor.images.changes import apply_changes

DATA = Path(__file__).parent / "build" / "data" / "classic_builder.json"


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


def test_env_replaces_same_key_in_place() -> None:
    # as dockerd 20.10's commit --change (tests/unit/build/data/classic_builder.json, "commit_change")
    assert apply_changes({"Env": ["A=1", "B=2"]}, ["ENV A=3"])["Env"] == ["A=3", "B=2"]


def test_changes_as_docker_commit() -> None:
    recorded = json.loads(DATA.read_text())["commit_change"]
    assert apply_changes(recorded["container"], recorded["changes"]) == recorded["config"]
    # ENTRYPOINT drops the CMD unless a CMD comes in the same changes; words are expanded with the config's Env
    assert apply_changes({"Cmd": ["true"]}, ['ENTRYPOINT ["x"]']) == {"Cmd": None, "Entrypoint": ["x"]}
    assert apply_changes({"Cmd": ["true"]}, ['CMD ["c"]', 'ENTRYPOINT ["x"]'])["Cmd"] == ["c"]
    assert apply_changes({"Env": ["H=/h"]}, ["ENV B=$H/b", "WORKDIR $NONE/x"]) == {
        "Env": ["H=/h", "B=/h/b"], "WorkingDir": "/x"}
    assert apply_changes({}, ["HEALTHCHECK --interval=5s CMD true"])["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000}


@pytest.mark.parametrize(("change", "error"), [
    ("RUN echo", "^run is not a valid change command$"),
    ("FOO x", "^foo is not a valid change command$"),
    ("EXPOSE http", "^Invalid containerPort: http$"),
    ("LABEL novalue", "^LABEL must have two arguments$"),
    ("EXPOSE 99999", "^Invalid containerPort: 99999$"),
    ("EXPOSE 80-70", "^Invalid containerPort: 80-70$"),
    ("EXPOSE 80/foo", "^Invalid proto: foo$"),
    ("USER", "^USER requires exactly one argument$"),
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
