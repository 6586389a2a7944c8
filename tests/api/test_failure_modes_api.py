"""Faults and hostile input found in review: each gets a 4xx (never a 500), and nothing is lost."""

import base64
import json

import httpx
import pytest

from dockyard.domain import mediatypes as mt
from dockyard.resources import BOOTSTRAP_KEY_ID
from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.auth import basic, token_for
from tests.support.oci import descriptor, sha256
from tests.support.faults import throttled_filtered_queries
from tests.support.gc import pull_blob, run_gc
from tests.support.registry import error_code, image_config, push_blob, push_image

MIB = 1024 * 1024


def test_a_link_that_commits_but_whose_answer_is_lost_keeps_its_bytes(client, registry, monkeypatch):
    """The transaction commits, then the connection drops: the blob must stay readable."""
    real = registry.storage.uploads.table.client.transact_write_items
    calls = []

    def commit_then_fail(**kwargs):
        real(**kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("connection reset after commit")

    monkeypatch.setattr(registry.storage.uploads.table.client, "transact_write_items", commit_then_fail)
    data = bytes(range(256)) * (24 * 1024)  # 6 MiB: assembled by multipart, linked in place
    location = client.post("/v2/team/app/blobs/uploads/").headers["Location"]
    client.patch(location, content=data)
    response = client.put(location, params={"digest": sha256(data)})
    assert response.status_code == 201
    redirect = client.get(f"/v2/team/app/blobs/{sha256(data)}", follow_redirects=False)
    assert httpx.get(redirect.headers["Location"]).content == data
    objects = registry.storage.objects
    [stored] = objects.client.list_objects_v2(Bucket=objects.bucket, Prefix="blobs/")["Contents"]
    assert objects.client.get_object_tagging(Bucket=objects.bucket, Key=stored["Key"])["TagSet"] == [
        {"Key": "dockyard", "Value": "verified"}]  # kept, and no lifecycle rule expires it


def test_a_record_whose_object_is_gone_is_repaired_by_the_next_upload(client, registry, settings):
    data = b"a blob whose bytes went missing"
    digest = push_blob(client, "team/one", data)
    s3 = registry.storage.objects.client
    [stored] = s3.list_objects_v2(Bucket=settings.bucket, Prefix="blobs/")["Contents"]
    s3.delete_object(Bucket=settings.bucket, Key=stored["Key"])
    push_blob(client, "team/two", data)
    redirect = client.get(f"/v2/team/two/blobs/{digest}", follow_redirects=False)
    assert httpx.get(redirect.headers["Location"]).content == data


def _lose_and_push_again(client, registry, settings, layer: bytes) -> None:
    """The layer's object is deleted from S3 behind the registry's back; a client pushes the layer again."""
    s3 = registry.storage.objects.client
    [stored] = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket, Prefix="blobs/")["Contents"]
                if s3.get_object(Bucket=settings.bucket, Key=o["Key"])["Body"].read() == layer]
    s3.delete_object(Bucket=settings.bucket, Key=stored)
    push_blob(client, "team/app", layer)


def _cold_pull(client, registry, layer: bytes) -> bytes | None:
    """What an instance that has not served the image gets for the layer, after reading the tag."""
    registry.forget_caches()
    assert client.get("/v2/team/app/manifests/v1").status_code == 200
    return pull_blob(client, "team/app", sha256(layer))


def test_a_layer_whose_bytes_were_lost_pulls_from_every_instance_once_pushed_again(client, registry, settings):
    """The push's pull hints said where the layer was; the push that brings it back takes them away (an
    instance that read the tag would otherwise redirect to the lost bytes for as long as the tag lives)."""
    layer = b"a layer whose bytes went missing" * 100
    push_image(client, "team/app", "v1", [layer])
    _lose_and_push_again(client, registry, settings, layer)
    assert _cold_pull(client, registry, layer) == layer
    push_image(client, "team/app", "v1", [layer])  # pushed again: the hints come back, with where it is now
    assert registry.storage.manifests.get_tag("team/app", "v1").hints is not None
    assert _cold_pull(client, registry, layer) == layer


