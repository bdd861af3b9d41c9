"""Worker processes' lanes: threads that run until a stop is asked for, then get a grace to finish their step.

Shared by the live refresher (`serving/live/worker.py`) and the workflow worker (`serving/workflows/worker.py`).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)
WAKE_CHECK_SECONDS = 1.0   # how soon a waiting lane (or this loop) notices `stop`


def run_until_stopped(threads: list[threading.Thread], stop: threading.Event, join_grace: float,
                      inside: str = "a step") -> bool:
    """Start `threads` and wait until `stop` is set, every lane has ended, or this thread is interrupted
    (Ctrl-C); then set `stop` and give the lanes `join_grace` seconds in all to finish what they are inside.
    True when every lane stopped; False when one was still inside `inside` and is abandoned (its open
    transaction rolls back when the process exits)."""
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set() and any(t.is_alive() for t in threads):
            stop.wait(WAKE_CHECK_SECONDS)
    except KeyboardInterrupt:   # Ctrl-C: stop the lanes like `stop` would
        pass
    stop.set()
    deadline = time.monotonic() + join_grace
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        log.warning("%s still inside %s after %.0fs: abandoned", ", ".join(stuck), inside, join_grace)
    return not stuck
