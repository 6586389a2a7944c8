"""Direct uploads (client -> S3 with presigned URLs) and the Lambda payload cap."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import time

import httpx
import pytest
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from dockyard.app import create_app
from dockyard.domain.digest import Digest
from dockyard.factory import build_registry
from dockyard.resources import LAMBDA_MAX_BODY
from dockyard.storage.types import DirectSession, Lease
from tests.support.gc import run_gc
from tests.support.oci import sha256
from tests.support.registry import error_code

MIB = 1024 * 1024
NAME = "team/app"


def begin(client, data: bytes, name=NAME, **extra) -> dict:
    response = client.post(f"/dockyard/v1/direct/{name}/blobs", json={"digest": sha256(data), "size": len(data),
                                                                      **extra})
    assert response.status_code == 200, response.text
    return response.json()


def send(plan: dict, data: bytes, only: set[int] | None = None) -> None:
    if plan["method"] == "single":
        assert httpx.put(plan["url"], content=data, headers=plan["headers"]).status_code == 200
        return
    for part in plan["parts"]:
        if only is None or part["number"] in only:
            chunk = data[part["offset"]:part["offset"] + part["size"]]
            assert httpx.put(part["url"], content=chunk).status_code == 200


def complete(client, plan: dict, name=NAME):
    return client.post(f"/dockyard/v1/direct/{name}/blobs/{plan['upload']}/complete")


def pulled(client, digest: str, name=NAME) -> bytes:
    redirect = client.get(f"/v2/{name}/blobs/{digest}", follow_redirects=False)
    assert redirect.status_code == 307
    return httpx.get(redirect.headers["Location"]).content


def objects(registry, settings, prefix="blobs/") -> list[str]:
    listing = registry.storage.objects.client.list_objects_v2(Bucket=settings.bucket, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_single_put_bound_to_size_and_checksum(client):
    data = os.urandom(3 * MIB)
    plan = begin(client, data)
    assert plan["method"] == "single"
    assert plan["headers"] == {"Content-Length": str(len(data)),
                               "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
                               "x-amz-tagging": "dockyard=unverified"}
    assert "X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-checksum-sha256%3Bx-amz-tagging" in plan["url"]
    send(plan, data)
    response = complete(client, plan)
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == sha256(data)
    assert pulled(client, sha256(data)) == data
    assert begin(client, data) == {"status": "exists"}


def test_multipart_parts_in_any_order_then_complete(client, registry, settings):
    data = os.urandom(12 * MIB + 7)
    plan = begin(client, data, multipart=True, part_size=5 * MIB)
    assert plan["method"] == "multipart" and [p["size"] for p in plan["parts"]] == [5 * MIB, 5 * MIB, 2 * MIB + 7]
    plan["parts"].reverse()
    send(plan, data)
    assert complete(client, plan).status_code == 201
    assert pulled(client, sha256(data)) == data
    assert [k for k in objects(registry, settings) if "/direct/" in k]


def test_an_interrupted_multipart_upload_resumes_without_resending_what_landed(client):
    data = os.urandom(16 * MIB)
    plan = begin(client, data, multipart=True, part_size=5 * MIB)
    send(plan, data, only={1, 3})
    early = complete(client, plan)
    assert (early.status_code, error_code(early)) == (400, "BLOB_UPLOAD_INVALID")
    assert early.json()["errors"][0]["detail"] == {"missing_parts": [2, 4]}
    resumed = begin(client, data, multipart=True, part_size=5 * MIB)
    assert resumed["upload"] == plan["upload"] and resumed["landed"] == [1, 3]
    assert [p["number"] for p in resumed["parts"]] == [2, 4]
    send(resumed, data)
    assert complete(client, resumed).status_code == 201
    assert pulled(client, sha256(data)) == data


def test_wrong_bytes_are_never_linked(client, registry, settings):
    data = os.urandom(2 * MIB)
    plan = begin(client, data)
    # moto does not enforce the signed checksum (AWS would refuse this PUT): completion must catch it.
    httpx.put(plan["url"], content=b"x" * len(data), headers=plan["headers"])
    response = complete(client, plan)
    assert (response.status_code, error_code(response)) == (400, "DIGEST_INVALID")
    assert client.head(f"/v2/{NAME}/blobs/{sha256(data)}").status_code == 404
    assert len(objects(registry, settings)) == 1  # given up: garbage collection deletes it
    run_gc(client)
    assert objects(registry, settings) == []


def test_a_corrupted_part_is_caught(client, registry, settings):
    data = os.urandom(11 * MIB)
    plan = begin(client, data, multipart=True, part_size=5 * MIB)
    corrupted = bytearray(data)
    corrupted[6 * MIB] ^= 0xFF
    send(plan, bytes(corrupted))
    response = complete(client, plan)
    assert (response.status_code, error_code(response)) == (400, "DIGEST_INVALID")
    assert client.head(f"/v2/{NAME}/blobs/{sha256(data)}").status_code == 404
    run_gc(client)  # the serving path deletes no blob object: the collector does
    assert objects(registry, settings) == []
    fresh = begin(client, data, multipart=True, part_size=5 * MIB)  # a new session: start again
    assert fresh["landed"] == []


def test_two_pushers_of_the_same_blob_share_one_session(client, settings):
    data = os.urandom(4 * MIB)
    with TestClient(create_app(settings, build_registry(settings))) as other:
        first, second = begin(client, data), begin(other, data)
        assert first["upload"] == second["upload"]
        send(first, data)
        send(second, data)
        assert complete(client, first).status_code == 201
        late = complete(other, second)
        assert (late.status_code, error_code(late)) == (404, "BLOB_UPLOAD_UNKNOWN")
        assert begin(other, data) == {"status": "exists"}
    assert pulled(client, sha256(data)) == data


def test_a_blob_held_elsewhere_is_mounted_when_that_reveals_nothing(client):
    data = os.urandom(1000)
    send(plan := begin(client, data, name="team/base"), data)
    assert complete(client, plan, name="team/base").status_code == 201
    assert begin(client, data) == {"status": "mounted"}
    assert pulled(client, sha256(data)) == data


def test_zero_byte_blob(client):
    plan = begin(client, b"")
    assert plan["method"] == "single"
    send(plan, b"")
    assert complete(client, plan).status_code == 201
    assert client.head(f"/v2/{NAME}/blobs/{sha256(b'')}").headers["Content-Length"] == "0"


def test_abort_removes_the_session_and_its_object(client, registry, settings):
    data = os.urandom(6 * MIB)
    plan = begin(client, data, multipart=True, part_size=5 * MIB)
    send(plan, data, only={1})
    assert client.delete(f"/dockyard/v1/direct/{NAME}/blobs/{plan['upload']}").status_code == 204
    assert complete(client, plan).status_code == 404
    assert begin(client, data, multipart=True, part_size=5 * MIB)["landed"] == []


def test_expired_part_urls_can_be_refreshed(client):
    data = os.urandom(11 * MIB)
    plan = begin(client, data, multipart=True, part_size=5 * MIB)
    response = client.post(f"/dockyard/v1/direct/{NAME}/blobs/{plan['upload']}/parts", json={"numbers": [3]})
    assert [p["number"] for p in response.json()["parts"]] == [3]
    for numbers in ([9], 5, ["1"], [True]):
        assert client.post(f"/dockyard/v1/direct/{NAME}/blobs/{plan['upload']}/parts",
                           json={"numbers": numbers}).status_code == 400


def test_a_plan_holds_the_first_part_urls_and_the_rest_come_in_batches(settings):
    few = dataclasses.replace(settings, part_urls=2)
    with TestClient(create_app(few, build_registry(few))) as client:
        data = os.urandom(16 * MIB)
        plan = begin(client, data, multipart=True, part_size=5 * MIB)
        assert (plan["max_urls"], [p["number"] for p in plan["parts"]], plan["landed"]) == (2, [1, 2], [])
        url = f"/dockyard/v1/direct/{NAME}/blobs/{plan['upload']}/parts"
        assert client.post(url, json={"numbers": [2, 3, 4]}).status_code == 400
        rest = client.post(url, json={"numbers": [3, 4]}).json()
        send({**plan, "parts": plan["parts"] + rest["parts"]}, data)
        assert complete(client, plan).status_code == 201 and pulled(client, sha256(data)) == data


def test_bytes_are_tagged_unverified_until_linked(client, registry, settings):
    s3 = registry.storage.objects.client
    linked, abandoned = os.urandom(1000), os.urandom(2000)
    for data in (linked, abandoned):
        send(plan := begin(client, data), data)
        if data is linked:
            assert complete(client, plan).status_code == 201
    tags = {key: s3.get_object_tagging(Bucket=settings.bucket, Key=key)["TagSet"]
            for key in objects(registry, settings)}
    # The abandoned one expires by the lifecycle rule; the linked one is marked so (the registry's role may
    # tag objects but not delete tags).
    assert sorted(t[0]["Value"] for t in tags.values()) == ["unverified", "verified"]


def test_a_cancel_waits_for_a_completion_in_progress(client, registry):
    data = os.urandom(1000)
    plan = begin(client, data)
    send(plan, data)
    now = int(time.time())
    lease = Lease(plan["upload"], "completing", now + 60)
    registry.storage.uploads.take_lease(DirectSession, plan["upload"], NAME, lease, now)
    response = client.delete(f"/dockyard/v1/direct/{NAME}/blobs/{plan['upload']}")
    assert (response.status_code, error_code(response)) == (409, "BLOB_UPLOAD_INVALID")
    registry.storage.uploads.release_lease(lease)
    assert complete(client, plan).status_code == 201


def snapshot(registry, settings) -> list:
    items = registry.storage.blobs.table.client.scan(TableName=settings.table, ConsistentRead=True)["Items"]
    return sorted(map(str, items))


def test_direct_routes_do_not_touch_a_plain_upload(client, registry, settings):
    """A chunked session's id on the direct routes is an unknown direct upload: a 404, and nothing changes."""
    location = client.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    assert client.patch(location, content=b"some bytes").status_code == 202
    upload_id = location.rsplit("/", 1)[1]
    before = snapshot(registry, settings)
    for method, suffix in (("DELETE", ""), ("POST", "/complete"), ("POST", "/parts")):
        response = client.request(method, f"/dockyard/v1/direct/{NAME}/blobs/{upload_id}{suffix}", json={})
        assert (response.status_code, error_code(response)) == (404, "BLOB_UPLOAD_UNKNOWN"), (method, suffix)
    assert snapshot(registry, settings) == before
    assert client.put(location, params={"digest": sha256(b"some bytes")}).status_code == 201


