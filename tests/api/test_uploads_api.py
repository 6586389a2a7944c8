"""Blob uploads: monolithic, streamed, chunked, resumed across processes, refused when wrong."""

import dataclasses
import os
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from dockyard.app import create_app
from dockyard.factory import build_registry
from dockyard.storage.types import ChunkedSession, Lease
from tests.support.gc import run_gc
from tests.support.oci import OCI_MANIFEST, sha256
from tests.support.registry import error_code, image_manifest, push_blob

MIB = 1024 * 1024
NAME = "team/app"


def start(client, name=NAME) -> str:
    response = client.post(f"/v2/{name}/blobs/uploads/")
    assert response.status_code == 202, response.text
    assert response.headers["Range"] == "0-0"
    assert response.headers["Location"] == f"/v2/{name}/blobs/uploads/{response.headers['Docker-Upload-UUID']}"
    return response.headers["Location"]


def patch(client, location, data: bytes, start_at: int | None = None):
    headers = {"Content-Type": "application/octet-stream"}
    if start_at is not None:
        headers["Content-Range"] = f"{start_at}-{start_at + len(data) - 1}"
    return client.patch(location, content=data, headers=headers)


def assert_blob(client, digest: str, data: bytes, name=NAME) -> None:
    head = client.head(f"/v2/{name}/blobs/{digest}")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    redirect = client.get(f"/v2/{name}/blobs/{digest}", follow_redirects=False)
    assert httpx.get(redirect.headers["Location"]).content == data


def s3_keys(registry, settings, prefix: str) -> list[str]:
    listing = registry.storage.objects.client.list_objects_v2(Bucket=settings.bucket, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_post_without_digest_opens_a_session(client):
    location = start(client)
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-0"
    assert status.headers["Location"] == location


def test_monolithic_post_with_digest(client):
    data = os.urandom(1000)
    response = client.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(data)}, content=data)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/{NAME}/blobs/{sha256(data)}"
    assert response.headers["Docker-Content-Digest"] == sha256(data)
    assert_blob(client, sha256(data), data)


def test_post_without_trailing_slash(client):
    assert client.post(f"/v2/{NAME}/blobs/uploads").status_code == 202


def test_post_then_put_with_the_whole_body(client):
    data = os.urandom(7 * MIB)
    response = client.put(start(client), params={"digest": sha256(data)}, content=data)
    assert response.status_code == 201, response.text
    assert_blob(client, sha256(data), data)


@pytest.mark.parametrize("size", [0, 100, 5 * MIB - 1, 5 * MIB, 12 * MIB + 3])
def test_streamed_patch_then_put_without_body(client, registry, settings, size):
    data = os.urandom(size)
    location = start(client)
    response = patch(client, location, data)
    assert response.status_code == 202
    assert response.headers["Range"] == f"0-{max(size - 1, 0)}"
    response = client.put(response.headers["Location"], params={"digest": sha256(data)})
    assert response.status_code == 201, response.text
    assert_blob(client, sha256(data), data)
    assert s3_keys(registry, settings, "uploads/") == []


def test_chunked_upload_with_content_range(client, registry, settings):
    data = os.urandom(13 * MIB + 5)
    chunk = 3 * MIB  # below S3's part minimum: chunks meet in tail objects, then in parts
    location = start(client)
    for offset in range(0, len(data) - chunk, chunk):
        response = patch(client, location, data[offset:offset + chunk], offset)
        assert response.status_code == 202, response.text
        assert response.headers["Range"] == f"0-{offset + chunk - 1}"
        location = response.headers["Location"]
    last = (len(data) - 1) // chunk * chunk
    response = client.put(location, params={"digest": sha256(data)}, content=data[last:],
                          headers={"Content-Range": f"{last}-{len(data) - 1}"})
    assert response.status_code == 201, response.text
    assert_blob(client, sha256(data), data)
    assert s3_keys(registry, settings, "uploads/") == []


