"""Garbage collection run as the GC function's role, from the synthesized template, on moto with IAM access
control enforced: it deletes what nothing references; the registry's own role cannot delete a blob object."""

from __future__ import annotations

import os
import time

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage import keys
from tests.iam.test_function_policy import push_manifest, push_monolithic
from tests.support.deployment import GC_HANDLER
from tests.support.oci import sha256


@pytest.fixture(scope="module")
def gc_keys(deployment) -> tuple[str, str]:
    """Keys of a user holding exactly the GC function's role policy."""
    return deployment.user_for(GC_HANDLER)


def blob_keys(deployment) -> set[str]:
    return {o["Key"] for o in deployment.s3.list_objects_v2(Bucket=deployment.name, Prefix="blobs/").get("Contents", [])}


def garbage(http, auth, repo: str) -> tuple[set[str], list[bytes]]:
    """An image pushed, then deleted: its blobs' objects (as S3 lists them), and the blobs."""
    blobs = [b'{"os": "linux", "n": "%s"}' % repo.encode(), os.urandom(2000), os.urandom(3000)]
    for blob in blobs:
        push_monolithic(http, auth, repo, blob)
    digest = push_manifest(http, auth, repo, "v1", blobs[0], blobs[1:])
    assert http.delete(f"/v2/{repo}/manifests/{digest}", headers=auth).status_code == 202
    return blobs


def test_only_the_gc_role_deletes_blob_objects_and_it_collects_what_nothing_references(deployment, http, auth,
                                                                                        gc_keys):
    before = blob_keys(deployment)
    blobs = garbage(http, auth, "team/gc")
    added = blob_keys(deployment) - before
    assert len(added) == 3
    registry_s3 = deployment.moto.client("s3", deployment.user_for())
    with pytest.raises(registry_s3.exceptions.ClientError, match="AccessDenied"):
        registry_s3.delete_object(Bucket=deployment.name, Key=next(iter(added)))
    result = deployment.invoke(GC_HANDLER, gc_keys, {"scheduled": True, "grace": 0})
    assert result["state"] == "done", result
    assert result["counts"]["deleted_links"] == 3 and result["counts"]["deleted_blobs"] == 3
    assert not added & blob_keys(deployment)
    for blob in blobs:  # (a warm registry instance may still answer from its link cache for a minute)
        for pk, sk in ((keys.repo_pk("team/gc"), keys.link_sk(Digest.parse(sha256(blob)))),
                       (keys.blob_record_pk(Digest.parse(sha256(blob))), keys.BLOB_RECORD_SK)):
            assert "Item" not in deployment.dynamodb.get_item(TableName=deployment.name, Key={
                "pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)


def test_the_gc_role_finishes_the_clearing_of_pull_hints_that_a_moved_link_left(deployment, http, auth, gc_keys):
    """As a move whose clearing was cut short leaves it: the link marked with the location it left (here, for
    the test, the one the hints name), and queued. The run clears the hints (a filtered Query, UpdateItems)."""
    config, layer = b'{"os": "linux", "n": "hints"}', os.urandom(2000)
    for blob in (config, layer):
        push_monolithic(http, auth, "team/hints", blob)
    push_manifest(http, auth, "team/hints", "v1", config, [layer])
    db, pk = deployment.dynamodb, {"S": keys.repo_pk("team/hints")}
    tag = {"pk": pk, "sk": {"S": keys.tag_sk("v1")}}
    assert "blob_refs" in db.get_item(TableName=deployment.name, Key=tag, ConsistentRead=True)["Item"]
    link = {"pk": pk, "sk": {"S": keys.link_sk(Digest.parse(sha256(layer)))}}
    location = db.get_item(TableName=deployment.name, Key=link, ConsistentRead=True)["Item"]["location"]
    db.update_item(TableName=deployment.name, Key=link, UpdateExpression="SET stale_hints = :left, gc_at = :at",
                   ExpressionAttributeValues={":left": location, ":at": {"N": str(int(time.time()) - 10)}})
    result = deployment.invoke(GC_HANDLER, gc_keys, {"scheduled": True, "grace": 0})
    assert result["state"] == "done", result
    assert "blob_refs" not in db.get_item(TableName=deployment.name, Key=tag, ConsistentRead=True)["Item"]
    assert "stale_hints" not in db.get_item(TableName=deployment.name, Key=link, ConsistentRead=True)["Item"]


def test_the_gc_role_less_one_action_fails_its_run(deployment, http, auth):
    garbage(http, auth, "team/gc-weak")
    weakened = deployment.user_for(GC_HANDLER, without="s3:DeleteObject")
    result = deployment.invoke(GC_HANDLER, weakened, {"scheduled": True, "grace": 0})
    assert result["state"] == "failed" and "AccessDenied" in result["error"], result


def used(http, admin, pattern: str) -> int:
    [quota] = [q for q in http.get("/dockyard/v1/quotas", headers=admin).json()["quotas"] if q["pattern"] == pattern]
    return quota["used"]


def test_the_gc_role_counts_what_it_collects_out_of_a_storage_quota(deployment, http, auth, admin, gc_keys):
    assert http.put("/dockyard/v1/quotas/counted/*", json={"bytes": 100_000}, headers=admin).status_code == 200
    blobs = garbage(http, auth, "counted/app")
    assert used(http, admin, "counted/*") == sum(len(blob) for blob in blobs)
    weakened = deployment.user_for(GC_HANDLER, without="dynamodb:BatchGetItem")  # the quota's memberships
    result = deployment.invoke(GC_HANDLER, weakened, {"scheduled": True, "grace": 0})
    assert result["state"] == "failed" and "AccessDenied" in result["error"], result
    assert used(http, admin, "counted/*") == sum(len(blob) for blob in blobs)
    result = deployment.invoke(GC_HANDLER, gc_keys, {"scheduled": True, "grace": 0})
    assert result["state"] == "done", result
    assert used(http, admin, "counted/*") == 0
    assert http.delete("/dockyard/v1/quotas/counted/*", headers=admin).json()["done"] is True
