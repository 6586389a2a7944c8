"""The reference counts and the collector's conditional steps (`BlobIndex`, `ManifestIndex`, `Collector`): each
count changes exactly once per link or manifest, a step does nothing when what it read changed, and nothing in
use can be collected."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage.types import BlobDoomed, BlobRef, ChunkedSession, ConditionFailed, Lease, StillReferenced, Uses
from tests.storage.conftest import manifest_record, no_references

D = Digest.of(b"layer")
REF = BlobRef(5, "blobs/sha256/aa/layer/1")


def queued(storage, older_than: int | None = None) -> set[tuple]:
    older_than = int(time.time()) + 1 if older_than is None else older_than
    found = set()
    for shard in storage.collector.shards():
        entries, _ = storage.collector.queue(shard, older_than, 1000)
        found |= {(e.kind, e.repo, str(e.digest) if e.digest else e.location or e.upload_id) for e in entries}
    return found


def put(storage, repo, body: bytes, tag: str | None, uses: Uses, **kw):
    record = manifest_record(body, **kw)
    tags = (tag,) if tag else ()
    refs = storage.manifests.check_references(repo, list(uses.blobs), list(uses.children), tags, record.digest)
    storage.manifests.put_manifest(repo, record, tags, refs, uses)
    return record


def delete(storage, repo, digest: Digest, uses: Uses):
    storage.manifests.delete_manifest(repo, digest, storage.manifests.manifest_tags(repo, digest), uses)


def test_a_record_counts_its_links_once_each(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    storage.blobs.link_blob(repo + "-b", D, REF)
    storage.blobs.link_blob(repo + "-b", D, REF)  # again: counted once
    assert storage.collector.record_state(D).links == 2
    assert storage.blobs.unlink_blob(repo, D)
    record = storage.collector.record_state(D)
    assert record.links == 1 and record.since is not None
    assert ("record", None, str(D)) in queued(storage)


def test_a_new_link_is_queued_until_a_manifest_references_it(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    assert ("link", repo, str(D)) in queued(storage)
    one = put(storage, repo, b'{"one": 1}', "v1", Uses(blobs=(D,)))
    link = storage.collector.link_state(repo, D)
    assert (link.refs, link.since) == (1, None)
    with pytest.raises(StillReferenced):
        storage.blobs.unlink_blob(repo, D)
    put(storage, repo, b'{"one": 1}', "v2", Uses(blobs=(D,)))  # the same manifest again: not counted again
    assert storage.collector.link_state(repo, D).refs == 1
    delete(storage, repo, one.digest, Uses(blobs=(D,)))
    link = storage.collector.link_state(repo, D)
    assert link.refs == 0 and link.since is not None
    assert ("link", repo, str(D)) in queued(storage)


def test_a_manifest_whose_blob_went_meanwhile_is_not_stored(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    record = manifest_record(b'{"one": 1}')
    refs = storage.manifests.check_references(repo, [D], [], ("v1",), record.digest)
    storage.blobs.unlink_blob(repo, D)
    with pytest.raises(ConditionFailed):
        storage.manifests.put_manifest(repo, record, ("v1",), refs, Uses(blobs=(D,)))
    assert storage.manifests.get_tag(repo, "v1") is None


def test_collecting_a_link_needs_it_unreferenced_and_unchanged(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    since = storage.collector.link_state(repo, D).since
    put(storage, repo, b'{"one": 1}', "v1", Uses(blobs=(D,)))  # referenced meanwhile
    assert storage.collector.collect_link(repo, D, since, int(time.time())) is False
    storage.collector.keep_link(repo, D, since)
    assert ("link", repo, str(D)) not in queued(storage)
    assert storage.blobs.get_link(repo, D) == REF


def test_a_collected_link_queues_its_record(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    since = storage.collector.link_state(repo, D).since
    assert storage.collector.collect_link(repo, D, since, since + 5) is True
    assert storage.blobs.get_link(repo, D) is None
    record = storage.collector.record_state(D)
    assert (record.links, record.since) == (0, since + 5)


def test_a_doomed_record_takes_no_link_and_is_rescued_by_an_upload_of_its_own(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    assert storage.collector.doom(D, storage.collector.record_state(D).since or 0) is None  # still linked
    storage.blobs.unlink_blob(repo, D)
    stamp = storage.collector.doom(D, storage.collector.record_state(D).since)
    assert stamp is not None and storage.blobs.get_blob(D).doomed
    with pytest.raises(BlobDoomed):
        storage.blobs.link_blob(repo + "-b", D, REF)  # a mount of the doomed copy
    assert storage.blobs.get_link(repo + "-b", D) is None
    fresh = BlobRef(5, "blobs/sha256/aa/layer/2")
    storage.blobs.link_blob(repo + "-b", D, fresh, record=True)  # an upload brings its own copy
    assert storage.collector.forget_record(D, stamp) is False
    assert storage.blobs.get_blob(D) == fresh and storage.collector.record_state(D).links == 1


def test_a_doomed_record_that_nobody_rescued_is_forgotten(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    storage.blobs.unlink_blob(repo, D)
    stamp = storage.collector.doom(D, storage.collector.record_state(D).since)
    assert storage.collector.forget_record(D, stamp) is True
    assert storage.blobs.get_blob(D) is None and ("record", None, str(D)) not in queued(storage)


def test_an_index_counts_on_its_children_and_keeps_them(storage, repo):
    child = put(storage, repo, b'{"child": 1}', "latest", Uses())
    index = put(storage, repo, b'{"index": 1}', "latest", Uses(children=(child.digest,)))  # its tag moves here
    state = storage.manifests.manifest_tags(repo, child.digest)
    assert (state.parents, state.tags) == (1, [])
    with pytest.raises(StillReferenced):
        storage.manifests.delete_manifest(repo, child.digest, state)
    delete(storage, repo, index.digest, Uses(children=(child.digest,)))
    delete(storage, repo, child.digest, Uses())
    assert storage.manifests.get_manifest(repo, child.digest) is None


@pytest.mark.parametrize("count", [150])
def test_a_manifest_above_the_transaction_limit_counts_in_batches_exactly_once(storage, repo, count):
    blobs = tuple(Digest.of(f"blob {i}".encode()) for i in range(count))
    for i, digest in enumerate(blobs):
        storage.blobs.link_blob(repo, digest, BlobRef(1, f"blobs/{i}"), record=True)
    uses = Uses(blobs=blobs)
    big = put(storage, repo, b'{"big": 1}', "v1", uses)
    assert {storage.collector.link_state(repo, d).refs for d in blobs} == {1}
    assert not {k for k in queued(storage) if k[0] == "pending"}
    put(storage, repo, b'{"big": 1}', "v2", uses)
    assert {storage.collector.link_state(repo, d).refs for d in blobs} == {1}
    delete(storage, repo, big.digest, uses)
    assert {storage.collector.link_state(repo, d).refs for d in blobs} == {0}
    assert not {k for k in queued(storage) if k[0] == "unref"}


def test_a_push_that_stopped_halfway_is_undone_after_the_grace_and_a_retry_continues_it(storage, repo):
    blobs = tuple(Digest.of(f"blob {i}".encode()) for i in range(120))
    for i, digest in enumerate(blobs):
        storage.blobs.link_blob(repo, digest, BlobRef(1, f"blobs/{i}"), record=True)
    uses, record = Uses(blobs=blobs), manifest_record(b'{"big": 2}')
    batches = storage.manifests.batches
    entry = batches.pending(repo, record.digest, {}, uses.count)
    batches._step(entry, 99, [])  # as if the first batch was counted and the push died: count it for real
    for digest in blobs[:99]:
        storage.blobs.table.apply(replace(_refs_change(repo, digest)))
    [stale] = [e for e in _entries(storage) if e.kind == "pending"]
    pending = storage.collector.batched(repo, stale.handle)
    assert (pending.done, pending.total) == (99, 120)
    # A retry continues from there, and the manifest is counted exactly once in all.
    storage.manifests.put_manifest(repo, record, ("v1",), storage.manifests.check_references(
        repo, list(blobs), [], ("v1",), record.digest), uses)
    assert {storage.collector.link_state(repo, d).refs for d in blobs} == {1}
    # Had it not been retried, GC would have uncounted it.
    other = manifest_record(b'{"big": 3}')
    entry = batches.pending(repo, other.digest, {}, uses.count)
    for digest in blobs[:99]:
        storage.blobs.table.apply(_refs_change(repo, digest))
    batches._step(entry, 99, [])
    assert storage.collector.undo_pending(storage.collector.batched(repo, entry.handle), uses) is True
    assert {storage.collector.link_state(repo, d).refs for d in blobs} == {1}
    assert storage.collector.batched(repo, entry.handle) is None


def _refs_change(repo, digest):
    from dockyard.storage.dynamo.blobs import link_refs

    return link_refs(repo, digest, 1, 0)


def _entries(storage):
    entries = []
    for shard in storage.collector.shards():
        entries += storage.collector.queue(shard, int(time.time()) + 1, 1000)[0]
    return entries


def test_only_an_expired_session_that_nobody_holds_is_collected(storage, repo):
    now = int(time.time())
    session = ChunkedSession(id=str(uuid.uuid4()), repo=repo, expires_at=now - 10)
    storage.uploads.create_chunked(session)
    assert ("session", None, session.id) in queued(storage)
    held = ChunkedSession(id=str(uuid.uuid4()), repo=repo, expires_at=now + 600)
    storage.uploads.create_chunked(held)
    storage.uploads.take_lease(ChunkedSession, held.id, repo, Lease(held.id, "t", now + 10_000), now)
    assert storage.collector.expire_session(held.id, now) is None  # not expired
    assert storage.collector.expire_session(held.id, now + 700) is None  # expired, but a request holds it
    assert storage.collector.expire_session(session.id, now).id == session.id
    assert storage.uploads.get_session(session.id) is None


def test_given_up_bytes_are_queued_with_their_digest(storage, repo):
    storage.blobs.drop_bytes(D, "blobs/assembled/x")
    assert ("drop", None, "blobs/assembled/x") in queued(storage)
    assert storage.collector.drop_digest("blobs/assembled/x") == (True, D)
    storage.collector.forget_drop("blobs/assembled/x")
    assert storage.collector.drop_digest("blobs/assembled/x") == (False, None)


def test_the_queue_lists_only_what_is_older_than_asked(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    since = storage.collector.link_state(repo, D).since
    assert ("link", repo, str(D)) in queued(storage, since)
    assert ("link", repo, str(D)) not in queued(storage, since - 1)
