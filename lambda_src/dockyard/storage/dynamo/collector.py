"""The garbage collector's side of the table (`Collector` on DynamoDB): its queue, and the conditional steps
that collect what it finds (see `dockyard.maintenance` for the design and its invariants).

The queue is the sparse index on (`gc_shard`, `gc_at`): every item that may be garbage carries `gc_at`. A step
that finds an item in use takes it out of the queue on condition that nothing queued it again since.
"""

from __future__ import annotations

import secrets

from dockyard.domain.digest import Digest
from dockyard.resources import Table as Schema
from dockyard.storage import keys
from dockyard.storage.dynamo import hints
from dockyard.storage.dynamo.blobs import ATTEMPTS, GC_AT, _ref, unlink_ops, unreferenced
from dockyard.storage.dynamo.references import PENDING, UNREF, Batches
from dockyard.storage.dynamo.table import PK, SK, TTL, Change, Cond, Table, equals, exists, has, n, s, value
from dockyard.storage.dynamo.uploads import session_of
from dockyard.storage.types import Batched, ChunkedSession, ConditionFailed, DirectSession, LinkState, QueueEntry, \
    RecordState, Uses


def _since(since: int) -> Cond:
    return equals(GC_AT, since)


def _entry(item: dict) -> QueueEntry | None:
    pk, sk, since = item[PK]["S"], item[SK]["S"], n(item, GC_AT)
    prefix, _, rest = pk.partition("#")
    if prefix == "repo":
        kind, _, name = sk.partition("#")
        if kind == "blob":
            return QueueEntry("link", since, repo=rest, digest=Digest.parse(name))
        if sk.startswith(PENDING):
            return QueueEntry("pending", since, repo=rest, digest=Digest.parse(name), handle=sk)
        if sk.startswith(UNREF):
            return QueueEntry("unref", since, repo=rest, digest=Digest.parse(name.rsplit("#", 1)[0]), handle=sk)
    if prefix == "blob" and sk == keys.BLOB_RECORD_SK:
        return QueueEntry("record", since, digest=Digest.parse(rest))
    if prefix == "drop" and sk == keys.DROP_SK:
        return QueueEntry("drop", since, location=rest)
    if prefix == "upload" and sk == keys.UPLOAD_SK:
        return QueueEntry("session", since, upload_id=rest)
    return None  # not ours to collect (written by a later version, say)


