"""The pull's message pump ends as soon as the applier says it is done, not at its next poll."""

from __future__ import annotations

import threading

from moor.services.registry import pull


def test_the_pump_stops_at_the_appliers_last_message() -> None:
    run = pull._Run()
    run.send({"status": "Pull complete"})
    run.send(pull.APPLIER_DONE)
    hold = threading.Event()
    applier = threading.Thread(target=hold.wait)  # still alive: only its last message can end the pump
    applier.start()
    emitted: list[dict[str, object]] = []
    pumping = threading.Thread(target=pull.PullService._pump, args=(None, run, applier, emitted.append))
    try:
        pumping.start()
        pumping.join(30)
        assert not pumping.is_alive()
        assert emitted == [{"status": "Pull complete"}]  # the marker itself is not sent to the client
    finally:
        hold.set()
        applier.join()
        pumping.join(30)
