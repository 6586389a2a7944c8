"""`ManifestIndex`: a manifest, its tag, its referrer entry and the catalog move together, on condition
that what was read is still so."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dockyard.domain.digest import Digest
from dockyard.domain.pages import MAX_PAGE_BYTES
from dockyard.storage.types import ConditionFailed, References
from tests.storage.conftest import manifest_record, no_references
from tests.support.faults import throttled_filtered_queries

ONE, TWO = manifest_record(b'{"n": 1}'), manifest_record(b'{"n": 2}')


def test_the_first_manifest_lists_its_repository(storage, repo):
    refs = storage.manifests.check_references(repo, [], [], ("v1",))
    assert (refs.missing, refs.tags, refs.listed) == ([], {"v1": None}, False)
    storage.manifests.put_manifest(repo, ONE, ("v1",), refs)
    refs = storage.manifests.check_references(repo, [], [], ("v1",))
    assert (refs.tags, refs.listed) == ({"v1": ONE.digest}, True)
    assert storage.manifests.repository_exists(repo)


def test_references_name_what_is_missing_across_batches(storage, repo):
    from dockyard.storage.types import BlobRef

    present = [Digest.of(str(n).encode()) for n in range(120)]
    for digest in present[:60]:
        storage.blobs.link_blob(repo, digest, BlobRef(1, f"x/{digest.encoded}"), record=True)
    storage.manifests.put_manifest(repo, ONE, (), no_references())
    refs = storage.manifests.check_references(repo, present, [ONE.digest, TWO.digest])
    assert sorted(refs.missing) == sorted(present[60:] + [TWO.digest])


def test_a_tag_moves_only_from_where_it_was_read(storage, repo):
    storage.manifests.put_manifest(repo, ONE, ("v1",), no_references(v1=None))
    with pytest.raises(ConditionFailed):  # read before ONE was tagged: stale
        storage.manifests.put_manifest(repo, TWO, ("v1",), no_references(True, v1=None))
    assert storage.manifests.get_tag(repo, "v1").digest == ONE.digest
    assert storage.manifests.get_manifest(repo, TWO.digest) is None  # nothing of the transaction was written
    storage.manifests.put_manifest(repo, TWO, ("v1",), no_references(True, v1=ONE.digest))
    assert storage.manifests.get_tag(repo, "v1").digest == TWO.digest
    assert storage.manifests.manifest_tags(repo, ONE.digest).tags == []
    assert storage.manifests.manifest_tags(repo, TWO.digest).tags == ["v1"]


def test_many_tags_move_in_one_write_from_wherever_they_were(storage, repo):
    three = manifest_record(b'{"n": 3}')
    storage.manifests.put_manifest(repo, ONE, ("a", "b"), no_references(a=None, b=None))
    storage.manifests.put_manifest(repo, TWO, ("c",), no_references(True, c=None))
    tags = ("a", "b", "c", "new")
    refs = storage.manifests.check_references(repo, [], [], tags)
    assert refs.tags == {"a": ONE.digest, "b": ONE.digest, "c": TWO.digest, "new": None}
    storage.manifests.put_manifest(repo, three, tags, refs)
    assert {tag: storage.manifests.get_tag(repo, tag).digest for tag in tags} == dict.fromkeys(tags, three.digest)
    assert storage.manifests.manifest_tags(repo, three.digest).tags == sorted(tags)
    assert storage.manifests.manifest_tags(repo, ONE.digest).tags == []
    assert storage.manifests.manifest_tags(repo, TWO.digest).tags == []


def test_the_most_tags_one_put_takes_fit_one_write(storage, repo):
    from dockyard.storage.interfaces import MAX_TAGS_PER_PUT

    tags = tuple(f"t{n:02}" for n in range(MAX_TAGS_PER_PUT))  # each leaving a manifest of its own
    for n, tag in enumerate(tags):
        storage.manifests.put_manifest(repo, manifest_record(b'{"old": %d}' % n), (tag,),
                                       no_references(n > 0, **{tag: None}))
    referrer = manifest_record(b'{"sbom": 2}', subject=ONE.digest, artifact_type="application/sbom")
    storage.manifests.put_manifest(repo, referrer, tags, storage.manifests.check_references(repo, [], [], tags))
    assert storage.manifests.list_tags(repo, 100, None).items == list(tags)
    assert {storage.manifests.get_tag(repo, tag).digest for tag in tags} == {referrer.digest}


def test_one_stale_tag_of_many_fails_the_whole_write(storage, repo):
    storage.manifests.put_manifest(repo, ONE, ("a",), no_references(a=None))
    with pytest.raises(ConditionFailed):
        storage.manifests.put_manifest(repo, TWO, ("b", "a"), no_references(True, b=None, a=None))
    assert storage.manifests.get_tag(repo, "b") is None
    assert storage.manifests.get_tag(repo, "a").digest == ONE.digest


def test_putting_the_same_manifest_again_changes_nothing_but_its_tags(storage, repo):
    storage.manifests.put_manifest(repo, ONE, ("a",), no_references(a=None))
    before = storage.manifests.manifest_tags(repo, ONE.digest)
    storage.manifests.put_manifest(repo, ONE, ("a",), no_references(True, exists=True, a=ONE.digest))
    assert storage.manifests.manifest_tags(repo, ONE.digest) == before
    with pytest.raises(ConditionFailed):  # read as new, but stored meanwhile: nothing is counted twice
        storage.manifests.put_manifest(repo, ONE, ("b",), no_references(True, b=None))
    storage.manifests.put_manifest(repo, ONE, ("b",), no_references(True, exists=True, b=None))
    after = storage.manifests.manifest_tags(repo, ONE.digest)
    assert after.tags == ["a", "b"] and after.version > before.version


def test_a_manifest_is_deleted_with_its_tags_and_referrer_entry(storage, repo):
    storage.manifests.put_manifest(repo, ONE, ("v1",), no_references(v1=None))
    referrer = manifest_record(b'{"sbom": 1}', subject=ONE.digest, artifact_type="application/sbom")
    storage.manifests.put_manifest(repo, referrer, ("sbom",), no_references(True, sbom=None))
    state = storage.manifests.manifest_tags(repo, referrer.digest)
    assert state.subject == ONE.digest
    storage.manifests.delete_manifest(repo, referrer.digest, state)
    assert storage.manifests.get_manifest(repo, referrer.digest) is None
    assert storage.manifests.get_tag(repo, "sbom") is None
    assert storage.manifests.list_referrers(repo, ONE.digest, 10, None, None, MAX_PAGE_BYTES).items == []
    assert storage.manifests.manifest_tags(repo, referrer.digest) is None


def test_a_deletion_whose_tags_changed_meanwhile_writes_nothing(storage, repo):
    storage.manifests.put_manifest(repo, ONE, ("v1",), no_references(v1=None))
    state = storage.manifests.manifest_tags(repo, ONE.digest)
    storage.manifests.put_manifest(repo, ONE, ("v2",), no_references(True, exists=True, v2=None))  # tagged again meanwhile
    with pytest.raises(ConditionFailed):
        storage.manifests.delete_manifest(repo, ONE.digest, state)
    assert storage.manifests.get_tag(repo, "v1").digest == ONE.digest
    storage.manifests.delete_manifest(repo, ONE.digest, storage.manifests.manifest_tags(repo, ONE.digest))
    assert storage.manifests.list_tags(repo, 10, None).items == []


def test_deleting_a_tag_keeps_its_manifest(storage, repo):
    storage.manifests.put_manifest(repo, ONE, ("v1",), no_references(v1=None))
    assert storage.manifests.delete_tag(repo, "v1") is True
    assert storage.manifests.delete_tag(repo, "v1") is False
    assert storage.manifests.get_manifest(repo, ONE.digest) is not None
    assert storage.manifests.manifest_tags(repo, ONE.digest).tags == []


def test_a_body_kept_as_a_blob_reads_back_as_its_location(storage, repo):
    large = replace(ONE, body=None, body_location="blobs/elsewhere")
    storage.manifests.put_manifest(repo, large, ("big",), no_references(big=None))
    record = storage.manifests.get_tag(repo, "big")
    assert (record.body, record.body_location) == (None, "blobs/elsewhere")
    with pytest.raises(ConditionFailed):  # read as inline, but kept as a blob: its body stays counted once
        storage.manifests.put_manifest(repo, ONE, ("small",), no_references(True, exists=True, small=None))
    storage.manifests.put_manifest(repo, large, ("small",), References([], {"small": None}, True, True,
                                                                       "blobs/elsewhere"))
    assert storage.manifests.get_tag(repo, "small").body_location == "blobs/elsewhere"
    assert storage.manifests.get_manifest(repo, ONE.digest).body_location == "blobs/elsewhere"


def test_a_push_is_stamped_on_the_tag_each_time_and_on_the_manifest_once(storage, repo):
    storage.manifests.put_manifest(repo, replace(ONE, pushed_at=100), ("a",), no_references(a=None))
    storage.manifests.put_manifest(repo, replace(ONE, pushed_at=200), ("b",), no_references(True, exists=True, b=None))
    assert storage.manifests.get_manifest(repo, ONE.digest).pushed_at == 100
    assert storage.manifests.get_tag(repo, "a").pushed_at == 100
    assert storage.manifests.get_tag(repo, "b").pushed_at == 200


def test_a_pull_is_stamped_only_over_an_older_stamp_and_only_where_it_still_points(storage, repo):
    storage.manifests.put_manifest(repo, replace(ONE, pushed_at=100), ("v1",), no_references(v1=None))
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


def test_a_tag_is_deleted_only_as_the_push_it_was_read_as(storage, repo):
    storage.manifests.put_manifest(repo, replace(ONE, pushed_at=100), ("v1",), no_references(v1=None))
    storage.manifests.put_manifest(repo, replace(ONE, pushed_at=200), ("v1",), no_references(True, True, v1=ONE.digest))
    with pytest.raises(ConditionFailed):  # pushed again since it was read
        storage.manifests.delete_tag(repo, "v1", expected=ONE.digest, pushed_at=100)
    with pytest.raises(ConditionFailed):  # moved since
        storage.manifests.delete_tag(repo, "v1", expected=TWO.digest)
    assert storage.manifests.delete_tag(repo, "v1", expected=ONE.digest, pushed_at=200) is True
    assert storage.manifests.get_tag(repo, "v1") is None


def _hinted(storage, repo, data: bytes = b"config"):
    """A manifest referencing one linked blob, with the pull hints its push would give it."""
    from dockyard.storage.types import BlobRef, PullHints, Uses

    digest = Digest.of(data)
    storage.blobs.link_blob(repo, digest, BlobRef(len(data), storage.objects.put_blob(digest, data)), record=True)
    refs = storage.manifests.check_references(repo, [digest], [], ("v1",))
    assert refs.links == {digest: storage.blobs.get_link(repo, digest)}  # where the read found it linked
    record = replace(ONE, hints=PullHints(((digest, refs.links[digest]),), data))
    return record, refs, Uses(blobs=(digest,))


def test_a_manifest_and_its_tag_read_back_with_their_pull_hints_and_its_referrer_entry_without(storage, repo):
    record, refs, uses = _hinted(storage, repo)
    storage.manifests.put_manifest(repo, replace(record, subject=TWO.digest), ("v1",), refs, uses)
    for read in (storage.manifests.get_manifest(repo, ONE.digest), storage.manifests.get_tag(repo, "v1")):
        assert read.hints == record.hints
    [entry] = storage.manifests.list_referrers(repo, TWO.digest, 10, None, None, MAX_PAGE_BYTES).items
    assert entry.digest == ONE.digest


def test_hints_are_written_only_if_each_link_is_still_where_they_say(storage, repo):
    """A link collected and made again (another location) between the push's read and its write: the write
    fails, so no item ever points a pull at bytes that are gone."""
    from dockyard.storage.types import BlobRef

    record, refs, uses = _hinted(storage, repo)
    [(digest, ref)] = record.hints.links
    storage.blobs.unlink_blob(repo, digest)  # collected: unlinked, its record doomed and forgotten
    stamp = storage.collector.doom(digest, storage.collector.record_state(digest).since)
    assert storage.collector.forget_record(digest, stamp) is True
    storage.blobs.link_blob(repo, digest, BlobRef(ref.size, storage.objects.put_blob(digest, b"config")),
                            record=True)  # an upload of it again
    assert storage.blobs.get_link(repo, digest).location != ref.location
    with pytest.raises(ConditionFailed):
        storage.manifests.put_manifest(repo, record, ("v1",), refs, uses)
    assert storage.manifests.get_manifest(repo, ONE.digest) is None
    refs = storage.manifests.check_references(repo, [digest], [], ("v1",))  # read again: the new location
    storage.manifests.put_manifest(repo, replace(record, hints=replace(record.hints, links=tuple(refs.links.items()))),
                                   ("v1",), refs, uses)
    assert storage.manifests.get_tag(repo, "v1").hints.links == ((digest, storage.blobs.get_link(repo, digest)),)


def test_a_manifest_put_again_without_hints_loses_the_old_ones(storage, repo):
    record, refs, uses = _hinted(storage, repo)
    storage.manifests.put_manifest(repo, record, ("v1",), refs, uses)
    refs = storage.manifests.check_references(repo, [], [], ("v1",), ONE.digest)
    storage.manifests.put_manifest(repo, ONE, ("v1",), refs, uses)
    assert storage.manifests.get_manifest(repo, ONE.digest).hints is None
    assert storage.manifests.get_tag(repo, "v1").hints is None


def _move(storage, repo, digest, data: bytes = b"config"):
    """The blob's bytes were found gone, and it is uploaded again: recorded, and linked, at a new location."""
    from dockyard.storage.types import BlobRef

    old = storage.blobs.get_link(repo, digest)
    moved = BlobRef(old.size, storage.objects.put_blob(digest, data))
    storage.blobs.link_blob(repo, digest, moved, record=True, replaces=old.location)
    assert storage.blobs.get_link(repo, digest) == moved
    return old, moved


