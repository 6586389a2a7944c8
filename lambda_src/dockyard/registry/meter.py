"""Usage metering: pulls, blob downloads (redirected or served from memory) and pushes per repository and day.

A pull must not pay a write: an instance counts manifest GETs and blob redirects in memory and adds them to
the table in batches (one UpdateItem per repository and day that saw activity), when the oldest count it
holds is `interval` seconds old, from the next manifest GET (which runs where blocking calls may run). With
`interval` 0 every manifest GET writes what it counted: one write per pull at most. A manifest PUT writes
its count at once (pushes are exact).

How exact: counts are never counted twice, and a failed write keeps them for the next batch. An instance
that ends (a Lambda instance reclaimed after idling) loses what it counted since its last batch: at most
`interval` seconds of its pulls.
"""

from __future__ import annotations

import calendar
import logging
import threading
import time

from dockyard.blocking import may_block
from dockyard.storage.interfaces import GovernanceStore
from dockyard.storage.types import UsageCounts

log = logging.getLogger("dockyard")

# A day's counts are kept this long (then DynamoDB's TTL removes them).
KEEP_DAYS = 400
# Repositories written by one batch at most: a request never waits on more; the rest go with the next.
MAX_BATCH = 8
DAY = 86400


def day_of(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


class Meter:
    def __init__(self, store: GovernanceStore, interval: int, clock=time.time):
        self.store, self.interval, self.clock = store, interval, clock
        self._pending: dict[tuple[str, str], UsageCounts] = {}
        self._since: float | None = None  # when the oldest pending count was taken
        self._lock = threading.Lock()

    def pulled(self, repo: str) -> None:
        """A manifest GET; then the batch, if it is due and this request may wait on the backend (a manifest
        answered from memory on the event loop leaves the batch to the next request that may)."""
        now = self.clock()
        if self._count(repo, now, UsageCounts(pulls=1, last_pull=int(now))) >= self.interval and may_block():
            self.flush()

    def downloaded(self, repo: str, size: int, served: bool) -> None:
        """A blob GET answered with a redirect to the byte store, or `served` by this instance from memory
        (counted in memory only: no call, no wait)."""
        now = self.clock()
        counts = UsageCounts(served=1, served_bytes=size) if served else UsageCounts(redirects=1, redirect_bytes=size)
        self._count(repo, now, counts + UsageCounts(last_pull=int(now)))

    def pushed(self, repo: str) -> None:
        """A manifest PUT, written at once (if that fails, with the next batch)."""
        now = self.clock()
        counts = UsageCounts(pushes=1, last_push=int(now))
        try:
            self._write(repo, day_of(now), counts)
        except Exception as exc:  # the push is stored: its count must not fail it
            log.warning("push count of %s not written yet: %s", repo, exc)
            self._count(repo, now, counts)

    def flush(self, most: int | None = MAX_BATCH) -> None:
        """Write up to `most` (None: all) repositories' pending counts (what fails stays pending)."""
        with self._lock:
            taken = list(self._pending.items())[:most]
            for entry, _ in taken:
                del self._pending[entry]
            if not self._pending:  # else what is left is due too (with the next request)
                self._since = None
        for n, ((repo, day), counts) in enumerate(taken):
            try:
                self._write(repo, day, counts)
            except Exception as exc:  # metering never fails a pull
                log.warning("usage counts of %s not written yet: %s", repo, exc)
                self._put_back([((repo, day), counts)])
            except BaseException:  # not a failed write (refused on the event loop, say): keep all that is left
                self._put_back(taken[n:])
                raise

    def _put_back(self, entries) -> None:
        with self._lock:
            for entry, counts in entries:
                self._pending[entry] = self._pending.get(entry, UsageCounts()) + counts
            self._since = self._since or self.clock()

    def _count(self, repo: str, now: float, counts: UsageCounts) -> float:
        """Add to the pending counts; returns the age of the oldest."""
        entry = (repo, day_of(now))
        with self._lock:
            self._pending[entry] = self._pending.get(entry, UsageCounts()) + counts
            if self._since is None:
                self._since = now
            return now - self._since

    def _write(self, repo: str, day: str, counts: UsageCounts) -> None:
        expires = calendar.timegm(time.strptime(day, "%Y-%m-%d")) + KEEP_DAYS * DAY
        self.store.add_usage(repo, day, counts, expires)
