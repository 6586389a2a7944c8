"""The read side of the storage contracts: what a pull sees. Every implementation, a read-only upstream
included, runs these."""

from __future__ import annotations

import json

import httpx
import pytest

from dockyard.domain.digest import Digest
from dockyard.domain.pages import MAX_PAGE_BYTES

MISSING = Digest.of(b"never stored")


def body(n: int, **extra) -> bytes:
    return json.dumps({"schemaVersion": 2, "n": n, **extra}).encode()


def test_a_blob_is_seen_only_where_it_is_linked(source, repo):
    digest = source.seed.blob(repo, b"layer bytes")
    ref = source.blobs.get_link(repo, digest)
    assert ref is not None and ref.size == len(b"layer bytes")
    assert source.blobs.get_link(repo + "-other", digest) is None
    assert source.blobs.get_link(repo, MISSING) is None


def test_a_linked_blob_streams_and_presigns_its_exact_bytes(source, repo):
    data = bytes(range(256)) * 5000
    ref = source.blobs.get_link(repo, source.seed.blob(repo, data))
    assert b"".join(source.objects.iter_blob(ref.location, chunk=4096)) == data
    assert httpx.get(source.objects.presign_get(ref.location, 60)).content == data


def test_a_manifest_reads_the_same_by_digest_and_by_tag(source, repo):
    manifest = body(1)
    digest = source.seed.manifest(repo, manifest, tag="v1")
    for record in (source.manifests.get_manifest(repo, digest), source.manifests.get_tag(repo, "v1")):
        assert (record.digest, record.size, record.body) == (digest, len(manifest), manifest)
    assert source.manifests.get_manifest(repo, MISSING) is None
    assert source.manifests.get_tag(repo, "v2") is None
    assert source.manifests.get_tag(repo + "-other", "v1") is None


def test_a_moved_tag_reads_its_new_manifest(source, repo):
    source.seed.manifest(repo, body(1), tag="latest")
    second = source.seed.manifest(repo, body(2), tag="latest")
    assert source.manifests.get_tag(repo, "latest").digest == second


TAGS = ["1.0", "1.0.1", "10", "2", "A", "B", "Z", "_x", "a", "a-b", "a.b", "a_b", "b", "latest"]


def test_tags_list_in_byte_order(source, repo):
    for n, tag in enumerate(reversed(TAGS)):
        source.seed.manifest(repo, body(n), tag=tag)
    assert source.manifests.list_tags(repo, 100, None).items == sorted(TAGS)
    assert sorted(TAGS) == sorted(TAGS, key=lambda t: t.encode())


@pytest.mark.parametrize("limit", [1, 2, 3, 5, len(TAGS) - 1, len(TAGS), len(TAGS) + 1])
def test_tag_pages_continue_after_last_and_end_with_none(source, repo, limit):
    for n, tag in enumerate(TAGS):
        source.seed.manifest(repo, body(n), tag=tag)
    seen, last = [], None
    while True:
        page = source.manifests.list_tags(repo, limit, last)
        assert len(page.items) <= limit
        seen += page.items
        if page.last is None:
            break
        assert page.last == page.items[-1]
        last = page.last
    assert seen == sorted(TAGS)


def test_a_page_may_start_after_a_name_that_is_not_there(source, repo):
    for n, tag in enumerate(["a", "c", "e"]):
        source.seed.manifest(repo, body(n), tag=tag)
    assert source.manifests.list_tags(repo, 10, "b").items == ["c", "e"]
    assert source.manifests.list_tags(repo, 10, "e").items == []


def test_the_catalog_lists_repositories_in_byte_order(source, repo):
    names = [f"{repo}/{suffix}" for suffix in ("b", "a/z", "a", "B")]
    for n, name in enumerate(names):
        source.seed.manifest(name, body(n), tag="v1")
        assert source.manifests.repository_exists(name)
    assert not source.manifests.repository_exists(f"{repo}/none")
    listed, last = [], repo
    while True:
        page = source.manifests.list_repositories(2, last)
        listed += [name for name in page.items if name.startswith(repo + "/")]
        if page.last is None or not page.items[-1].startswith(repo):
            break
        last = page.last
    assert listed == sorted(names)


def test_referrers_list_in_digest_order_filtered_and_paged(source, repo):
    subject = source.seed.manifest(repo, body(0), tag="v1")
    sboms = [source.seed.manifest(repo, body(n, k="sbom"), subject=subject, artifact_type="application/sbom",
                                  annotations={"n": str(n)}) for n in range(1, 6)]
    sigs = [source.seed.manifest(repo, body(n, k="sig"), subject=subject, artifact_type="application/sig")
            for n in range(6, 9)]
    everything = source.manifests.list_referrers(repo, subject, 100, None, None, MAX_PAGE_BYTES)
    assert [r.digest for r in everything.items] == sorted(sboms + sigs) and everything.last is None
    first = everything.items[[r.digest for r in everything.items].index(sboms[0])]
    assert (first.artifact_type, first.annotations) == ("application/sbom", {"n": "1"})
    seen, last = [], None
    while True:
        page = source.manifests.list_referrers(repo, subject, 2, last, "application/sbom", MAX_PAGE_BYTES)
        assert len(page.items) <= 2 and all(r.artifact_type == "application/sbom" for r in page.items)
        seen += [r.digest for r in page.items]
        if page.last is None:
            break
        last = page.last
    assert seen == sorted(sboms)
    assert source.manifests.list_referrers(repo, MISSING, 10, None, None, MAX_PAGE_BYTES).items == []


def test_a_referrers_page_holds_as_many_as_its_bytes_allow(source, repo):
    subject = source.seed.manifest(repo, body(0), tag="v1")
    big = "x" * 100_000
    digests = sorted(source.seed.manifest(repo, body(n, k="sig"), subject=subject, annotations={"pad": big})
                     for n in range(1, 8))
    seen, last, pages = [], None, 0
    while True:
        page = source.manifests.list_referrers(repo, subject, 100, last, None, 250_000)
        assert 1 <= len(page.items) <= 2 and sum(len(json.dumps(r.as_json())) for r in page.items) <= 250_000
        seen, last, pages = seen + [r.digest for r in page.items], page.last, pages + 1
        if last is None:
            break
    assert seen == digests and pages == 4
    one = source.manifests.list_referrers(repo, subject, 100, None, None, 1)  # a page always moves on
    assert [r.digest for r in one.items] == digests[:1] and one.last == str(digests[0])
