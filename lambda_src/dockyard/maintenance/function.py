"""The garbage collection function of a deployed stack: its Lambda handler, and how the registry starts it.

EventBridge Scheduler invokes it daily (by default) with `{"scheduled": true}`: it starts a real run with the
configured grace (or the event's `grace`, in seconds). The admin API invokes it asynchronously with `{"run": "<id>"}` for a run it started. Either
way it carries the run on until the invocation's time is nearly out, then invokes itself again with the same
run id, so a run of any size finishes over as many invocations as it needs (its record says where it is).
"""

from __future__ import annotations

import json
import logging
import time

from dockyard.config import Settings

log = logging.getLogger("dockyard")
# Stop this long before the invocation's own timeout, to save the run's progress and hand it on.
MARGIN = 60
# Invocations one run may chain (at 15 minutes each: more than a day of work).
MAX_HOPS = 120


def invoker(settings: Settings):
    """Start a run in the GC function (asynchronously: the caller never waits for it)."""
    def launch(run_id: str, hop: int = 0) -> None:
        from dockyard.storage.aws import lambda_client

        lambda_client(settings).invoke(FunctionName=settings.gc_function, InvocationType="Event",
                                       Payload=json.dumps({"run": run_id, "hop": hop}).encode())

    return launch


def handler(event: dict, context) -> dict:
    from dockyard.factory import build_registry
    from dockyard.maintenance.runs import Busy
    from dockyard.maintenance.service import describe_run

    settings = Settings.from_env()
    runner = build_registry(settings).maintenance.runner
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - MARGIN
    run_id, hop = event.get("run"), int(event.get("hop", 0))
    if run_id is None:
        try:
            run_id = runner.start(dry_run=False, grace=int(event.get("grace", settings.gc_grace))).id
        except Busy as busy:
            log.warning("scheduled garbage collection skipped: %s", busy)
            return {"skipped": str(busy)}
    run = runner.work(run_id, deadline)
    if run is not None and run.state == "running":
        if hop + 1 >= MAX_HOPS:
            log.error("garbage collection run %s stopped after %d invocations", run_id, hop + 1)
        else:
            invoker(Settings(**{**settings.__dict__, "gc_function": context.invoked_function_arn}))(run_id, hop + 1)
    return describe_run(run) if run is not None else {"run": run_id, "state": "unknown"}
