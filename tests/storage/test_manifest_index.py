"""`ManifestIndex`: a manifest, its tag, its referrer entry and the catalog move together, on condition
that what was read is still so."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage.types import ConditionFailed
from tests.storage.conftest import manifest_record, no_references

ONE, TWO = manifest_record(b'{"n": 1}'), manifest_record(b'{"n": 2}')


def test_the_first_manifest_lists_its_repository(storage, repo):
    refs = storage.manifests.check_references(repo, [], [], "v1")
    assert (refs.missing, refs.current, refs.listed) == ([], None, False)
    storage.manifests.put_manifest(repo, ONE, "v1", refs)
    refs = storage.manifests.check_references(repo, [], [], "v1")
    assert (refs.current, refs.listed) == (ONE.digest, True)
    assert storage.manifests.repository_exists(repo)


def test_references_name_what_is_missing_across_batches(storage, repo):
    from dockyard.storage.types import BlobRef

    present = [Digest.of(str(n).encode()) for n in range(120)]
    for digest in present[:60]:
        storage.blobs.link_blob(repo, digest, BlobRef(1, "x"))
    storage.manifests.put_manifest(repo, ONE, None, no_references())
    refs = storage.manifests.check_references(repo, present, [ONE.digest, TWO.digest])
    assert sorted(refs.missing) == sorted(present[60:] + [TWO.digest])


def test_a_tag_moves_only_from_where_it_was_read(storage, repo):
    storage.manifests.put_manifest(repo, ONE, "v1", no_references())
    with pytest.raises(ConditionFailed):  # read before ONE was tagged: stale
        storage.manifests.put_manifest(repo, TWO, "v1", no_references(listed=True))
    assert storage.manifests.get_tag(repo, "v1").digest == ONE.digest
    assert storage.manifests.get_manifest(repo, TWO.digest) is None  # nothing of the transaction was written
    storage.manifests.put_manifest(repo, TWO, "v1", no_references(True, ONE.digest))
    assert storage.manifests.get_tag(repo, "v1").digest == TWO.digest
    assert storage.manifests.manifest_tags(repo, ONE.digest).tags == []
    assert storage.manifests.manifest_tags(repo, TWO.digest).tags == ["v1"]


def test_putting_the_same_manifest_again_changes_nothing_but_its_tags(storage, repo):
    storage.manifests.put_manifest(repo, ONE, "a", no_references())
    before = storage.manifests.manifest_tags(repo, ONE.digest)
    storage.manifests.put_manifest(repo, ONE, "a", no_references(True, ONE.digest))
    assert storage.manifests.manifest_tags(repo, ONE.digest) == before
    storage.manifests.put_manifest(repo, ONE, "b", no_references(True))
    after = storage.manifests.manifest_tags(repo, ONE.digest)
    assert after.tags == ["a", "b"] and after.version > before.version


def test_a_manifest_is_deleted_with_its_tags_and_referrer_entry(storage, repo):
    storage.manifests.put_manifest(repo, ONE, "v1", no_references())
    referrer = manifest_record(b'{"sbom": 1}', subject=ONE.digest, artifact_type="application/sbom")
    storage.manifests.put_manifest(repo, referrer, "sbom", no_references(True))
    state = storage.manifests.manifest_tags(repo, referrer.digest)
    assert state.subject == ONE.digest
    storage.manifests.delete_manifest(repo, referrer.digest, state)
    assert storage.manifests.get_manifest(repo, referrer.digest) is None
    assert storage.manifests.get_tag(repo, "sbom") is None
    assert storage.manifests.list_referrers(repo, ONE.digest, 10, None, None).items == []
    assert storage.manifests.manifest_tags(repo, referrer.digest) is None


def test_a_deletion_whose_tags_changed_meanwhile_writes_nothing(storage, repo):
    storage.manifests.put_manifest(repo, ONE, "v1", no_references())
    state = storage.manifests.manifest_tags(repo, ONE.digest)
    storage.manifests.put_manifest(repo, ONE, "v2", no_references(True))  # tagged again meanwhile
    with pytest.raises(ConditionFailed):
        storage.manifests.delete_manifest(repo, ONE.digest, state)
    assert storage.manifests.get_tag(repo, "v1").digest == ONE.digest
    storage.manifests.delete_manifest(repo, ONE.digest, storage.manifests.manifest_tags(repo, ONE.digest))
    assert storage.manifests.list_tags(repo, 10, None).items == []


def test_deleting_a_tag_keeps_its_manifest(storage, repo):
    storage.manifests.put_manifest(repo, ONE, "v1", no_references())
    assert storage.manifests.delete_tag(repo, "v1") is True
    assert storage.manifests.delete_tag(repo, "v1") is False
    assert storage.manifests.get_manifest(repo, ONE.digest) is not None
    assert storage.manifests.manifest_tags(repo, ONE.digest).tags == []


def test_a_body_kept_outside_the_index_reads_back_as_missing(storage, repo):
    large = replace(ONE, body=None, body_in_s3=True)
    storage.manifests.put_manifest(repo, large, "big", no_references())
    record = storage.manifests.get_tag(repo, "big")
    assert (record.body, record.body_in_s3) == (None, True)
    storage.manifests.put_manifest(repo, ONE, "small", no_references(True))  # the same digest, inline now
    assert storage.manifests.get_manifest(repo, ONE.digest).body == ONE.body


def test_a_push_is_stamped_on_the_tag_each_time_and_on_the_manifest_once(storage, repo):
    storage.manifests.put_manifest(repo, replace(ONE, pushed_at=100), "a", no_references())
    storage.manifests.put_manifest(repo, replace(ONE, pushed_at=200), "b", no_references(True))
    assert storage.manifests.get_manifest(repo, ONE.digest).pushed_at == 100
    assert storage.manifests.get_tag(repo, "a").pushed_at == 100
    assert storage.manifests.get_tag(repo, "b").pushed_at == 200


def test_a_pull_is_stamped_only_over_an_older_stamp_and_only_where_it_still_points(storage, repo):
    storage.manifests.put_manifest(repo, replace(ONE, pushed_at=100), "v1", no_references())
    assert storage.manifests.get_tag(repo, "v1").last_pulled is None
    storage.manifests.record_pull(repo, "v1", ONE.digest, now=1000, older_than=1000)
    storage.manifests.record_pull(repo, "v1", ONE.digest, now=1500, older_than=900)  # 1000 is not older
    assert storage.manifests.get_tag(repo, "v1").last_pulled == 1000
    assert storage.manifests.get_manifest(repo, ONE.digest).last_pulled is None  # by tag: the tag's stamp
    storage.manifests.record_pull(repo, ONE.digest, ONE.digest, now=2000, older_than=2000)
    assert storage.manifests.get_manifest(repo, ONE.digest).last_pulled == 2000
    storage.manifests.record_pull(repo, "v1", TWO.digest, now=3000, older_than=3000)  # the tag moved meanwhile
    storage.manifests.record_pull(repo, "gone", ONE.digest, now=3000, older_than=3000)  # no such tag
    assert storage.manifests.get_tag(repo, "v1").last_pulled == 1000
    assert storage.manifests.get_tag(repo, "gone") is None
