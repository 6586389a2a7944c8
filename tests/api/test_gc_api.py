"""Garbage collection through the admin API: what a run deletes (links, records, bytes, leftovers), what it
never touches, and that a dry run predicts exactly the real one. Deletes refused while content is referenced."""

from __future__ import annotations

import json
import time

import pytest

from dockyard.domain.digest import Digest
from dockyard.domain import mediatypes as mt
from tests.support.gc import pull_blob, run_gc, s3_keys
from tests.support.oci import OCI_MANIFEST, sha256
from tests.support.registry import error_code, image_manifest, push_blob, push_image

BASE, OTHER = b"base layer " * 50, b"other layer " * 50


def index_of(*manifests: bytes) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(m), "size": len(m),
         "platform": {"architecture": arch, "os": "linux"}} for m, arch in zip(manifests, ("amd64", "arm64"))]}).encode()


def actions(run: dict) -> list[tuple]:
    return sorted((e["action"], e.get("repository", ""), e.get("digest", ""), e.get("tag", "")) for e in run["entries"])


def test_a_blob_that_a_manifest_references_cannot_be_deleted(client):
    digest, manifest = push_image(client, "team/app", "v1", layers=[BASE])
    response = client.delete(f"/v2/team/app/blobs/{sha256(BASE)}")
    assert response.status_code == 409 and error_code(response) == "DENIED"
    assert response.json()["errors"][0]["detail"] == {"digest": sha256(BASE), "references": 1, "referenced_by": digest}
    # The spec's order still works: the manifest first, then its blobs.
    assert client.delete(f"/v2/team/app/manifests/{digest}").status_code == 202
    assert client.delete(f"/v2/team/app/blobs/{sha256(BASE)}").status_code == 202
    assert client.head(f"/v2/team/app/blobs/{sha256(BASE)}").status_code == 404


def test_a_manifest_that_an_index_lists_cannot_be_deleted(client):
    amd, amd_body = push_image(client, "team/app", "amd", layers=[BASE])
    arm, arm_body = push_image(client, "team/app", "arm", layers=[OTHER])
    index = index_of(amd_body, arm_body)
    assert client.put("/v2/team/app/manifests/multi", content=index,
                      headers={"Content-Type": mt.OCI_INDEX}).status_code == 201
    response = client.delete(f"/v2/team/app/manifests/{amd}")
    assert response.status_code == 409 and error_code(response) == "DENIED"
    assert response.json()["errors"][0]["detail"] == {"digest": amd, "indexes": 1, "listed_by": sha256(index)}
    assert client.get("/v2/team/app/manifests/multi").content == index
    assert client.delete("/v2/team/app/manifests/amd").status_code == 202  # a tag may always go
    assert client.delete(f"/v2/team/app/manifests/{sha256(index)}").status_code == 202
    assert client.delete(f"/v2/team/app/manifests/{amd}").status_code == 202


def test_an_index_whose_tag_pointed_at_its_own_child_counts_it_once(client):
    amd, amd_body = push_image(client, "team/app", "latest", layers=[BASE])
    index = index_of(amd_body)
    assert client.put("/v2/team/app/manifests/latest", content=index,
                      headers={"Content-Type": mt.OCI_INDEX}).status_code == 201
    assert client.delete(f"/v2/team/app/manifests/{amd}").status_code == 409
    assert client.delete(f"/v2/team/app/manifests/{sha256(index)}").status_code == 202
    assert client.delete(f"/v2/team/app/manifests/{amd}").status_code == 202


def test_gc_collects_what_nothing_references_and_keeps_the_rest(client, registry):
    kept, _ = push_image(client, "team/app", "kept", layers=[BASE])
    gone, _ = push_image(client, "team/app", "gone", layers=[BASE, OTHER])
    push_image(client, "team/other", "v1", layers=[OTHER])  # OTHER stays linked there
    unique = push_blob(client, "team/app", b"uploaded, never referenced")
    before = s3_keys(registry)
    assert client.delete(f"/v2/team/app/manifests/{gone}").status_code == 202

    dry = run_gc(client, dry_run=True)
    assert dry["counts"]["deleted_blobs"] >= 2
    run = run_gc(client)
    assert actions(run) == actions(dry) and run["counts"] == dry["counts"]
    unlinked = {e["digest"] for e in run["entries"] if e["action"] == "unlink"}
    config_of_gone = json.loads(client.get("/v2/team/other/manifests/v1").content)  # still pulls
    assert unique in unlinked and sha256(OTHER) in unlinked and sha256(BASE) not in unlinked
    deleted = {e["digest"] for e in run["entries"] if e["action"] == "delete_blob"}
    assert unique in deleted and sha256(OTHER) not in deleted  # team/other links it still
    assert len(before - s3_keys(registry)) == run["counts"]["deleted_blobs"] == len(deleted)
    assert run["counts"]["freed_bytes"] == sum(e["bytes"] for e in run["entries"] if e["action"] == "delete_blob")
    for repo, tag in (("team/app", "kept"), ("team/other", "v1")):
        manifest = json.loads(client.get(f"/v2/{repo}/manifests/{tag}").content)
        for layer in [manifest["config"], *manifest["layers"]]:
            assert sha256(pull_blob(client, repo, layer["digest"])) == layer["digest"]
    assert config_of_gone["layers"][0]["digest"] == sha256(OTHER)
    assert run_gc(client)["counts"]["deleted_links"] == 0  # nothing left to do
    assert kept


