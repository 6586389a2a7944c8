"""A brake on guessing secrets: per key id, in this process's memory, so a failure costs no write.

A key id's first `FREE_FAILURES` failed checks (within `WINDOW` seconds of each other) cost nothing more.
Each later failure closes that key id for 1 s, then 2 s, 4 s ... up to `MAX_DELAY`; while it is closed,
every attempt with that id gets `429 TOOMANYREQUESTS` with `Retry-After`, before any secret is compared or
any key is read, the right secret included (else a guess that succeeds would still be told apart). A
success opens the id again. The same brake serves the token endpoint and Basic credentials on registry
endpoints. It is per instance: N warm Lambda instances allow N times the rate (reserved concurrency caps N).
"""

from __future__ import annotations

import math
import threading
import time

from dockyard.errors import Err, RegistryError

FREE_FAILURES = 5
WINDOW = 60.0
MAX_DELAY = 60.0
ID_LIMIT = 128  # characters of a presented key id that are remembered
MAX_TRACKED = 10_000  # key ids remembered at once; the stalest are forgotten first


class Throttle:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float, float]] = {}  # id -> (failures, closed until, forget at)

    def check(self, key_id: str) -> None:
        """Raise 429 while `key_id` is closed."""
        entry = self._failures.get(key_id[:ID_LIMIT])
        if entry is None:
            return
        wait = entry[1] - self.clock()
        if wait > 0:
            raise RegistryError(Err.TOOMANYREQUESTS, f"too many failed attempts for this key id; retry in "
                                                     f"{math.ceil(wait)} s", headers={"Retry-After": str(math.ceil(wait))})

    def failed(self, key_id: str) -> None:
        now, key_id = self.clock(), key_id[:ID_LIMIT]
        with self._lock:
            count, _, forget_at = self._failures.pop(key_id, (0, 0.0, 0.0))
            count = count + 1 if forget_at > now else 1
            delay = min(MAX_DELAY, 2.0 ** (count - FREE_FAILURES - 1)) if count > FREE_FAILURES else 0.0
            self._failures[key_id] = (count, now + delay, now + delay + WINDOW)
            if len(self._failures) > MAX_TRACKED:
                self._forget(now)

    def succeeded(self, key_id: str) -> None:
        if key_id[:ID_LIMIT] in self._failures:
            with self._lock:
                self._failures.pop(key_id[:ID_LIMIT], None)

    def _forget(self, now: float) -> None:
        for key_id in [k for k, (_, _, forget_at) in self._failures.items() if forget_at <= now]:
            del self._failures[key_id]
        while len(self._failures) > MAX_TRACKED:
            del self._failures[next(iter(self._failures))]  # the least recently failed
