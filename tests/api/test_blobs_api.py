"""Blob HEAD and GET: metadata from one read, bytes by redirect, visible only where linked."""

import hashlib

import httpx

from tests.support.oci import sha256
from tests.support.registry import error_code, push_blob


def follow(response) -> httpx.Response:
    assert response.status_code == 307
    return httpx.get(response.headers["Location"])


def test_head_reports_size_and_digest(client):
    digest = push_blob(client, "team/app", b"x" * 1234)
    response = client.head(f"/v2/team/app/blobs/{digest}")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "1234"
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.content == b""


def test_get_redirects_to_a_presigned_url_with_the_bytes(client, settings):
    data = b"layer bytes" * 1000
    digest = push_blob(client, "team/app", data)
    response = client.get(f"/v2/team/app/blobs/{digest}", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["Docker-Content-Digest"] == digest
    location = response.headers["Location"]
    assert location.startswith(settings.endpoint_url + "/" + settings.bucket + "/blobs/sha256/")
    assert "X-Amz-Signature=" in location and f"X-Amz-Expires={settings.presign_ttl}" in location
    assert follow(response).content == data


def test_range_requests_are_served_by_the_redirect_target(client):
    data = bytes(range(256)) * 100
    digest = push_blob(client, "team/app", data)
    location = client.get(f"/v2/team/app/blobs/{digest}", follow_redirects=False).headers["Location"]
    partial = httpx.get(location, headers={"Range": "bytes=100-299"})
    assert partial.status_code == 206
    assert partial.content == data[100:300]


def test_zero_byte_blob(client):
    digest = push_blob(client, "team/app", b"")
    assert digest == sha256(b"")
    assert client.head(f"/v2/team/app/blobs/{digest}").headers["Content-Length"] == "0"
    assert follow(client.get(f"/v2/team/app/blobs/{digest}", follow_redirects=False)).content == b""


def test_a_blob_is_invisible_in_repositories_it_is_not_linked_to(client):
    digest = push_blob(client, "team/secret", b"private layer")
    for method in ("HEAD", "GET"):
        response = client.request(method, f"/v2/other/app/blobs/{digest}", follow_redirects=False)
        assert response.status_code == 404
    assert error_code(client.get(f"/v2/other/app/blobs/{digest}")) == "BLOB_UNKNOWN"


def test_unknown_blob_is_blob_unknown(client):
    response = client.get("/v2/team/app/blobs/sha256:" + "0" * 64)
    assert response.status_code == 404
    assert error_code(response) == "BLOB_UNKNOWN"


def test_head_of_unknown_blob_has_no_body(client):
    response = client.head("/v2/team/app/blobs/sha256:" + "0" * 64)
    assert response.status_code == 404
    assert response.content == b""


def test_malformed_digest_is_digest_invalid(client):
    response = client.get("/v2/team/app/blobs/sha256:1234")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"


def test_sha512_blob(client):
    data = b"sha512 content"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    response = client.post("/v2/team/app/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == digest
    assert follow(client.get(f"/v2/team/app/blobs/{digest}", follow_redirects=False)).content == data


def test_identical_blobs_are_stored_once(client, settings, registry):
    data = b"shared base layer" * 100
    digest = push_blob(client, "team/one", data)
    push_blob(client, "team/two", data)
    s3 = registry.storage.objects.client
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket, Prefix="blobs/").get("Contents", [])]
    [key] = keys  # one object (at a fresh key under the digest's path: keys are never reused)
    assert key.startswith(f"blobs/sha256/{digest[7:9]}/{digest[7:]}/")
    assert not s3.list_objects_v2(Bucket=settings.bucket, Prefix="uploads/").get("Contents")