def test_gc_leaves_what_became_garbage_within_the_grace(client):
    digest, _ = push_image(client, "team/app", "v1", layers=[BASE])
    assert client.delete(f"/v2/team/app/manifests/{digest}").status_code == 202
    run = run_gc(client, grace=3600)
    assert run["counts"]["deleted_links"] == 0 and run["entries"] == []
    assert client.head(f"/v2/team/app/blobs/{sha256(BASE)}").status_code == 200


def test_a_blob_linked_again_after_its_record_was_doomed_gets_a_copy_of_its_own(client, registry):
    digest = Digest.parse(push_blob(client, "team/app", BASE))
    assert client.delete(f"/v2/team/app/blobs/{digest}").status_code == 202
    state = registry.storage.collector.record_state(digest)
    stamp = registry.storage.collector.doom(digest, state.since)  # GC's first step, then a push comes
    assert stamp is not None
    push_blob(client, "team/new", BASE)
    linked = registry.storage.blobs.get_link("team/new", digest)
    assert linked.location != state.ref.location
    registry.storage.objects.delete_blob(state.ref.location)  # GC's second step deletes the old copy only
    assert registry.storage.collector.forget_record(digest, stamp) is False  # and the record stays
    assert pull_blob(client, "team/new", str(digest)) == BASE


def test_duplicate_bytes_an_upload_did_not_link_are_collected(client, registry):
    large = bytes(range(256)) * (24 * 1024 + 7)  # over a part: assembled in S3 before it is verified
    push_image(client, "team/app", "v1", layers=[large, BASE])
    before = s3_keys(registry)
    # Uploaded again: linked to the first copy, and its own is given up; a small blob the registry has is
    # never even written twice.
    push_image(client, "team/other", "v1", layers=[large, BASE])
    assert len(s3_keys(registry) - before) == 1  # the large copy (the config is the same one)
    run = run_gc(client)
    assert run["counts"]["deleted_dropped"] == 1 and run["counts"]["freed_bytes"] == len(large)
    assert run["counts"]["deleted_links"] == 0
    assert s3_keys(registry) == before
    assert pull_blob(client, "team/other", sha256(large)) == large


def test_expired_upload_sessions_and_their_parts_are_collected(client, registry, settings):
    import dataclasses

    response = client.post("/v2/team/app/blobs/uploads/")
    upload_id = response.headers["Docker-Upload-UUID"]
    assert client.patch(response.headers["Location"], content=b"x" * (6 * 1024 * 1024)).status_code == 202
    session = registry.storage.uploads.get_session(upload_id)
    assert s3_keys(registry, "uploads/")  # its tail waits there
    expired = dataclasses.replace(session, expires_at=1)
    lease = registry.storage.uploads.take_lease(type(session), upload_id, "team/app",
                                                dataclasses.replace(session.lease or _lease(upload_id), until=2), 1)
    registry.storage.uploads.save_chunked(expired, lease.lease)
    run = run_gc(client)
    assert run["counts"]["deleted_uploads"] == 1
    assert registry.storage.uploads.get_session(upload_id) is None
    assert s3_keys(registry, "uploads/") == set()
    s3 = registry.storage.objects.client
    assert s3.list_multipart_uploads(Bucket=settings.bucket).get("Uploads", []) == []


def _lease(upload_id):
    from dockyard.storage.types import Lease

    return Lease(upload_id, "gc-test", 2)


def test_only_one_real_run_at_a_time(client, registry):
    run = registry.maintenance.runner.start(dry_run=False, grace=0)
    response = client.post("/dockyard/v1/gc", json={"grace": 0})
    assert response.status_code == 409 and error_code(response) == "DENIED"
    assert response.json()["errors"][0]["detail"] == {"run": run.id}
    assert run_gc(client, dry_run=True)["state"] == "done"  # a dry run reads only: it may run meanwhile
    registry.maintenance.runner.work(run.id)
    assert run_gc(client)["state"] == "done"


def test_runs_list_newest_first_even_when_started_in_one_second(client, registry):
    started = []
    for _ in range(8):  # a few milliseconds apart: within one second, as a preview and its run often are
        started.append(registry.maintenance.runner.start(dry_run=True, grace=0).id)
        time.sleep(0.002)
    listed = [run["id"] for run in client.get("/dockyard/v1/gc/runs").json()["runs"]]
    assert listed[:8] == started[::-1]


@pytest.mark.parametrize("body", [{"grace": -1}, {"grace": "1d"}, {"dry_run": "yes"}])
def test_bad_gc_requests_are_400(client, body):
    response = client.post("/dockyard/v1/gc", json=body)
    assert response.status_code == 400 and error_code(response) == "UNSUPPORTED"