def test_out_of_order_chunk_is_416_with_the_current_range(client):
    location = start(client)
    assert patch(client, location, b"a" * 100, 0).status_code == 202
    response = patch(client, location, b"b" * 100, 150)
    assert response.status_code == 416
    assert response.headers["Range"] == "0-99"
    assert error_code(response) == "BLOB_UPLOAD_INVALID"
    assert patch(client, location, b"b" * 100, 0).status_code == 416  # a repeated chunk too
    status = client.get(location)
    assert status.status_code == 204 and status.headers["Range"] == "0-99"
    assert patch(client, location, b"b" * 100, 100).status_code == 202
    data = b"a" * 100 + b"b" * 100
    assert client.put(location, params={"digest": sha256(data)}).status_code == 201
    assert_blob(client, sha256(data), data)


def test_chunk_shorter_than_its_range_is_refused_and_changes_nothing(client):
    location = start(client)
    patch(client, location, b"x" * 10, 0)
    response = client.patch(location, content=b"y" * 5, headers={"Content-Range": "10-19"})
    assert response.status_code == 400
    assert error_code(response) == "SIZE_INVALID"
    assert client.get(location).headers["Range"] == "0-9"


def test_digest_mismatch_stores_and_links_nothing(client, registry, settings):
    data = os.urandom(6 * MIB)
    location = start(client)
    patch(client, location, data)
    wrong = sha256(b"something else")
    response = client.put(location, params={"digest": wrong})
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"
    for digest in (wrong, sha256(data)):
        assert client.head(f"/v2/{NAME}/blobs/{digest}").status_code == 404
    assert client.get(location).status_code == 404
    assert s3_keys(registry, settings, "uploads/") == []
    assert len(s3_keys(registry, settings, "blobs/")) == 1  # assembled, then given up: GC deletes it
    run_gc(client)
    assert s3_keys(registry, settings, "blobs/") == []


def test_monolithic_digest_mismatch_stores_nothing(client, registry, settings):
    response = client.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(b"a")}, content=b"b")
    assert response.status_code == 400 and error_code(response) == "DIGEST_INVALID"
    assert s3_keys(registry, settings, "blobs/") == []


def test_put_without_digest_keeps_the_session(client):
    location = start(client)
    patch(client, location, b"abc")
    response = client.put(location)
    assert response.status_code == 400 and error_code(response) == "DIGEST_INVALID"
    assert client.get(location).headers["Range"] == "0-2"
    assert client.put(location, params={"digest": sha256(b"abc")}).status_code == 201


@pytest.mark.parametrize("upload_id", ["2f1c7a3e-0000-4000-8000-000000000000", "not-a-uuid", "2F1C7A3E-0000-4000-8000-000000000000"])
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_is_blob_upload_unknown(client, upload_id, method):
    response = client.request(method, f"/v2/{NAME}/blobs/uploads/{upload_id}",
                              params={"digest": sha256(b"")} if method == "PUT" else None)
    assert response.status_code == 404
    assert error_code(response) == "BLOB_UPLOAD_UNKNOWN"


def test_an_upload_belongs_to_its_repository(client):
    location = start(client, "team/one")
    other = location.replace("team/one", "team/two")
    assert error_code(client.patch(other, content=b"x")) == "BLOB_UPLOAD_UNKNOWN"
    assert client.get(location).headers["Range"] == "0-0"


def test_cancel_removes_the_session_and_its_bytes(client, registry, settings):
    location = start(client)
    patch(client, location, os.urandom(6 * MIB))
    assert s3_keys(registry, settings, "uploads/")
    assert client.delete(location).status_code == 204
    assert client.get(location).status_code == 404
    assert s3_keys(registry, settings, "uploads/") == []


def test_expired_session_is_unknown(settings):
    short = dataclasses.replace(settings, upload_ttl=1)
    with TestClient(create_app(short, build_registry(short))) as client:
        location = start(client)
        time.sleep(2.1)
        assert error_code(client.patch(location, content=b"x")) == "BLOB_UPLOAD_UNKNOWN"
        assert client.get(location).status_code == 404


def test_a_locked_session_refuses_a_second_writer(client, registry):
    location = start(client)
    upload_id = location.rsplit("/", 1)[1]
    now = int(time.time())
    lease = Lease(upload_id, "other-writer", now + 60)
    registry.storage.uploads.take_lease(ChunkedSession, upload_id, NAME, lease, now)
    response = patch(client, location, b"x")
    assert response.status_code == 409 and error_code(response) == "BLOB_UPLOAD_INVALID"
    registry.storage.uploads.release_lease(lease)
    assert patch(client, location, b"x").status_code == 202


