"""Development-time: run every API case against a real dockerd 20.10 and record its answers.

``python tests/hostile/record_docker.py /path/to/docker.sock [--missing-only]`` (a dockerd started by hand with its own
--data-root, --exec-root and socket, --iptables=false --bridge=none, busybox:latest imported). Writes
``data/docker_answers.json``: case id -> [status, message]. The tests compare moord with it; they never
need dockerd.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from hostile.apicases import DATA, all_cases
from hostile.targets import make_targets, remove_targets, run_case


def main(sock: str, missing_only: bool) -> None:
    """Record every case (or, with ``missing_only``, the cases the file does not have yet)."""
    remove_targets(sock)
    make_targets(sock)
    path = DATA / "docker_answers.json"
    answers: dict[str, list[object]] = json.loads(path.read_text()) if missing_only else {}
    try:
        for case in all_cases():
            if case.id in answers:
                continue
            started = time.monotonic()
            answer = run_case(sock, case)
            print(f"{case.id}: {answer.status} {time.monotonic() - started:.2f}s {answer.message[:100]}", flush=True)
            answers[case.id] = [answer.status, answer.message[:400]]
    finally:
        remove_targets(sock)
    path.write_text(json.dumps(answers, indent=0, sort_keys=True) + "\n")
    print(f"{len(answers)} answers recorded")


if __name__ == "__main__":
    main(sys.argv[1], "--missing-only" in sys.argv[2:])
