"""The write side of governance: immutability rules, usage counters, quotas and their counts."""

from __future__ import annotations

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage.types import BlobRef, ConditionFailed, ImmutabilityRule, Quota, QuotaExceeded, UsageCounts
from tests.storage.conftest import StorageSeeder


def test_immutability_rules_are_listed_by_glob_replaced_and_deleted(storage):
    assert storage.governance.list_immutability() == []
    storage.governance.put_immutability(ImmutabilityRule("prod/*", ("latest", "dev-*"), 5))
    storage.governance.put_immutability(ImmutabilityRule("*", (), 6))
    assert storage.governance.list_immutability() == [ImmutabilityRule("*", (), 6),
                                                      ImmutabilityRule("prod/*", ("latest", "dev-*"), 5)]
    storage.governance.put_immutability(ImmutabilityRule("prod/*", (), 7))
    assert storage.governance.list_immutability()[1] == ImmutabilityRule("prod/*", (), 7)
    assert storage.governance.delete_immutability("prod/*") is True
    assert storage.governance.delete_immutability("prod/*") is False
    assert storage.governance.list_immutability() == [ImmutabilityRule("*", (), 6)]


def test_usage_counts_add_up_per_day_and_the_last_pull_is_the_last_written(storage):
    storage.governance.add_usage("team/app", "2026-12-01", UsageCounts(pulls=2, redirects=3, redirect_bytes=30,
                                                                       last_pull=100), 10 ** 10)
    storage.governance.add_usage("team/app", "2026-12-01", UsageCounts(pulls=1, pushes=1, last_pull=90,
                                                                       last_push=95, served=2, served_bytes=7), 10 ** 10)
    storage.governance.add_usage("team/app", "2026-12-02", UsageCounts(pulls=5), 10 ** 10)
    assert storage.governance.list_usage("team/app") == {
        "2026-12-01": UsageCounts(pulls=3, redirects=3, redirect_bytes=30, pushes=1, last_pull=90, last_push=95,
                                  served=2, served_bytes=7),
        "2026-12-02": UsageCounts(pulls=5)}
    assert storage.governance.list_usage("team/other") == {}


def test_stored_counts_links_manifests_and_tags(storage):
    blob = StorageSeeder(storage).blob("team/app", b"layer")
    StorageSeeder(storage).manifest("team/app", b'{"m": 1}', tag="v1")
    stored = storage.governance.stored("team/app")
    assert (stored.blobs, stored.manifests, stored.manifest_bytes, stored.tags) == ({blob: 5}, 1, 8, 1)
    assert stored.item_bytes > 0


def link(storage, repo: str, data: bytes, quotas=()) -> Digest:
    """Link as a push does: the registry's copy if it has one, else a first record of new bytes."""
    digest = Digest.of(data)
    recorded = storage.blobs.get_blob(digest)
    ref = recorded or BlobRef(len(data), storage.objects.put_blob(digest, data))
    storage.blobs.link_blob(repo, digest, BlobRef(ref.size, ref.location), record=recorded is None,
                            quotas=tuple(quotas))
    return digest


def fresh(storage, quota: Quota) -> Quota:
    return storage.quotas.get_quota(quota.pattern)


def test_a_quota_counts_each_blob_once_and_refuses_what_does_not_fit(storage):
    quota = Quota("team/*", 100, "q1", created_at=1, count_after=2)
    storage.quotas.create_quota(quota)
    with pytest.raises(ConditionFailed):
        storage.quotas.create_quota(quota)
    assert storage.quotas.list_quotas() == [Quota("team/*", 100, "q1", 0, 1, True, 2)]
    shared = link(storage, "team/a", b"s" * 60, [quota])
    link(storage, "team/b", b"s" * 60, [fresh(storage, quota)])
    assert fresh(storage, quota).used == 60
    with pytest.raises(QuotaExceeded) as refused:
        link(storage, "team/a", b"t" * 50, [quota])  # stale `used`: the condition refuses anyway
    assert (refused.value.quota.used, refused.value.size) == (60, 50)
    assert storage.blobs.get_link("team/a", Digest.of(b"t" * 50)) is None
    assert storage.blobs.unlink_blob("team/a", shared) is True
    assert fresh(storage, quota).used == 60
    assert storage.blobs.unlink_blob("team/b", shared) is True
    assert fresh(storage, quota).used == 0
    assert storage.blobs.unlink_blob("team/b", shared) is False


def test_counting_in_counts_an_existing_link_once(storage):
    before = link(storage, "team/a", b"old" * 10)
    quota = Quota("team/*", 1000, "q1")
    storage.quotas.create_quota(quota)
    page = storage.quotas.list_links("team/a", 10, None)
    assert page.items == [(before, 30, frozenset())] and page.last is None
    assert storage.quotas.count_link(quota, "team/a", before, 30) is True
    assert storage.quotas.count_link(quota, "team/a", before, 30) is False
    assert storage.quotas.count_link(quota, "team/a", Digest.of(b"none"), 4) is False
    assert storage.quotas.list_links("team/a", 10, None).items == [(before, 30, frozenset({"q1"}))]
    assert fresh(storage, quota).used == 30
    storage.quotas.save_cursor(quota, "team/a\0x")
    assert fresh(storage, quota).cursor == "team/a\0x"
    storage.quotas.save_cursor(quota, None)
    assert (fresh(storage, quota).cursor, fresh(storage, quota).counting) == (None, False)


def test_a_deleted_quota_stops_and_its_counts_go(storage):
    quota = Quota("team/*", 1000, "q1")
    storage.quotas.create_quota(quota)
    for i in range(3):
        link(storage, "team/a", bytes([i]) * 10, [quota])
    storage.quotas.set_limit(quota, 2000)
    assert fresh(storage, quota).limit == 2000
    storage.quotas.start_delete(quota)
    assert fresh(storage, quota).deleting
    with pytest.raises(ConditionFailed):
        storage.quotas.set_limit(quota, 3000)
    assert storage.quotas.drop_counts(quota, 2) is False
    assert storage.quotas.drop_counts(quota, 2) is True
    assert storage.quotas.list_quotas() == []


def test_a_blob_record_counts_the_repositories_that_link_it(storage):
    shared, own = link(storage, "team/a", b"shared"), link(storage, "team/a", b"own")
    for repo in ("team/b", "team/c"):
        link(storage, repo, b"shared")
    link(storage, "team/b", b"shared")  # linked again: counted once
    assert storage.governance.blob_links([shared, own]) == {shared: 3, own: 1}
    assert storage.blobs.unlink_blob("team/c", shared) is True
    assert storage.governance.blob_links([shared]) == {shared: 2}
