"""Concurrent writers: the same blob, the same tag. Nothing is corrupted, nothing dangles."""

import os
from concurrent.futures import ThreadPoolExecutor

import httpx

from dockyard.domain.digest import Digest
from tests.support.gc import run_gc
from tests.support.oci import OCI_MANIFEST, sha256
from tests.support.registry import image_manifest, push_blob, push_image

MIB = 1024 * 1024


def test_concurrent_pushes_of_the_same_blob(client, registry, settings):
    data = os.urandom(6 * MIB + 123)

    def push(i):
        name = f"team/app{i % 3}"
        location = client.post(f"/v2/{name}/blobs/uploads/").headers["Location"]
        response = client.patch(location, content=data)
        assert response.status_code == 202, response.text
        return name, client.put(response.headers["Location"], params={"digest": sha256(data)}).status_code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(push, range(8)))
    assert all(status == 201 for _, status in results)
    for name in {name for name, _ in results}:
        redirect = client.get(f"/v2/{name}/blobs/{sha256(data)}", follow_redirects=False)
        assert httpx.get(redirect.headers["Location"]).content == data
    s3 = registry.storage.objects.client
    assert not s3.list_objects_v2(Bucket=settings.bucket, Prefix="uploads/").get("Contents")
    for name in {name for name, _ in results}:  # an image uses it in each repository
        push_blob(client, name, b"{}")
        assert client.put(f"/v2/{name}/manifests/v1", content=image_manifest(b"{}", [data]),
                          headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    run = run_gc(client)  # the copies that lost were given up, and are collected: the record's own is left
    left = {o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket, Prefix="blobs/")["Contents"]}
    assert left == {registry.storage.blobs.get_blob(Digest.parse(sha256(d))).location for d in (data, b"{}")}
    assert {e["action"] for e in run["entries"]} == {"delete_dropped"}


def test_concurrent_pushes_of_the_same_tag(client):
    with ThreadPoolExecutor(8) as pool:
        pushed = dict(pool.map(lambda i: push_image(client, "team/app", "latest", layers=[os.urandom(100)]),
                               range(8)))
    response = client.get("/v2/team/app/manifests/latest")
    assert response.status_code == 200
    digest = response.headers["Docker-Content-Digest"]
    assert digest in pushed and sha256(response.content) == digest and response.content == pushed[digest]
    for digest, body in pushed.items():
        assert client.get(f"/v2/team/app/manifests/{digest}").content == body
    assert client.get("/v2/team/app/tags/list").json()["tags"] == ["latest"]


def test_concurrent_chunks_to_one_session_never_interleave(client):
    location = client.post("/v2/team/app/blobs/uploads/").headers["Location"]
    chunks = [bytes([i]) * MIB for i in range(6)]

    def send(chunk):
        return client.patch(location, content=chunk, headers={"Content-Range": f"0-{len(chunk) - 1}"}).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(send, chunks))
    assert statuses.count(202) == 1 and all(s in (202, 409, 416) for s in statuses)
    status = client.get(location)
    assert status.headers["Range"] == f"0-{MIB - 1}"
