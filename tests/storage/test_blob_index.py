"""`BlobIndex`: blob records and links. Links are idempotent; a record is written once, conditionally; a
link that closes a session commits with it or not at all."""

from __future__ import annotations

import time

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage.types import BlobDoomed, BlobRecorded, BlobRef, ChunkedSession, ConditionFailed, Lease

D = Digest.of(b"blob")
REF = BlobRef(4, "blobs/sha256/aa/first")


def test_a_link_with_its_record_is_seen_in_its_repository_only(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    assert storage.blobs.get_link(repo, D) == REF
    assert storage.blobs.get_blob(D) == REF
    assert storage.blobs.get_link(repo + "-other", D) is None


def test_a_mount_links_only_a_recorded_blob_where_its_record_is(storage, repo):
    with pytest.raises(BlobDoomed):
        storage.blobs.link_blob(repo, D, REF)
    assert storage.blobs.get_link(repo, D) is None
    storage.blobs.link_blob(repo, D, REF, record=True)
    with pytest.raises(BlobDoomed):
        storage.blobs.link_blob(repo + "-b", D, BlobRef(4, "blobs/sha256/aa/moved"))
    assert storage.blobs.link_blob(repo + "-b", D, REF) == REF
    assert storage.blobs.get_link(repo + "-b", D) == REF


def test_linking_again_is_idempotent(storage, repo):
    for _ in range(2):
        storage.blobs.link_blob(repo, D, REF, record=True)
    assert storage.blobs.get_link(repo, D) == REF


def test_a_second_location_loses_to_the_first_record_and_writes_nothing(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    other = BlobRef(4, "blobs/direct/x/second")
    with pytest.raises(BlobRecorded):
        storage.blobs.link_blob(repo + "-b", D, other, record=True)
    assert storage.blobs.get_blob(D) == REF
    assert storage.blobs.get_link(repo + "-b", D) is None


def test_a_record_whose_bytes_are_gone_can_be_replaced(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    repaired = BlobRef(4, "blobs/direct/x/repaired")
    storage.blobs.link_blob(repo + "-b", D, repaired, record=True, replaces=REF.location)
    assert storage.blobs.get_blob(D) == repaired
    storage.blobs.link_blob(repo, D, repaired)  # the link that pointed at the lost bytes follows
    assert storage.blobs.get_link(repo, D) == repaired


def test_a_link_that_closes_a_session_commits_with_it(storage, repo):
    lease = _held_session(storage, repo)
    storage.blobs.link_blob(repo, D, REF, record=True, closing=lease)
    assert storage.blobs.get_link(repo, D) == REF
    assert storage.uploads.get_session(lease.upload_id) is None


def test_a_link_whose_lease_was_lost_writes_nothing(storage, repo):
    lease = _held_session(storage, repo)
    storage.uploads.delete_session(lease.upload_id)  # cancelled meanwhile
    with pytest.raises(ConditionFailed):
        storage.blobs.link_blob(repo, D, REF, record=True, closing=lease)
    assert storage.blobs.get_link(repo, D) is None
    assert storage.blobs.get_blob(D) is None


def test_unlink_is_true_once_then_false(storage, repo):
    storage.blobs.link_blob(repo, D, REF, record=True)
    assert storage.blobs.unlink_blob(repo, D) is True
    assert storage.blobs.unlink_blob(repo, D) is False
    assert storage.blobs.get_link(repo, D) is None
    assert storage.blobs.get_blob(D) == REF  # the record (and the bytes) stay for garbage collection


def _held_session(storage, repo: str) -> Lease:
    import uuid

    now = int(time.time())
    session = ChunkedSession(id=str(uuid.uuid4()), repo=repo, expires_at=now + 600)
    storage.uploads.create_chunked(session)
    lease = Lease(session.id, "holder", now + 60)
    storage.uploads.take_lease(ChunkedSession, session.id, repo, lease, now)
    return lease