def test_a_link_that_moves_takes_the_hints_that_name_where_it_was_away(storage, repo):
    """Lost bytes uploaded again move the link: no item keeps pointing pulls at the bytes that are gone."""
    record, refs, uses = _hinted(storage, repo)
    storage.manifests.put_manifest(repo, record, ("v1",), refs, uses)
    [(digest, _)] = record.hints.links
    _move(storage, repo, digest)
    assert storage.manifests.get_manifest(repo, ONE.digest).hints is None
    assert storage.manifests.get_tag(repo, "v1").hints is None
    assert storage.manifests.get_tag(repo, "v1").digest == ONE.digest  # the rest of the items is kept
    state = storage.collector.link_state(repo, digest)
    assert (state.refs, state.stale) == (1, None)  # cleared: nothing left for the collector to finish


def test_a_stored_manifest_put_again_with_hints_read_before_a_move_fails(storage, repo):
    record, refs, uses = _hinted(storage, repo)
    storage.manifests.put_manifest(repo, record, ("v1",), refs, uses)
    refs = storage.manifests.check_references(repo, [record.hints.links[0][0]], [], ("v2",), ONE.digest)
    assert refs.exists
    _move(storage, repo, record.hints.links[0][0])
    with pytest.raises(ConditionFailed):
        storage.manifests.put_manifest(repo, record, ("v2",), refs, uses)
    assert storage.manifests.get_tag(repo, "v2") is None
    assert storage.manifests.get_manifest(repo, ONE.digest).hints is None


def test_a_clearing_cut_short_leaves_the_link_marked_and_the_collector_finishes_it(storage, repo):
    record, refs, uses = _hinted(storage, repo)
    storage.manifests.put_manifest(repo, record, ("v1",), refs, uses)
    [(digest, hinted)] = record.hints.links
    with throttled_filtered_queries(storage.blobs.table.client):
        old, _ = _move(storage, repo, digest)  # the upload succeeds all the same
    assert storage.manifests.get_tag(repo, "v1").hints == record.hints  # not cleared yet
    state = storage.collector.link_state(repo, digest)
    assert state.stale == old.location == hinted.location and state.since is not None  # marked, and queued
    storage.collector.clear_hints(repo, digest, state.stale)
    assert storage.manifests.get_tag(repo, "v1").hints is None
    assert storage.manifests.get_manifest(repo, ONE.digest).hints is None
    assert storage.collector.link_state(repo, digest).stale is None
