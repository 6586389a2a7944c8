"""The write side of the pull-through cache's storage: upstreams (one mirror at most) and fetch claims."""

from __future__ import annotations

import time

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage.types import ConditionFailed, UpstreamRecord
from tests.storage.conftest import manifest_record, no_references

NOW = int(time.time())


def upstream(name: str, mirror: bool = False, created_at: int = 1, **extra) -> UpstreamRecord:
    return UpstreamRecord(name=name, url=f"https://{name}.example", mirror=mirror, created_at=created_at, **extra)


def test_upstreams_are_listed_by_name_replaced_and_removed(storage):
    assert storage.upstreams.put_upstream(upstream("b", username="u", secret_id="s1")) is None
    assert storage.upstreams.put_upstream(upstream("a")) is None
    assert [u.name for u in storage.upstreams.list_upstreams()] == ["a", "b"]
    replaced = storage.upstreams.put_upstream(upstream("b", created_at=2))
    assert (replaced.username, replaced.secret_id) == ("u", "s1")
    assert storage.upstreams.list_upstreams()[1] == upstream("b", created_at=2)
    assert storage.upstreams.delete_upstream("b") == upstream("b", created_at=2)
    assert storage.upstreams.delete_upstream("b") is None
    assert [u.name for u in storage.upstreams.list_upstreams()] == ["a"]


def test_one_mirror_at_most_and_the_flag_moves_only_by_replacing_or_removing(storage):
    storage.upstreams.put_upstream(upstream("hub", mirror=True))
    with pytest.raises(ConditionFailed):
        storage.upstreams.put_upstream(upstream("other", mirror=True))
    assert [u.name for u in storage.upstreams.list_upstreams()] == ["hub"]  # nothing written
    storage.upstreams.put_upstream(upstream("hub", mirror=False, created_at=2))
    storage.upstreams.put_upstream(upstream("other", mirror=True))
    storage.upstreams.delete_upstream("other")
    storage.upstreams.put_upstream(upstream("third", mirror=True))
    assert [u.name for u in storage.upstreams.list_upstreams() if u.mirror] == ["third"]


def test_a_fetch_claim_is_exclusive_until_it_is_released_or_runs_out(storage):
    digest = Digest.of(b"blob")
    assert storage.upstreams.claim_fetch(digest, "one", NOW + 60, NOW)
    assert not storage.upstreams.claim_fetch(digest, "two", NOW + 60, NOW)
    storage.upstreams.release_fetch(digest, "two")  # not theirs to release
    assert not storage.upstreams.claim_fetch(digest, "two", NOW + 60, NOW)
    assert storage.upstreams.claim_fetch(digest, "two", NOW + 200, NOW + 61)  # the first one ran out
    storage.upstreams.release_fetch(digest, "two")
    assert storage.upstreams.claim_fetch(digest, "three", NOW + 60, NOW)


def test_a_cached_tag_is_marked_checked_only_while_it_points_to_the_same_manifest(storage, repo):
    first, second = manifest_record(b'{"n": 1}'), manifest_record(b'{"n": 2}')
    storage.manifests.put_manifest(repo, first.__class__(**{**first.__dict__, "checked_at": NOW}), ("v1",),
                                   no_references(v1=None))
    assert storage.manifests.get_tag(repo, "v1").checked_at == NOW
    assert storage.manifests.mark_checked(repo, "v1", first.digest, NOW + 5)
    assert storage.manifests.get_tag(repo, "v1").checked_at == NOW + 5
    assert not storage.manifests.mark_checked(repo, "v1", second.digest, NOW + 9)
    assert not storage.manifests.mark_checked(repo, "gone", first.digest, NOW + 9)
    assert storage.manifests.get_manifest(repo, first.digest).checked_at is None  # only the tag carries it


def test_credentials_are_kept_apart_and_deleted(storage):
    first = storage.credentials.put_credentials("hub", "u", "pw-1")
    second = storage.credentials.put_credentials("hub", "u", "pw-2")
    assert first != second
    assert storage.credentials.get_credentials(first) == ("u", "pw-1")
    storage.credentials.delete_credentials(first)
    storage.credentials.delete_credentials(first)  # gone already: no error
    assert storage.credentials.get_credentials(second) == ("u", "pw-2")
