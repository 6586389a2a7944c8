"""Counting a manifest's references in (when it is created) and out (when it is deleted).

A reference is a link of the manifest's repository (its `refs` count) or a child manifest (its `parents`).
Normally the counts change in the transaction that creates or deletes the manifest item. A manifest with more
references than a transaction holds (100 items) counts them in batches instead, under a progress entry whose
`done` every batch moves on, conditioned on the value it read (so concurrent workers never count one twice):
- **in:** a `pending` entry (one per manifest digest: a retried push continues where it stopped); the
  manifest item is written last, with the entry's deletion, so counts are only ever too high before it;
- **out:** an `unref` entry, written by the transaction that deletes the manifest item; the batches follow.
An entry left behind by a crash is in the GC queue (`gc_at`): GC undoes a pending one that stayed still for
the grace period, and finishes an unref one. A manifest body kept as a blob is counted in first and out last,
so it can be read for as long as an entry needs it.
"""

from __future__ import annotations

import time

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from dockyard.storage.dynamo.blobs import GC_AT, link_refs, queued
from dockyard.storage.dynamo.table import SK, Change, Cond, Table, absent, b, equals, exists, key, n, s, value
from dockyard.storage.types import Batched, ConditionFailed, Uses

TRANSACTION_LIMIT = 100
BATCH = TRANSACTION_LIMIT - 1  # and the entry's own update
PENDING, UNREF = "pending#", "unref#"


def change(repo: str, reference: tuple[bool, Digest], delta: int, now: int, placeholder: bool = False) -> Change:
    is_blob, digest = reference
    if is_blob:
        return link_refs(repo, digest, delta, now, placeholder)
    return Change(keys.repo_pk(repo), keys.manifest_sk(digest), adds={"parents": delta}, condition=exists())


def changes(repo: str, digest: Digest, uses: Uses, delta: int, now: int, placeholder: bool = False) -> list[Change]:
    return [change(repo, r, delta, now, placeholder) for r in uses.ordered(digest, delta > 0)]


def _entry(repo: str, item: dict) -> Batched:
    sk = item[SK]["S"]
    digest = sk[len(PENDING):] if sk.startswith(PENDING) else sk[len(UNREF):].rsplit("#", 1)[0]
    return Batched(repo=repo, digest=Digest.parse(digest), handle=sk, done=n(item, "done"), total=n(item, "total"),
                   media_type=s(item, "media_type") or "", body=b(item, "body"),
                   body_location=s(item, "body_location"), since=n(item, GC_AT), lazy="lazy" in item)


def entry_item(repo: str, sk: str, record_fields: dict, total: int, now: int) -> dict:
    pk = keys.repo_pk(repo)
    return {**key(pk, sk), "done": value(0), "total": value(total), **record_fields, **queued(pk, sk, now)}


class Batches:
    def __init__(self, table: Table):
        self.table = table

    def get(self, repo: str, handle: str) -> Batched | None:
        item = self.table.get(keys.repo_pk(repo), handle)
        return _entry(repo, item) if item else None

    def pending(self, repo: str, digest: Digest, record_fields: dict, total: int) -> Batched:
        """The manifest's pending entry, as it is, or a new one."""
        sk = keys.pending_sk(digest)
        for _ in range(3):
            found = self.get(repo, sk)
            if found is not None:
                return found
            try:
                self.table.put(entry_item(repo, sk, record_fields, total, int(time.time())), absent())
            except ConditionFailed:
                continue
        raise ConditionFailed()

    def count_in(self, entry: Batched, uses: Uses, placeholder: bool = False) -> Batched:
        """Count the rest of a pending entry's references; on a missing one, undo everything counted and raise
        `ConditionFailed` (the caller looks again at what is missing)."""
        references = uses.ordered(entry.digest, True)
        while entry.done < entry.total:
            batch = references[entry.done:entry.done + BATCH]
            if not batch:
                raise ValueError(f"{entry.handle}: {entry.total} references announced, {len(references)} given")
            try:
                self._step(entry, entry.done + len(batch), [change(entry.repo, r, 1, 0, placeholder) for r in batch])
            except ConditionFailed as failed:
                if 0 not in failed.failed:  # a reference is missing
                    self.undo(entry, uses)
                    raise
            entry = self.get(entry.repo, entry.handle)
            if entry is None:
                raise ConditionFailed()  # finished (or undone) by another worker meanwhile
        return entry

    def undo(self, entry: Batched, uses: Uses, still_since: int | None = None) -> bool:
        """Count a pending entry's references back out and drop it; with `still_since`, only while nobody moved
        it on since then. False if it was moved on (or gone) meanwhile."""
        references = uses.ordered(entry.digest, True)
        now = int(time.time())
        while True:
            current = self.get(entry.repo, entry.handle)
            if current is None or (still_since is not None and current.since != still_since):
                return False
            if current.done == 0:
                break
            start = max(0, current.done - BATCH)
            try:
                self._step(current, start, [change(entry.repo, r, -1, now) for r in references[start:current.done]],
                           keep_since=still_since is not None)
            except ConditionFailed:
                continue
        try:
            self.table.delete(keys.repo_pk(entry.repo), entry.handle, equals("done", 0))
        except ConditionFailed:
            return False
        return True

    def pay(self, entry: Batched, uses: Uses) -> None:
        """Count an unref entry's references out, to the end, and drop it."""
        references = uses.ordered(entry.digest, False)
        now = int(time.time())
        while True:
            current = self.get(entry.repo, entry.handle)
            if current is None:
                return
            if current.done >= current.total:
                break
            batch = references[current.done:current.done + BATCH]
            try:
                self._step(current, current.done + len(batch), [change(entry.repo, r, -1, now) for r in batch])
            except ConditionFailed:
                continue
        try:
            self.table.delete(keys.repo_pk(entry.repo), entry.handle, equals("done", entry.total))
        except ConditionFailed:
            pass

    def _step(self, entry: Batched, done: int, counted: list[Change], keep_since: bool = False) -> None:
        moved = Change(keys.repo_pk(entry.repo), entry.handle, sets={"done": done},
                       condition=equals("done", entry.done))
        if not keep_since:
            moved.sets[GC_AT] = int(time.time())
        self.table.transact([self.table.change_op(moved), *map(self.table.change_op, counted)])
