"""Cached content obeys retention and garbage collection like any repository's: a rule on a cache prefix
evicts what was not pulled lately (manifests, then their blobs' bytes), and the next pull fetches it again."""

from __future__ import annotations

import time

import httpx

from tests.api.test_pullthrough_api import CONFIG, LAYER, add, upstream  # noqa: F401 - `upstream` is a fixture
from tests.support.gc import run_gc, s3_keys
from tests.support.oci import sha256
from tests.support.upstreams import blob_gets, manifest_requests


def pull(client, repo: str, tag: str) -> str:
    """Pull an image as a client does: its manifest by tag, then each blob through its redirect."""
    response = client.get(f"/v2/{repo}/manifests/{tag}")
    assert response.status_code == 200, response.text
    for data in (CONFIG, LAYER):
        located = client.get(f"/v2/{repo}/blobs/{sha256(data)}", follow_redirects=False)
        assert located.status_code in (200, 307), located.text
        body = located.content if located.status_code == 200 else httpx.get(located.headers["location"]).content
        assert body == data
    return response.headers["docker-content-digest"]


def test_a_cache_prefix_evicts_what_was_not_pulled_and_fetches_it_again(client, registry, upstream):
    assert add(client, "dist", upstream.url).status_code == 201
    digest = pull(client, "dist/team/app", "v1")
    cached = s3_keys(registry)
    assert client.put("/dockyard/v1/retention/dist/*", json={"unpulled_after": 30 * 86400}).status_code == 200
    kept = run_gc(client)  # pulled just now: kept
    assert kept["counts"]["deleted_manifests"] == 0 and s3_keys(registry) == cached

    assert client.put("/dockyard/v1/retention/dist/*", json={"unpulled_after": 1}).status_code == 200
    time.sleep(2.1)
    run = run_gc(client)
    evicted = {(e["action"], e.get("digest")) for e in run["entries"]}
    assert ("delete_manifest", digest) in evicted
    assert {("delete_blob", sha256(CONFIG)), ("delete_blob", sha256(LAYER))} <= evicted
    assert not any(key.endswith(sha256(LAYER).split(":")[1]) for key in s3_keys(registry))
    assert client.get("/v2/dist/team/app/tags/list").json()["tags"] in ([], None)

    before = len(upstream.requests())
    registry.blobs.links.clear()  # another instance (this one forgot what it collected, too)
    assert pull(client, "dist/team/app", "v1") == digest  # fetched again, byte-exact
    again = upstream.requests()[before:]
    assert len(manifest_requests(again)) >= 1
    assert sorted(blob_gets(again)) == sorted(f"/v2/team/app/blobs/{sha256(d)}" for d in (CONFIG, LAYER))
