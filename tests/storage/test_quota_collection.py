"""Storage quotas and garbage collection (`BlobIndex`, `Collector`, `QuotaStore`): a link that GC collects is
counted out of the quotas that counted it, exactly once; a placeholder link (a pull-through cache's manifest
counted on a blob not fetched yet) holds no bytes, so no quota counts it until its bytes come."""

from __future__ import annotations

import time

from dockyard.domain.digest import Digest
from dockyard.storage.types import BlobRef, Quota, Uses
from tests.storage.conftest import manifest_record, no_references

D = Digest.of(b"layer")
REF = BlobRef(5, "blobs/sha256/aa/layer/1")


def used(storage, quota: Quota) -> int:
    return storage.quotas.get_quota(quota.pattern).used


def members(storage, quota: Quota) -> dict[str, int]:
    return storage.blobs.quotas.memberships([quota], D)


def collect(storage, repo: str) -> bool:
    state = storage.collector.link_state(repo, D)
    return storage.collector.collect_link(repo, D, state.since, int(time.time())) if state else False


def test_a_collected_link_is_counted_out_of_its_quotas_once(storage, repo):
    quota = Quota(f"{repo}/*", 100, "q-" + repo[-6:])
    storage.quotas.create_quota(quota)
    storage.blobs.link_blob(f"{repo}/a", D, REF, record=True, quotas=(quota,))
    storage.blobs.link_blob(f"{repo}/b", D, REF, quotas=(storage.quotas.get_quota(quota.pattern),))
    assert used(storage, quota) == 5 and members(storage, quota) == {quota.id: 2}
    assert collect(storage, f"{repo}/a") is True
    assert used(storage, quota) == 5 and members(storage, quota) == {quota.id: 1}  # b links it still
    assert collect(storage, f"{repo}/a") is False  # gone: nothing counted out twice
    assert used(storage, quota) == 5
    assert collect(storage, f"{repo}/b") is True
    assert used(storage, quota) == 0 and members(storage, quota) == {}
    assert storage.collector.record_state(D).links == 0


def test_a_link_counted_in_after_it_was_queued_is_collected_with_its_count(storage, repo):
    storage.blobs.link_blob(f"{repo}/a", D, REF, record=True)  # before the quota
    quota = Quota(f"{repo}/*", 100, "q-" + repo[-6:])
    storage.quotas.create_quota(quota)
    since = storage.collector.link_state(f"{repo}/a", D).since
    assert storage.quotas.count_link(quota, f"{repo}/a", D, 5) is True  # counting in, between GC's read and step
    assert used(storage, quota) == 5
    assert storage.collector.collect_link(f"{repo}/a", D, since, int(time.time())) is True
    assert used(storage, quota) == 0 and members(storage, quota) == {}


def put_cached(storage, repo: str) -> Digest:
    """A pull-through cache's manifest, counted on blob `D` before it is fetched: a placeholder link."""
    cached = manifest_record(b'{"cached": 1}')
    storage.manifests.put_manifest(repo, cached, ("cached",), no_references(True, cached=None), Uses(blobs=(D,)),
                                   lazy=True)
    return cached.digest


def delete_cached(storage, repo: str, digest: Digest) -> None:
    storage.manifests.delete_manifest(repo, digest, storage.manifests.manifest_tags(repo, digest), Uses(blobs=(D,)))


def test_a_placeholder_link_counts_no_bytes(storage, repo):
    quota = Quota(f"{repo}/*", 100, "q-" + repo[-6:])
    storage.quotas.create_quota(quota)
    digest = put_cached(storage, f"{repo}/a")
    assert storage.collector.link_state(f"{repo}/a", D).ref is None  # a placeholder
    assert storage.quotas.list_links(f"{repo}/a", 10, None).items == []  # nothing to count in
    assert storage.quotas.count_link(quota, f"{repo}/a", D, 5) is False
    assert storage.governance.stored(f"{repo}/a").blobs == {}
    delete_cached(storage, f"{repo}/a", digest)
    assert collect(storage, f"{repo}/a") is True  # the placeholder goes, with nothing to count out
    assert used(storage, quota) == 0 and members(storage, quota) == {}


def test_a_placeholder_that_gets_its_bytes_is_counted_then_and_counted_out_when_collected(storage, repo):
    quota = Quota(f"{repo}/*", 100, "q-" + repo[-6:])
    storage.quotas.create_quota(quota)
    digest = put_cached(storage, f"{repo}/a")
    storage.blobs.link_blob(f"{repo}/a", D, REF, record=True, quotas=(quota,))  # fetched: the bytes come
    assert used(storage, quota) == 5 and members(storage, quota) == {quota.id: 1}
    assert storage.governance.stored(f"{repo}/a").blobs == {D: 5}
    assert storage.collector.link_state(f"{repo}/a", D).refs == 1
    delete_cached(storage, f"{repo}/a", digest)
    assert collect(storage, f"{repo}/a") is True
    assert used(storage, quota) == 0 and members(storage, quota) == {}