def test_plain_upload_routes_do_not_touch_a_direct_upload(client, registry, settings):
    data = os.urandom(1000)
    plan = begin(client, data)
    send(plan, data)
    location = f"/v2/{NAME}/blobs/uploads/{plan['upload']}"
    before = snapshot(registry, settings)
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        response = client.request(method, location, params={"digest": sha256(data)}, content=b"x")
        assert (response.status_code, error_code(response)) == (404, "BLOB_UPLOAD_UNKNOWN"), method
    assert snapshot(registry, settings) == before
    assert complete(client, plan).status_code == 201


@pytest.mark.parametrize("body,code", [
    ({"digest": "sha256:" + "a" * 64, "size": 10, "part_size": "big"}, "UNSUPPORTED"),
    ({"digest": "sha256:" + "a" * 64, "size": 10, "part_size": 5242880.5}, "UNSUPPORTED"),
    ({"digest": "sha256:" + "a" * 64, "size": 10, "part_size": 1024}, "UNSUPPORTED"),
    ({"digest": "sha256:" + "a" * 64, "size": 10, "multipart": "yes"}, "UNSUPPORTED"),
    ({"digest": "sha256:abc", "size": 1}, "DIGEST_INVALID"),
    ({"digest": "sha512:" + "a" * 128, "size": 1}, "DIGEST_INVALID"),
    ({"digest": "sha256:" + "a" * 64, "size": -1}, "SIZE_INVALID"),
    ({"digest": "sha256:" + "a" * 64, "size": "big"}, "SIZE_INVALID"),
])
def test_bad_direct_requests(client, body, code):
    response = client.post(f"/dockyard/v1/direct/{NAME}/blobs", json=body)
    assert (response.status_code, error_code(response)) == (400, code)


