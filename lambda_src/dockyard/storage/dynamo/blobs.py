"""Blob records and links (`BlobIndex` on DynamoDB).

A link is the repository's item for the blob; the record is the blob's own item, whatever links it. Both
carry the blob's size and location, so that a blob GET presigns from the link alone (one read, no S3 call).
The record counts its links (`links`), in the transaction that creates or removes each link, and a link is
created only while its record lives (not doomed); a link counts the manifests that reference it (`refs`), and
is removed only while none does. See `dockyard.maintenance` for why this makes collection race-free.

The same transactions count a link into the storage quotas of its namespaces and out of them
(`dockyard.storage.dynamo.quotas`), whoever removes it: a DELETE or garbage collection (`unlink_ops`). A
placeholder link holds no bytes: no quota counts it.
"""

from __future__ import annotations

import logging
import time

from dockyard.domain.digest import Digest
from dockyard.resources import Table as Schema
from dockyard.storage import keys
from dockyard.storage.dynamo import hints
from dockyard.storage.dynamo.quotas import DynamoQuotas, charges, counted_out
from dockyard.storage.dynamo.table import PK, SK, Change, Cond, Table, equals, exists, has, key, n, value
from dockyard.storage.dynamo.uploads import closing as closing_op
from dockyard.storage.types import BlobDoomed, BlobRecorded, BlobRef, ConditionFailed, Contended, Lease, LinkTotals, \
    Quota, QuotaExceeded, StillReferenced

GC_SHARD, GC_AT = Schema.GC_SHARD, Schema.GC_AT
# Attempts at a counted link or unlink while the counts it read change underneath.
ATTEMPTS = 8

log = logging.getLogger(__name__)


def _ref(item: dict | None) -> BlobRef | None:
    """The blob an item says is there; None for no item, or a placeholder link (refs only, no bytes yet)."""
    return BlobRef(n(item, "size"), item["location"]["S"], "doomed" in item) if item and "location" in item else None


def queued(pk: str, sk: str, at: int) -> dict:
    """The attributes that put an item in the garbage collector's queue (the `gc` index), from `at`."""
    return {GC_SHARD: value(keys.gc_shard(pk, sk)), GC_AT: value(at)}


def unreferenced() -> Cond:
    return Cond("attribute_not_exists(#refs) OR #refs = :zero", {"#refs": "refs"}, {":zero": value(0)})


def link_refs(repo: str, digest: Digest, delta: int, now: int, placeholder: bool = False) -> Change:
    """Count a manifest in (`delta` 1) or out (-1) of a link: coming in, the link must exist (or, with
    `placeholder`, is made as a placeholder until its bytes come) and leaves the queue; going out, it enters
    the queue (its count may now be 0)."""
    pk, sk = keys.repo_pk(repo), keys.link_sk(digest)
    change = Change(pk, sk, adds={"refs": delta}, condition=None if placeholder and delta > 0 else exists())
    if delta > 0:
        change.removes.add(GC_AT)
        change.defaults[GC_SHARD] = keys.gc_shard(pk, sk)
    else:
        change.sets[GC_AT] = now
    return change


def unlink_ops(table: Table, repo: str, digest: Digest, now: int, condition: Cond, link: dict) -> list[dict]:
    """Remove the link `link` (the item as read, with its bytes) on `condition`, count it out of its record,
    which enters the queue, and out of the quotas that counted it (its delete is conditioned on their set
    being the one read, so that it is counted out exactly once)."""
    rpk = keys.blob_record_pk(digest)
    same, refunds = counted_out(table, link, digest)
    return [table.delete_op(keys.repo_pk(repo), keys.link_sk(digest), has("location") & condition & same),
            table.change_op(Change(rpk, keys.BLOB_RECORD_SK, adds={"links": -1}, sets={GC_AT: now},
                                   condition=exists())),
            *refunds]


