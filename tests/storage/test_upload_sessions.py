"""`UploadSessions`: sessions of two kinds, and write leases that expire, checked by one conditional write."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage.types import ChunkedSession, ConditionFailed, DirectSession, Lease

NOW = int(time.time())


def chunked(storage, repo: str, **fields) -> ChunkedSession:
    session = ChunkedSession(id=str(uuid.uuid4()), repo=repo, expires_at=NOW + 600, **fields)
    storage.uploads.create_chunked(session)
    return session


def direct(repo: str, expires_at: int = NOW + 600, size: int = 10) -> DirectSession:
    return DirectSession(id=str(uuid.uuid4()), repo=repo, expires_at=expires_at, digest=Digest.of(b"d"), size=size,
                         location="blobs/direct/x/1", part_size=0)


def lease(session, token: str = "mine", until: int = NOW + 60) -> Lease:
    return Lease(session.id, token, until)


def test_sessions_read_back_as_their_kind(storage, repo):
    plain = chunked(storage, repo)
    sent = direct(repo)
    assert storage.uploads.create_direct(sent, NOW) is True
    assert storage.uploads.get_session(plain.id) == plain
    assert storage.uploads.get_session(sent.id) == sent
    assert storage.uploads.get_session(str(uuid.uuid4())) is None


def test_a_chunked_session_id_is_created_once(storage, repo):
    session = chunked(storage, repo)
    with pytest.raises(ConditionFailed):
        storage.uploads.create_chunked(session)


def test_a_live_direct_session_is_resumed_an_expired_one_replaced(storage, repo):
    first = direct(repo, expires_at=NOW + 600)
    assert storage.uploads.create_direct(first, NOW) is True
    assert storage.uploads.create_direct(replace(first, size=99), NOW) is False
    assert storage.uploads.get_session(first.id).size == 10
    assert storage.uploads.create_direct(replace(first, size=99), NOW + 601) is True
    assert storage.uploads.get_session(first.id).size == 99


def test_a_lease_is_held_by_one_writer_until_it_runs_out(storage, repo):
    session = chunked(storage, repo)
    taken = storage.uploads.take_lease(ChunkedSession, session.id, repo, lease(session), NOW)
    assert taken.lease == lease(session)
    with pytest.raises(ConditionFailed) as refused:
        storage.uploads.take_lease(ChunkedSession, session.id, repo, lease(session, "other"), NOW)
    assert refused.value.current.lease == lease(session)  # why: it is held
    later = NOW + 61
    assert storage.uploads.take_lease(ChunkedSession, session.id, repo, lease(session, "other", later + 60),
                                      later).lease.token == "other"


@pytest.mark.parametrize("case", ["wrong kind", "wrong repository", "expired", "wrong offset", "missing"])
def test_a_lease_is_refused_with_the_session_as_it_is(storage, repo, case):
    session = chunked(storage, repo, offset=0)
    kind, upload_id, in_repo, now, offset = ChunkedSession, session.id, repo, NOW, None
    if case == "wrong kind":
        kind = DirectSession
    elif case == "wrong repository":
        in_repo = repo + "-other"
    elif case == "expired":
        now = NOW + 601
    elif case == "wrong offset":
        offset = 5
    else:
        upload_id = str(uuid.uuid4())
    with pytest.raises(ConditionFailed) as refused:
        storage.uploads.take_lease(kind, upload_id, in_repo, Lease(upload_id, "t", now + 60), now, offset)
    assert refused.value.current == (None if case == "missing" else session)
    assert storage.uploads.get_session(session.id) == session  # nothing changed


def test_a_direct_session_takes_a_direct_lease_only(storage, repo):
    sent = direct(repo)
    storage.uploads.create_direct(sent, NOW)
    with pytest.raises(ConditionFailed):
        storage.uploads.take_lease(ChunkedSession, sent.id, repo, lease(sent), NOW)
    assert isinstance(storage.uploads.take_lease(DirectSession, sent.id, repo, lease(sent), NOW), DirectSession)


def test_only_the_holder_renews_saves_or_deletes(storage, repo):
    session = chunked(storage, repo)
    mine = lease(session)
    storage.uploads.take_lease(ChunkedSession, session.id, repo, mine, NOW)
    theirs = lease(session, "theirs")
    for write in (lambda: storage.uploads.renew_lease(theirs),
                  lambda: storage.uploads.save_chunked(session, theirs),
                  lambda: storage.uploads.delete_session(session.id, theirs)):
        with pytest.raises(ConditionFailed):
            write()
    storage.uploads.release_lease(theirs)  # not ours: nothing happens
    assert storage.uploads.get_session(session.id).lease == mine
    storage.uploads.renew_lease(Lease(session.id, "mine", NOW + 120))
    assert storage.uploads.get_session(session.id).lease.until == NOW + 120


def test_saving_writes_the_state_and_gives_the_lease_back(storage, repo):
    session = chunked(storage, repo)
    mine = lease(session)
    storage.uploads.take_lease(ChunkedSession, session.id, repo, mine, NOW)
    saved = ChunkedSession(id=session.id, repo=repo, expires_at=NOW + 900, offset=7, parts=1, multipart_id="mp",
                           tail="t1", tail_size=2, hash_state=b"state")
    storage.uploads.save_chunked(saved, mine)
    assert storage.uploads.get_session(session.id) == saved
    emptied = ChunkedSession(id=session.id, repo=repo, expires_at=NOW + 900, offset=7, parts=1)
    storage.uploads.take_lease(ChunkedSession, session.id, repo, mine, NOW, offset=7)
    storage.uploads.save_chunked(emptied, mine)
    assert storage.uploads.get_session(session.id) == emptied  # cleared fields are gone, not left over


def test_giving_back_twice_and_deleting_twice_are_harmless(storage, repo):
    session = chunked(storage, repo)
    mine = lease(session)
    storage.uploads.take_lease(ChunkedSession, session.id, repo, mine, NOW)
    storage.uploads.release_lease(mine)
    storage.uploads.release_lease(mine)
    assert storage.uploads.get_session(session.id).lease is None
    storage.uploads.delete_session(session.id)
    storage.uploads.delete_session(session.id)
    assert storage.uploads.get_session(session.id) is None
    with pytest.raises(ConditionFailed):
        storage.uploads.delete_session(session.id, mine)