def test_an_s3_checksum_verifies_without_reading_the_object(registry):
    """On AWS, a single PUT's object carries the SHA-256 S3 checked: completion compares, never reads."""
    from dockyard.registry.direct import DirectObject

    data = b"verified by S3"
    digest = Digest.of(data)
    session = DirectSession(id="x", repo=NAME, digest=digest, size=len(data), location="blobs/direct/x/1")
    store = registry.storage.objects
    with Stubber(store.client) as stub:
        stub.add_response("head_object", {"ContentLength": len(data),
                                          "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode()})
        assert DirectObject(store, session, store.stat(session.location)).mismatch(digest) is None
        stub.add_response("head_object", {"ContentLength": len(data),
                                          "ChecksumSHA256": base64.b64encode(hashlib.sha256(b"x").digest()).decode()})
        assert DirectObject(store, session, store.stat(session.location)).mismatch(digest) is not None
        stub.assert_no_pending_responses()  # no GetObject was made


# --- the Lambda payload cap, emulated ----------------------------------------------------------------------


@pytest.fixture
def capped(settings):
    limited = dataclasses.replace(settings, max_body=LAMBDA_MAX_BODY)
    with TestClient(create_app(limited, build_registry(limited))) as client:
        yield client


def test_a_body_over_the_cap_is_refused_as_the_front_door_would(capped):
    data = os.urandom(LAMBDA_MAX_BODY + 1)
    response = capped.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(data)}, content=data)
    assert response.status_code == 413
    assert "Request must be smaller than 6291456 bytes" in response.json()["Message"]

    def chunked():
        for i in range(0, len(data), MIB):
            yield data[i:i + MIB]

    location = capped.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    assert capped.patch(location, content=chunked()).status_code == 413
    assert capped.get(location).headers["Range"] == "0-0"  # nothing of it was kept


def test_chunks_under_the_cap_get_through_and_the_cap_is_advertised(capped):
    data = os.urandom(3 * LAMBDA_MAX_BODY)
    response = capped.post(f"/v2/{NAME}/blobs/uploads/")
    chunk = int(response.headers["Dockyard-Chunk-Max-Length"])
    assert chunk == LAMBDA_MAX_BODY
    location = response.headers["Location"]
    for offset in range(0, len(data), chunk):
        piece = data[offset:offset + chunk]
        response = capped.patch(location, content=piece, headers={"Content-Range": f"{offset}-{offset + len(piece) - 1}"})
        assert response.status_code == 202, response.text
    assert capped.put(location, params={"digest": sha256(data)}).status_code == 201
