"""Retention rules through the admin API: what a run deletes, why, and what it always keeps; the preview (a
dry run) lists exactly what the real run then deletes."""

from __future__ import annotations

import json

import pytest

from dockyard.domain import mediatypes as mt
from tests.api.test_gc_api import index_of
from tests.support.gc import pull_blob, run_gc, s3_keys
from tests.support.oci import OCI_MANIFEST, sha256
from tests.support.registry import error_code, image_manifest, push_blob, push_image

BASE = b"shared base layer " * 40


def set_rule(client, pattern: str, **rule):
    return client.put(f"/dockyard/v1/retention/{pattern}", json=rule)


def deletions(run: dict) -> list[tuple]:
    return sorted((e["action"], e.get("repository"), e.get("digest"), e.get("tag"), e["reason"])
                  for e in run["entries"])


def test_rules_are_set_listed_and_deleted(client):
    response = set_rule(client, "team/*", keep_last=3, untagged_after=7 * 86400, keep_tags=["latest", "v*"])
    assert response.status_code == 200
    rule = response.json()["rule"]
    assert (rule["pattern"], rule["keep_last"], rule["untagged_after"], rule["keep_tags"]) == \
        ("team/*", 3, 604800, ["latest", "v*"])
    assert set_rule(client, "team/app", expire_after=86400).status_code == 200
    assert [r["pattern"] for r in client.get("/dockyard/v1/retention").json()["rules"]] == ["team/*", "team/app"]
    assert client.delete("/dockyard/v1/retention/team/app").status_code == 200
    assert client.delete("/dockyard/v1/retention/team/app").status_code == 404
    assert [r["pattern"] for r in client.get("/dockyard/v1/retention").json()["rules"]] == ["team/*"]


@pytest.mark.parametrize("rule", [{}, {"keep_last": -1}, {"expire_after": "30d"}, {"keep_tags": "latest"},
                                  {"keep_last": 1, "colour": "red"}, {"keep_last": True}, {"untagged_after": True},
                                  {"keep_last": 10 ** 40}, {"unpulled_after": 10 ** 40}])
def test_invalid_rules_are_400(client, rule):
    response = set_rule(client, "team/*", **rule)
    assert response.status_code == 400 and error_code(response) == "UNSUPPORTED"
    assert client.get("/dockyard/v1/retention").json()["rules"] == []  # the listing still answers


def test_keep_last_deletes_older_images_with_their_children_and_referrers_and_keeps_the_rest(client, registry):
    images = {}
    for i in range(4):  # pushed in this order: v0 is the oldest
        images[f"v{i}"] = push_image(client, "team/app", f"v{i}", layers=[BASE, f"layer {i}".encode() * 30])
    push_image(client, "team/other", "v0", layers=[BASE])  # shares the base layer, no rule applies
    amd, amd_body = push_image(client, "team/app", "amd", layers=[b"amd layer" * 30])
    index = index_of(amd_body)
    assert client.put("/v2/team/app/manifests/multi", content=index, headers={"Content-Type": mt.OCI_INDEX}).status_code == 201
    assert client.delete("/v2/team/app/manifests/amd").status_code == 202  # its child is untagged now
    signature = image_manifest(b"{}", [b"signature"], subject={"mediaType": OCI_MANIFEST, "digest": images["v0"][0],
                                                                "size": len(images["v0"][1])})
    for blob in (b"{}", b"signature"):
        push_blob(client, "team/app", blob)
    assert client.put(f"/v2/team/app/manifests/{sha256(signature)}", content=signature,
                      headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    keep_signature = image_manifest(b"{}", [b"kept signature"], subject={
        "mediaType": OCI_MANIFEST, "digest": images["v3"][0], "size": len(images["v3"][1])})
    push_blob(client, "team/app", b"kept signature")
    assert client.put(f"/v2/team/app/manifests/{sha256(keep_signature)}", content=keep_signature,
                      headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    import time

    time.sleep(1.1)  # "multi" is the newest push of all
    assert client.put("/v2/team/app/manifests/multi", content=index, headers={"Content-Type": mt.OCI_INDEX}).status_code == 201
    assert set_rule(client, "team/app", keep_last=3).status_code == 200

    assert client.get(f"/v2/team/app/manifests/{images['v0'][0]}").status_code == 200  # in this instance's memory
    preview = run_gc(client, dry_run=True)
    before = s3_keys(registry)
    run = run_gc(client)
    assert deletions(preview) == deletions(run) and preview["counts"] == run["counts"]
    gone = {e["digest"] for e in run["entries"] if e["action"] == "delete_manifest"}
    assert gone == {images["v0"][0], images["v1"][0], sha256(signature)}
    assert client.get(f"/v2/team/app/manifests/{images['v0'][0]}").status_code == 404  # forgotten at once
    reasons = {e["digest"]: e["reason"] for e in run["entries"] if e["action"] == "delete_manifest"}
    assert reasons[sha256(signature)] == f"referrer of {images['v0'][0]}, deleted"
    assert [t for t in json.loads(client.get("/v2/team/app/tags/list").content)["tags"]] == ["multi", "v2", "v3"]
    for tag in ("multi", "v2", "v3"):
        assert client.get(f"/v2/team/app/manifests/{tag}").status_code == 200
    assert client.get(f"/v2/team/app/manifests/{amd}").status_code == 200  # the kept index lists it
    assert client.get(f"/v2/team/app/manifests/{sha256(keep_signature)}").status_code == 200
    # Their unique layers went, in the same run (grace 0), counted in S3 itself; the shared one stays.
    unique = {sha256(f"layer {i}".encode() * 30) for i in (0, 1)} | {sha256(b"signature")}
    assert unique <= {e["digest"] for e in run["entries"] if e["action"] == "delete_blob"}
    assert len(before - s3_keys(registry)) == run["counts"]["deleted_blobs"]
    assert pull_blob(client, "team/other", sha256(BASE)) == BASE
    assert pull_blob(client, "team/app", sha256(BASE)) == BASE
    assert run_gc(client)["counts"]["deleted_manifests"] == 0  # nothing more to do


def test_pull_tracking_shows_in_the_admin_api(client):
    digest, _ = push_image(client, "team/app", "v1", layers=[BASE])
    response = client.get("/dockyard/v1/repositories/team/app/manifests")
    [shown] = response.json()["manifests"]
    assert (shown["digest"], shown["tags"], shown["last_pulled"]) == (digest, ["v1"], None)
    assert shown["pushed_at"] > 0
    client.get("/v2/team/app/manifests/v1")
    [shown] = client.get("/dockyard/v1/repositories/team/app/manifests").json()["manifests"]
    assert shown["last_pulled"] >= shown["pushed_at"]
    assert client.get("/dockyard/v1/repositories/team/none/manifests").status_code == 404


def test_retention_keeps_tags_that_an_immutability_rule_covers(client):
    for tag in ("v1", "v2", "v3"):  # pushed in this order
        push_image(client, "prod/app", tag, layers=[f"layer {tag}".encode() * 30])
    assert client.put("/dockyard/v1/immutability/prod/*", json={"mutable_tags": ["v2", "v3"]}).status_code == 200
    assert set_rule(client, "prod/*", keep_last=1).status_code == 200
    run = run_gc(client)  # v1 is the oldest but immutable: of the mutable v2 and v3, v3 is the newest
    assert [e.get("tags") for e in run["entries"] if e["action"] == "delete_manifest"] == [["v2"]]
    assert sorted(client.get("/v2/prod/app/tags/list").json()["tags"]) == ["v1", "v3"]
