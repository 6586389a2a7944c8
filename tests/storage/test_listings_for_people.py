"""The listings the web page reads: tags with their manifests' fields, manifests and links in batches, and
the bounded totals of a repository's links."""

from __future__ import annotations

from dockyard.domain.digest import Digest
from dockyard.storage.types import BlobRef
from tests.storage.conftest import manifest_record, no_references


def test_tag_details_come_in_order_with_their_manifests_and_continue(storage, repo):
    records = {tag: manifest_record(f'{{"tag": "{tag}"}}'.encode()) for tag in ("b", "a", "c")}
    listed = False
    for tag, record in records.items():
        storage.manifests.put_manifest(repo, record, (tag,), no_references(listed, **{tag: None}))
        listed = True
    page = storage.manifests.list_tag_details(repo, 2, None)
    assert [(d.tag, d.manifest.digest, d.manifest.body) for d in page.items] == [
        ("a", records["a"].digest, records["a"].body), ("b", records["b"].digest, records["b"].body)]
    assert page.last == "b"
    rest = storage.manifests.list_tag_details(repo, 2, page.last, bodies=False)
    assert [(d.tag, d.manifest.digest, d.manifest.size, d.manifest.body) for d in rest.items] == [
        ("c", records["c"].digest, records["c"].size, None)]
    assert rest.last is None
    assert all(d.pushed_at is None or d.pushed_at > 0 for d in page.items + rest.items)


def test_tag_details_of_an_unknown_repository_are_empty(storage, repo):
    page = storage.manifests.list_tag_details(repo, 10, None)
    assert (page.items, page.last) == ([], None)


def test_manifests_are_read_in_batches_of_what_exists(storage, repo):
    stored = [manifest_record(f'{{"n": {i}}}'.encode()) for i in range(105)]
    storage.manifests.put_manifest(repo, stored[0], (), no_references())
    for record in stored[1:]:
        storage.manifests.put_manifest(repo, record, (), no_references(True))
    missing = Digest.of(b"never stored")
    found = storage.manifests.get_manifests(repo, [r.digest for r in stored] + [missing])
    assert set(found) == {r.digest for r in stored}
    assert found[stored[7].digest].body == stored[7].body
    assert storage.manifests.get_manifests(f"{repo}-other", [stored[0].digest]) == {}


def test_links_are_read_in_batches_and_totalled_up_to_a_bound(storage, repo):
    digests = [Digest.of(str(i).encode()) for i in range(7)]
    for i, digest in enumerate(digests):
        storage.blobs.link_blob(repo, digest, BlobRef(100 + i, f"loc-{i}"), record=True)
    found = storage.blobs.get_links(repo, digests[:3] + [Digest.of(b"unlinked")])
    assert found == {d: BlobRef(100 + i, f"loc-{i}") for i, d in enumerate(digests[:3])}
    totals = storage.blobs.link_totals(repo, 100)
    assert (totals.count, totals.size, totals.complete) == (7, sum(100 + i for i in range(7)), True)
    bounded = storage.blobs.link_totals(repo, 5)
    assert (bounded.count, bounded.complete) == (5, False)
    empty = storage.blobs.link_totals(f"{repo}-none", 5)
    assert (empty.count, empty.size, empty.complete) == (0, 0, True)
