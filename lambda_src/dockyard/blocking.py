"""Keeping requests that need no backend off the worker threads.

Plain `def` routes and dependencies run in a pool of worker threads (40 under uvicorn). When a backend
stalls, every thread can be waiting on it, and a request that needs no AWS call at all (the `GET /v2/`
probe, the 401 challenge, a Bearer token checked against a keyring already loaded) would queue behind
them. So the auth dependencies run on the event loop with blocking forbidden: every AWS client refuses a
call there (`WouldBlock`, raised by a botocore hook on `BOTOCORE_EVENT`, the first event of a call, before
any endpoint is resolved or anything serialized or sent), and the check is then run again in a worker
thread. Only the requests that really need the backend wait for it.

Async routes call what may block through `offload`: under Lambda (Mangum) inline, since an instance serves
one request at a time and a worker thread would be started anew for every invocation; under an ASGI server
(uvicorn) on the event loop when it needs no backend call, else in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

# The first event of a botocore API call: refusing there wastes nothing (at `before-call`, after endpoint
# resolution and serialization, an attempt cost 110-180 µs of CPU instead of 16-26 µs).
BOTOCORE_EVENT = "provide-client-params.*.*"

_ON_EVENT_LOOP: ContextVar[bool] = ContextVar("dockyard_on_event_loop", default=False)


class WouldBlock(BaseException):
    """Raised instead of a blocking backend call on the event loop; the work moves to a thread. Not an
    `Exception`, so that no `except Exception` on the way (a pull's best-effort bookkeeping, say) takes it
    for a failed call and goes on without it."""


def may_block() -> bool:
    """Whether a backend call may be made here (False on the event loop, where it would be refused)."""
    return not _ON_EVENT_LOOP.get()


def forbid_on_event_loop(**_) -> None:
    """A botocore handler for `BOTOCORE_EVENT` (and a check before an AWS client is built)."""
    if _ON_EVENT_LOOP.get():
        raise WouldBlock


async def without_blocking(work: Callable[..., T], *args) -> T:
    """`work(*args)` on the event loop if it makes no backend call; otherwise in a worker thread. `work`
    must change nothing before its first backend call (it is run again from the start)."""
    from anyio import to_thread

    marker = _ON_EVENT_LOOP.set(True)
    try:
        return work(*args)
    except WouldBlock:
        pass
    finally:
        _ON_EVENT_LOOP.reset(marker)
    return await to_thread.run_sync(work, *args)


async def offload(request, work: Callable[..., T], /, *args) -> T:
    """`work(*args)` for an async route: inline under Lambda, else as `without_blocking` runs it."""
    if "aws.event" in request.scope:
        return work(*args)
    return await without_blocking(work, *args)
