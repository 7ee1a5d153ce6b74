"""moord's supervisor of frontend processes (the web UI): restart with backoff, refusal, stop, lifeline."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from moor.daemon import frontends
from moor.errors import ConfigError


def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_an_exiting_frontend_is_restarted(tmp_path: Path) -> None:
    counter = tmp_path / "starts"
    script = f"open({str(counter)!r}, 'a').write('x')"
    supervisor = frontends.Supervisor("t", [sys.executable, "-c", script], first_delay=0.01, max_delay=0.02)
    supervisor.start()
    try:
        wait_for(lambda: counter.exists() and len(counter.read_text()) >= 3)
    finally:
        supervisor.stop()
    assert supervisor.starts >= 3


def test_a_refusal_is_logged_and_not_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    script = "import sys; print('moor-web-ui: refusing to listen on 0.0.0.0:1', file=sys.stderr); sys.exit(2)"
    supervisor = frontends.Supervisor("t", [sys.executable, "-c", script], first_delay=0.01)
    with caplog.at_level("INFO", logger="moord.frontends"):
        supervisor.start()
        supervisor._thread.join(20)
    assert not supervisor._thread.is_alive()
    assert supervisor.starts == 1
    assert "refused to start: refusing to listen on 0.0.0.0:1" in caplog.text
    supervisor.stop()


def test_stop_ends_the_process_and_its_restarts(tmp_path: Path) -> None:
    supervisor = frontends.Supervisor("t", [sys.executable, "-c", "import time; time.sleep(600)"], first_delay=0.01)
    supervisor.start()
    wait_for(lambda: supervisor.pid is not None)
    pid = supervisor.pid
    assert pid is not None
    supervisor.stop()
    assert not alive(pid)
    assert supervisor.starts == 1


def test_the_frontend_sees_end_of_file_on_stdin_when_the_supervisor_closes_it(tmp_path: Path) -> None:
    marker = tmp_path / "eof"
    script = f"import sys; sys.stdin.buffer.read(); open({str(marker)!r}, 'w').write('eof')"
    supervisor = frontends.Supervisor("t", [sys.executable, "-c", script], first_delay=60)
    supervisor.start()
    wait_for(lambda: supervisor.pid is not None)
    assert not marker.exists()
    process = supervisor._process
    assert process is not None and process.stdin is not None
    process.stdin.close()  # what moord's death does
    wait_for(marker.exists)
    supervisor.stop()


def test_an_enabled_frontend_that_is_not_installed_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontends, "entry_points", lambda **kwargs: [])
    with pytest.raises(ConfigError, match="no frontend 'web_ui' is installed"):
        frontends.make_frontends(True, {}, "unix:///run/moor/moor.sock")
    assert frontends.make_frontends(False, {}, "unix:///run/moor/moor.sock") == []


def test_the_web_ui_entry_point_gives_its_serve_command() -> None:
    pytest.importorskip("moor_web_ui")
    [supervisor] = frontends.make_frontends(True, {"listen": "127.0.0.1:9999", "data_dir": "/srv/ui"},
                                            "unix:///run/x.sock")
    argv = supervisor.argv
    assert argv[1:5] == ["-m", "moor_web_ui", "serve", "--exit-with-stdin"]
    assert argv[argv.index("--host") + 1] == "unix:///run/x.sock"
    assert argv[argv.index("--listen") + 1] == "127.0.0.1:9999"
    assert argv[argv.index("--data-dir") + 1] == "/srv/ui"
    assert "--tls-cert" not in argv