class DynamoCollector:
    def __init__(self, table: Table):
        self.table = table
        self.batches = Batches(table)

    @staticmethod
    def shards() -> list[str]:
        return [format(i, "x") for i in range(Schema.GC_SHARDS)]

    def queue(self, shard: str, older_than: int, limit: int, start: dict | None = None):
        items, more = self.table.query_index(Schema.GC_INDEX, Schema.GC_SHARD, shard, GC_AT, older_than, limit, start)
        return [entry for entry in map(_entry, items) if entry is not None], more

    # --- links ------------------------------------------------------------------------------------------------

    def link_state(self, repo: str, digest: Digest) -> LinkState | None:
        item = self.table.get(keys.repo_pk(repo), keys.link_sk(digest))
        return LinkState(_ref(item), n(item, "refs"), n(item, GC_AT) or None, s(item, hints.STALE)) if item else None

    def clear_hints(self, repo: str, digest: Digest, left: str) -> None:
        """Finish a moved link's clearing: no pull hint of `repo` names `digest` at `left` any more."""
        hints.clear(self.table, repo, digest, left)

    def collect_link(self, repo: str, digest: Digest, since: int, now: int) -> bool:
        """Remove a link no manifest references, queued since `since` and not changed since, counted out of
        its record and of the quotas that counted it (a placeholder link has no record and no quota to count
        it out of: it simply goes). A count that moved meanwhile is read again."""
        pk, sk = keys.repo_pk(repo), keys.link_sk(digest)
        unused = unreferenced() & _since(since)
        for _ in range(ATTEMPTS):
            item = self.table.get(pk, sk)
            if item is None or n(item, "refs") or n(item, GC_AT) != since:
                return False
            try:
                if "location" not in item:
                    self.table.delete(pk, sk, has("location", False) & exists() & unused)
                else:
                    self.table.transact(unlink_ops(self.table, repo, digest, now, unused, item))
            except ConditionFailed:
                continue  # changed meanwhile (referenced, queued again, counted in or out): read again
            return True
        return False

    def keep_link(self, repo: str, digest: Digest, since: int) -> None:
        """Take a referenced link out of the queue (unless queued again since `since`)."""
        referenced = Cond("#refs > :zero", {"#refs": "refs"}, {":zero": value(0)})
        self._unqueue(keys.repo_pk(repo), keys.link_sk(digest), since, referenced)

    # --- records ----------------------------------------------------------------------------------------------

    def record_state(self, digest: Digest) -> RecordState | None:
        item = self.table.get(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK)
        if item is None:
            return None
        return RecordState(_ref(item), n(item, "links"), n(item, GC_AT) or None, s(item, "doomed"))

    def doom(self, digest: Digest, since: int) -> str | None:
        """Mark an unlinked record doomed (no link can be made to it from now on); returns the doom's stamp,
        or None if it was linked or changed since `since`."""
        stamp = secrets.token_hex(8)
        unlinked = Cond("attribute_not_exists(#links) OR #links = :zero", {"#links": "links"}, {":zero": value(0)})
        try:
            self.table.apply(Change(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK, sets={"doomed": stamp},
                                    condition=exists() & unlinked & _since(since) & has("doomed", False)))
        except ConditionFailed:
            return None
        return stamp

    def forget_record(self, digest: Digest, stamp: str) -> bool:
        """Delete a doomed record (its bytes are gone), unless an upload rescued it since."""
        try:
            self.table.delete(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK, equals("doomed", stamp))
        except ConditionFailed:
            return False
        return True

    def keep_record(self, digest: Digest, since: int) -> None:
        linked = Cond("#links > :zero", {"#links": "links"}, {":zero": value(0)})
        self._unqueue(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK, since, linked)

    # --- bytes given up, sessions, batched references ---------------------------------------------------------

    def drop_digest(self, location: str) -> tuple[bool, Digest | None]:
        """(whether the drop entry exists, the digest it names)."""
        item = self.table.get(keys.drop_pk(location), keys.DROP_SK)
        if item is None:
            return False, None
        digest = s(item, "digest")
        return True, Digest.parse(digest) if digest else None

    def forget_drop(self, location: str) -> None:
        self.table.delete(keys.drop_pk(location), keys.DROP_SK)

    def expire_session(self, upload_id: str, now: int) -> ChunkedSession | DirectSession | None:
        """Delete a session that expired and that no request holds (so that none can commit it any more);
        returns it, or None if it lives (or went) meanwhile."""
        pk = keys.upload_pk(upload_id)
        item = self.table.get(pk, keys.UPLOAD_SK)
        if item is None or n(item, TTL) > now:
            return None
        free = Cond("attribute_not_exists(#lock) OR #until < :now", {"#lock": "lock", "#until": "lock_until"},
                    {":now": value(now)})
        try:
            self.table.delete(pk, keys.UPLOAD_SK, equals(TTL, n(item, TTL)) & free)
        except ConditionFailed:
            return None
        return session_of(item)

    def batched(self, repo: str, handle: str) -> Batched | None:
        return self.batches.get(repo, handle)

    def undo_pending(self, entry: Batched, uses: Uses) -> bool:
        """Count a stale pending entry's references back out, unless a push moves it on meanwhile."""
        return self.batches.undo(entry, uses, still_since=entry.since)

    def pay_unref(self, entry: Batched, uses: Uses) -> None:
        self.batches.pay(entry, uses)

    def _unqueue(self, pk: str, sk: str, since: int, condition: Cond) -> None:
        try:
            self.table.apply(Change(pk, sk, removes={GC_AT}, condition=exists() & _since(since) & condition))
        except ConditionFailed:
            pass  # queued again meanwhile (or no longer in use): it stays in the queue