def _record_change(digest: Digest, ref: BlobRef, record: bool, replaces: str | None, count: bool = True) -> Change:
    """The record's part of a link: one link more on it (`count`) and, with `record`, the record written: a
    first record, our own again, one whose bytes were found gone (`replaces`), or a doomed one (rescued: its
    collection stops at its last step, and deletes only the old location). Without `record`, the record must
    live at the link's location."""
    rpk = keys.blob_record_pk(digest)
    change = Change(rpk, keys.BLOB_RECORD_SK, adds={"links": 1} if count else {}, removes={GC_AT} if count else set())
    if not record:
        change.condition = exists() & has("doomed", False) & equals("location", ref.location)
        return change
    change.sets.update({"size": ref.size, "location": ref.location, GC_SHARD: keys.gc_shard(rpk, keys.BLOB_RECORD_SK)})
    change.removes.add("doomed")
    change.condition = Cond("attribute_not_exists(#pk) OR #location IN (:location, :replaces) OR "
                            "attribute_exists(#doomed)", {"#pk": PK, "#location": "location", "#doomed": "doomed"},
                            {":location": value(ref.location), ":replaces": value(replaces or ref.location)})
    return change


class DynamoBlobs:
    def __init__(self, table: Table):
        self.table = table
        self.quotas = DynamoQuotas(table)

    def get_link(self, repo: str, digest: Digest) -> BlobRef | None:
        return _ref(self.table.get_immutable(keys.repo_pk(repo), keys.link_sk(digest)))

    def get_blob(self, digest: Digest) -> BlobRef | None:
        return _ref(self.table.get(keys.blob_record_pk(digest), keys.BLOB_RECORD_SK))

    def link_blob(self, repo: str, digest: Digest, ref: BlobRef, *, record: bool = False,
                  replaces: str | None = None, closing: Lease | None = None,
                  quotas: tuple[Quota, ...] = ()) -> BlobRef:
        """One transaction: the session's close, the link (or a placeholder's bytes), its count on the record
        (which `record` writes) and its charges on `quotas`; a charge that failed (the counts it read moved)
        is read again and retried, `QuotaExceeded` once a quota has no room."""
        pending = list(quotas)
        for _ in range(ATTEMPTS):
            ops, first, charged = self._link_ops(repo, digest, ref, record, replaces, closing, pending)
            try:
                self.table.transact(ops)
            except ConditionFailed as failed:
                if closing is not None and 0 in failed.failed:
                    raise ConditionFailed() from None  # the session was cancelled or taken over
                if first in failed.failed:  # linked already (by an earlier attempt, or a concurrent push)
                    return self._already_linked(repo, digest, ref, record, replaces, closing, quotas)
                if first + 1 in failed.failed:
                    if record:
                        raise BlobRecorded() from None
                    raise BlobDoomed() from None
                if not any(i >= charged for i in failed.failed):
                    raise
                pending = self._fresh(pending, ref.size, digest)  # a count moved meanwhile: read them again
                continue
            return BlobRef(ref.size, ref.location)
        raise Contended()

    def _link_ops(self, repo: str, digest: Digest, ref: BlobRef, record: bool, replaces: str | None,
                  closing: Lease | None, quotas: list[Quota]) -> tuple[list[dict], int, int]:
        """The transaction of a link, the index of its link item and that of its first charge."""
        now = int(time.time())
        pk, sk = keys.repo_pk(repo), keys.link_sk(digest)
        members = self.quotas.memberships(quotas, digest) if quotas else {}
        ops = [closing_op(self.table, closing)] if closing is not None else []
        first = len(ops)
        # A new link, or a placeholder (a cached manifest counted on it) that gets its bytes now.
        sets = {"size": ref.size, "location": ref.location, GC_SHARD: keys.gc_shard(pk, sk), GC_AT: now,
                **({"quotas": {q.id for q in quotas}} if quotas else {})}
        ops.append(self.table.change_op(Change(pk, sk, sets=sets, condition=has("location", False))))
        ops.append(self.table.change_op(_record_change(digest, ref, record, replaces)))
        return ops + charges(self.table, quotas, members, digest, ref.size), first, len(ops)

    def _fresh(self, quotas: list[Quota], size: int, digest: Digest) -> list[Quota]:
        """The quotas as they are now, after a charge failed; `QuotaExceeded` if one has no room left."""
        fresh = []
        members = self.quotas.memberships(quotas, digest)
        for quota in quotas:
            now = self.quotas.get_quota(quota.pattern)
            if now is None or now.deleting or now.id != quota.id:
                continue
            if quota.id not in members and now.used + size > now.limit:
                raise QuotaExceeded(now, size)
            fresh.append(now)
        return fresh

    def _already_linked(self, repo: str, digest: Digest, ref: BlobRef, record: bool, replaces: str | None,
                        closing: Lease | None, quotas: tuple[Quota, ...]) -> BlobRef:
        """The link that is there stays, counted as it was; the session closes."""
        item = self.table.get(keys.repo_pk(repo), keys.link_sk(digest))
        if _ref(item) is None:  # unlinked again meanwhile: link anew
            return self.link_blob(repo, digest, ref, record=record, replaces=replaces, closing=closing, quotas=quotas)
        if _ref(item).location != ref.location:
            return self._repoint(repo, digest, ref, _ref(item).location, record, replaces, closing, quotas)
        if closing is not None:
            self.table.delete(keys.upload_pk(closing.upload_id), keys.UPLOAD_SK, equals("lock", closing.token))
        return _ref(item)

    def _repoint(self, repo: str, digest: Digest, ref: BlobRef, old: str, record: bool, replaces: str | None,
                 closing: Lease | None, quotas: tuple[Quota, ...]) -> BlobRef:
        """A link left at another location than its record's (bytes found gone, and recorded again since)
        follows the record to `ref`, in one transaction with the record's write (`record`) or a check that
        the record lives there; the same blob, so nothing is counted again. The pull hints that name the
        location it left go next (`dockyard.storage.dynamo.hints`): the link is marked and queued until then."""
        pk, sk, rpk = keys.repo_pk(repo), keys.link_sk(digest), keys.blob_record_pk(digest)
        ops = [closing_op(self.table, closing)] if closing is not None else []
        moved = {"location": ref.location, hints.STALE: old, GC_AT: int(time.time())}
        ops.append(self.table.change_op(Change(pk, sk, sets=moved, condition=equals("location", old))))
        if record:
            ops.append(self.table.change_op(_record_change(digest, ref, True, replaces, count=False)))
        else:
            ops.append(self.table.condition_check_op(rpk, keys.BLOB_RECORD_SK, exists() & has("doomed", False) &
                                                     equals("location", ref.location)))
        try:
            self.table.transact(ops)
        except ConditionFailed as failed:
            if closing is not None and 0 in failed.failed:
                raise ConditionFailed() from None
            if len(ops) - 1 in failed.failed:
                raise BlobRecorded() if record else BlobDoomed() from None
            # The link moved or went meanwhile: read it again.
            return self._already_linked(repo, digest, ref, record, replaces, closing, quotas)
        try:
            hints.clear(self.table, repo, digest, old)
        except Exception:  # noqa: BLE001 - the blob is linked: garbage collection clears them when it visits
            log.warning("could not clear the pull hints of %s in %s yet", digest, repo, exc_info=True)
        return BlobRef(ref.size, ref.location)

    def unlink_blob(self, repo: str, digest: Digest) -> bool:
        pk, sk = keys.repo_pk(repo), keys.link_sk(digest)
        for _ in range(10):
            item = self.table.get(pk, sk)
            if _ref(item) is None:
                return False
            if n(item, "refs"):
                raise StillReferenced(n(item, "refs"))
            try:
                self.table.transact(unlink_ops(self.table, repo, digest, int(time.time()), unreferenced(), item))
            except ConditionFailed:
                continue  # referenced meanwhile, gone, or counted differently: read again
            return True
        raise Contended()

    def drop_bytes(self, digest: Digest, location: str) -> None:
        pk = keys.drop_pk(location)
        self.table.put({**key(pk, keys.DROP_SK), "digest": value(str(digest)),
                        **queued(pk, keys.DROP_SK, int(time.time()))})

    def get_links(self, repo: str, digests: list[Digest]) -> dict[Digest, BlobRef]:
        pk = keys.repo_pk(repo)
        items = self.table.batch_get([(pk, keys.link_sk(d)) for d in dict.fromkeys(digests)], ("size", "location"))
        return {Digest.parse(item[SK]["S"][len(keys.LINK_PREFIX):]): ref for item in items if (ref := _ref(item))}

    def link_totals(self, repo: str, most: int) -> LinkTotals:
        page = self.table.query_page(keys.repo_pk(repo), keys.LINK_PREFIX, most, None, attributes=("size", "location"))
        linked = [ref for item in page.items if (ref := _ref(item))]  # not the placeholders of batched references
        return LinkTotals(len(linked), sum(ref.size for ref in linked), page.last is None)