def test_hints_left_by_a_clearing_cut_short_are_cleared_by_the_next_gc_run(client, registry, settings):
    layer = b"a layer whose bytes went missing while DynamoDB throttled" * 100
    push_image(client, "team/app", "v1", [layer])
    with throttled_filtered_queries(registry.storage.blobs.table.client):
        _lose_and_push_again(client, registry, settings, layer)  # linked again, the hints still there
    assert _cold_pull(client, registry, layer) is None  # what the collector is there to end
    run = run_gc(client)
    assert run["state"] == "done" and run["counts"]["deleted_links"] == 0
    assert _cold_pull(client, registry, layer) == layer
    assert pull_blob(client, "team/app", sha256(image_config("v1"))) == image_config("v1")


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000])
def test_deeply_nested_json_is_manifest_invalid(client, body):
    response = client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": mt.OCI_MANIFEST})
    assert (response.status_code, error_code(response)) == (400, "MANIFEST_INVALID")


def test_huge_content_range_numbers_are_refused(client):
    location = client.post("/v2/team/app/blobs/uploads/").headers["Location"]
    response = client.patch(location, content=b"x", headers={"Content-Range": f"{'9' * 40}-{'9' * 40}"})
    assert (response.status_code, error_code(response)) == (400, "BLOB_UPLOAD_INVALID")


@pytest.mark.parametrize("path,params", [("/v2/team/app/tags/list", {"last": "x" * 2000}),
                                         ("/v2/team/app/tags/list", {"last": "-bad"}),
                                         ("/v2/_catalog", {"last": "Bad Name"}),
                                         ("/v2/team/app/referrers/" + "sha256:" + "a" * 64, {"last": "nope"})])
def test_invalid_last_is_400(client, path, params):
    push_image(client, "team/app", "v1")
    assert client.get(path, params=params).status_code == 400


def test_referrer_annotations_beyond_the_item_limit_are_refused(client):
    subject_digest, subject = push_image(client, "team/app", "v1")
    push_blob(client, "team/app", b"{}")
    body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                       "config": descriptor("application/vnd.oci.empty.v1+json", b"{}"), "layers": [],
                       "subject": descriptor(mt.OCI_MANIFEST, subject),
                       "annotations": {"pad": "x" * 300_000}}).encode()
    response = client.put(f"/v2/team/app/manifests/{sha256(body)}", content=body,
                          headers={"Content-Type": mt.OCI_MANIFEST})
    assert (response.status_code, error_code(response)) == (400, "MANIFEST_INVALID")


def test_large_annotations_without_subject_are_fine(client):
    digest, body = push_image(client, "team/app", "annotated", annotations={"pad": "y" * 250_000})
    assert client.get("/v2/team/app/manifests/annotated").content == body


@pytest.mark.parametrize("header", ["Basic éé", "Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "Basic",
                                    "Bearer", "Digest abc", "Basic " + base64.b64encode("dockyard-admin:é".encode())
                                    .decode()])
def test_malformed_credentials_are_401(auth_client, header):
    for path in ("/v2/", "/token"):
        response = auth_client.get(path, headers={"Authorization": header.encode()})
        assert response.status_code == 401, (path, response.text)


def test_the_bootstrap_admin_gets_no_refresh_token(auth_settings, auth_registry):
    import dataclasses

    from fastapi.testclient import TestClient

    from dockyard.app import create_app
    from dockyard.auth.service import Auth

    secret = "b" * 64
    registry = dataclasses.replace(auth_registry, auth=Auth(auth_registry.auth.store, auth_registry.auth._tokens_factory,
                                                            lambda: secret))
    with TestClient(create_app(auth_settings, registry)) as client:
        answer = token_for(client, BOOTSTRAP_KEY_ID, secret, "repository:team/app:pull", offline_token="true")
        assert "refresh_token" not in answer
        assert client.get("/dockyard/v1/keys", headers=basic(BOOTSTRAP_KEY_ID, secret)).status_code == 200
        assert client.get("/dockyard/v1/keys", headers=basic(BOOTSTRAP_KEY_ID, "c" * 64)).status_code == 401


def test_key_holders_may_pull_public_repositories_too(auth_client):
    admin = basic(ADMIN_ID, ADMIN_SECRET)
    auth_client.put("/dockyard/v1/anonymous", json={"pull": ["public/*"]}, headers=admin)
    response = auth_client.post("/dockyard/v1/keys", json={"name": "ci", "allow": ["team/*=push"]}, headers=admin)
    key = response.json()
    answer = token_for(auth_client, key["id"], key["secret"], "repository:public/tool:pull,push")
    claims = json.loads(base64.urlsafe_b64decode(answer["token"].split(".")[1] + "=="))
    assert claims["access"] == [{"type": "repository", "name": "public/tool", "actions": ["pull"]}]
