"""GC on a schedule inside `dockyard serve` (`--gc-every`): the local stand-in for the stack's scheduled function.

One thread of the serving process (the uvicorn master, whatever the number of workers) starts a real run at
each interval and carries it to its end; a run already in progress (say, one `dockyard gc` started) is
left alone until the next interval.
"""

from __future__ import annotations

import logging
import threading

from dockyard.config import Settings

log = logging.getLogger("dockyard")


def every(seconds: int, settings: Settings) -> threading.Event:
    """Start the schedule; setting the returned event stops it."""
    stop = threading.Event()

    def loop() -> None:
        from dockyard.factory import build_registry
        from dockyard.maintenance.runs import Busy

        runner = build_registry(settings).maintenance.runner
        while not stop.wait(seconds):
            try:
                run = runner.work(runner.start(dry_run=False, grace=settings.gc_grace).id)
                log.info("scheduled garbage collection %s: %s", run.id, run.counts)
            except Busy as busy:
                log.info("scheduled garbage collection skipped: %s", busy)
            except Exception:  # noqa: BLE001 - the schedule goes on; the next run retries
                log.exception("scheduled garbage collection failed")

    threading.Thread(target=loop, name="dockyard-gc-schedule", daemon=True).start()
    log.info("garbage collection every %d s (grace %d s)", seconds, settings.gc_grace)
    return stop