def test_upload_started_on_one_instance_finishes_on_another(client, settings):
    data = os.urandom(11 * MIB)
    with TestClient(create_app(settings, build_registry(settings))) as other:
        location = start(client)
        assert patch(other, location, data[:4 * MIB], 0).status_code == 202
        assert patch(client, location, data[4 * MIB:9 * MIB], 4 * MIB).status_code == 202
        response = other.put(location, params={"digest": sha256(data)}, content=data[9 * MIB:],
                             headers={"Content-Range": f"{9 * MIB}-{len(data) - 1}"})
        assert response.status_code == 201
    assert_blob(client, sha256(data), data)


def upload_without_hash_state(client, registry, settings, data: bytes) -> str:
    """Send two chunks, the second to a session saved by a host without resumable hashing (no state)."""
    half = len(data) // 2
    location = start(client)
    patch(client, location, data[:half], 0)
    registry.storage.uploads.table.client.update_item(
        TableName=settings.table, Key={"pk": {"S": f"upload#{location.rsplit('/', 1)[1]}"}, "sk": {"S": "upload"}},
        UpdateExpression="REMOVE hash_state")
    patch(client, location, data[half:], half)
    return location


@pytest.mark.parametrize("size", [3 * MIB, 12 * MIB])
def test_without_resumable_state_the_blob_is_rehashed_at_finalize(client, registry, settings, size):
    data = os.urandom(size)
    location = upload_without_hash_state(client, registry, settings, data)
    assert error_code(client.put(location, params={"digest": sha256(b"nope")})) == "DIGEST_INVALID"
    location = upload_without_hash_state(client, registry, settings, data)
    assert client.put(location, params={"digest": sha256(data)}).status_code == 201
    assert_blob(client, sha256(data), data)


def test_mount_from_a_repository_that_has_the_blob(client):
    data = b"base layer"
    client.post("/v2/team/base/blobs/uploads/", params={"digest": sha256(data)}, content=data)
    response = client.post(f"/v2/{NAME}/blobs/uploads/", params={"mount": sha256(data), "from": "team/base"})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/{NAME}/blobs/{sha256(data)}"
    assert_blob(client, sha256(data), data)


def test_mount_of_a_missing_blob_opens_a_session(client):
    response = client.post(f"/v2/{NAME}/blobs/uploads/", params={"mount": sha256(b"x"), "from": "team/base"})
    assert response.status_code == 202
    assert client.head(f"/v2/{NAME}/blobs/{sha256(b'x')}").status_code == 404


def test_a_large_blob_is_linked_where_it_was_assembled_without_a_copy(client, registry, settings, calls):
    data = os.urandom(11 * MIB)
    location = start(client)
    patch(client, location, data)
    calls.clear()
    assert client.put(location, params={"digest": sha256(data)}).status_code == 201
    assert ("s3", "CopyObject") not in calls and ("s3", "UploadPartCopy") not in calls
    assert s3_keys(registry, settings, "blobs/") == [f"blobs/assembled/{location.rsplit('/', 1)[1]}"]
    assert_blob(client, sha256(data), data)


def test_a_blob_uploaded_again_is_deduplicated(client, registry, settings):
    data = os.urandom(11 * MIB)
    for name in ("team/one", "team/two"):
        location = start(client, name)
        patch(client, location, data)
        assert client.put(location, params={"digest": sha256(data)}).status_code == 201
    for name in ("team/one", "team/two"):
        assert_blob(client, sha256(data), data, name)
        push_blob(client, name, b"{}")  # an image uses it in each repository
        assert client.put(f"/v2/{name}/manifests/v1", content=image_manifest(b"{}", [data]),
                          headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    assert len(s3_keys(registry, settings, "blobs/")) == 3  # the second copy is given up, not deleted here
    run_gc(client)
    assert len(s3_keys(registry, settings, "blobs/")) == 2  # one copy of the blob, and the config
    for name in ("team/one", "team/two"):
        assert_blob(client, sha256(data), data, name)
