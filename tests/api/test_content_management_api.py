"""Deletion, referrers and mounts, from the spec: every endpoint, header and error."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from dockyard.app import create_app
from dockyard.domain import mediatypes as mt
from dockyard.factory import build_registry
from tests.support.oci import descriptor, sha256
from tests.support.registry import error_code, push_blob, push_image

NAME = "team/app"
EMPTY = b"{}"


def put(client, reference: str, body: bytes, media_type: str = mt.OCI_MANIFEST, name: str = NAME):
    response = client.put(f"/v2/{name}/manifests/{reference}", content=body, headers={"Content-Type": media_type})
    assert response.status_code == 201, response.text
    return response


def artifact(client, subject: bytes | None, artifact_type: str | None, payload: bytes,
             annotations: dict | None = None, config_type: str = "application/vnd.oci.empty.v1+json") -> bytes:
    """Push an artifact manifest (its blobs first); returns its bytes."""
    push_blob(client, NAME, EMPTY)
    push_blob(client, NAME, payload)
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": descriptor(config_type, EMPTY),
           "layers": [descriptor("application/octet-stream", payload)]}
    if artifact_type:
        doc["artifactType"] = artifact_type
    if subject is not None:
        doc["subject"] = descriptor(mt.OCI_MANIFEST, subject)
    if annotations:
        doc["annotations"] = annotations
    body = json.dumps(doc).encode()
    response = put(client, sha256(body), body)
    if subject is not None:
        assert response.headers["OCI-Subject"] == sha256(subject)
    return body


# --- deletion ------------------------------------------------------------------------------------------


def test_delete_manifest_by_digest_removes_it_and_its_tags(client):
    digest, body = push_image(client, NAME, "v1")
    put(client, "also", body)
    other, _ = push_image(client, NAME, "other")
    response = client.delete(f"/v2/{NAME}/manifests/{digest}")
    assert response.status_code == 202
    for reference in (digest, "v1", "also"):
        assert error_code(client.get(f"/v2/{NAME}/manifests/{reference}")) == "MANIFEST_UNKNOWN"
    assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["other"]
    assert client.get(f"/v2/{NAME}/manifests/other").headers["Docker-Content-Digest"] == other


def test_delete_by_tag_removes_only_the_tag(client):
    digest, body = push_image(client, NAME, "v1")
    put(client, "latest", body)
    assert client.delete(f"/v2/{NAME}/manifests/latest").status_code == 202
    assert client.get(f"/v2/{NAME}/manifests/latest").status_code == 404
    assert client.get(f"/v2/{NAME}/manifests/{digest}").content == body
    assert client.get(f"/v2/{NAME}/manifests/v1").content == body
    assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["v1"]
    # The manifest no longer counts the deleted tag: deleting it now leaves v1 out too, and nothing dangles.
    assert client.delete(f"/v2/{NAME}/manifests/{digest}").status_code == 202
    assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == []


def test_a_moved_tag_is_not_deleted_with_its_old_manifest(client):
    old, _ = push_image(client, NAME, "v1")
    new, new_body = push_image(client, NAME, "v2")
    put(client, "v1", new_body)  # v1 moves to the new manifest
    assert client.delete(f"/v2/{NAME}/manifests/{old}").status_code == 202
    assert client.get(f"/v2/{NAME}/manifests/v1").headers["Docker-Content-Digest"] == new
    assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["v1", "v2"]


def test_delete_blob_unlinks_it_from_that_repository_only(client, registry, settings):
    data = b"shared layer"
    digest = push_blob(client, NAME, data)
    push_blob(client, "team/other", data)
    assert client.delete(f"/v2/{NAME}/blobs/{digest}").status_code == 202
    assert client.head(f"/v2/{NAME}/blobs/{digest}").status_code == 404
    assert client.head(f"/v2/team/other/blobs/{digest}").status_code == 200
    objects = registry.storage.objects.client.list_objects_v2(Bucket=settings.bucket, Prefix="blobs/")["Contents"]
    assert len(objects) == 1  # the bytes stay for garbage collection


@pytest.mark.parametrize("path,status,code", [
    (f"/v2/{NAME}/manifests/sha256:{'0' * 64}", 404, "MANIFEST_UNKNOWN"),
    (f"/v2/{NAME}/manifests/nope", 404, "MANIFEST_UNKNOWN"),
    (f"/v2/{NAME}/blobs/sha256:{'0' * 64}", 404, "BLOB_UNKNOWN"),
    (f"/v2/{NAME}/manifests/sha256:0", 400, "DIGEST_INVALID"),
    (f"/v2/{NAME}/blobs/sha256:0", 400, "DIGEST_INVALID"),
    ("/v2/Bad/manifests/x", 400, "NAME_INVALID"),
])
def test_deleting_unknown_content(client, path, status, code):
    response = client.delete(path)
    assert (response.status_code, error_code(response)) == (status, code)


def test_deletion_can_be_turned_off(settings):
    frozen = dataclasses.replace(settings, delete_enabled=False)
    with TestClient(create_app(frozen, build_registry(frozen))) as client:
        digest, _ = push_image(client, NAME, "v1")
        for path in (f"/v2/{NAME}/manifests/{digest}", f"/v2/{NAME}/manifests/v1",
                     f"/v2/{NAME}/blobs/{sha256(EMPTY)}"):
            response = client.delete(path)
            assert (response.status_code, error_code(response)) == (405, "UNSUPPORTED")
        assert client.get(f"/v2/{NAME}/manifests/v1").status_code == 200


def test_concurrent_push_and_delete_of_a_tag_leave_nothing_dangling(client):
    digest, body = push_image(client, NAME, "x")
    _, other_body = push_image(client, NAME, "y")
    stop = threading.Event()
    failures = []

    def keep(action):
        while not stop.is_set():
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                failures.append(exc)

    workers = [threading.Thread(target=keep, args=(a,)) for a in (
        lambda: client.put(f"/v2/{NAME}/manifests/x", content=body, headers={"Content-Type": mt.OCI_MANIFEST}),
        lambda: client.put(f"/v2/{NAME}/manifests/x", content=other_body,
                           headers={"Content-Type": mt.OCI_MANIFEST}),
        lambda: client.delete(f"/v2/{NAME}/manifests/{digest}"),
        lambda: client.delete(f"/v2/{NAME}/manifests/x"),
    )]
    for worker in workers:
        worker.start()
    time.sleep(3)  # let the writers race
    stop.set()
    for worker in workers:
        worker.join()
    assert not failures
    # Quiescent now: every tag resolves, and so does the digest it names.
    for tag in client.get(f"/v2/{NAME}/tags/list").json()["tags"]:
        response = client.get(f"/v2/{NAME}/manifests/{tag}")
        assert response.status_code == 200
        assert client.get(f"/v2/{NAME}/manifests/{response.headers['Docker-Content-Digest']}").status_code == 200


# --- referrers -----------------------------------------------------------------------------------------


def test_referrers_list_descriptors_with_artifact_type_and_annotations(client):
    subject_digest, subject = push_image(client, NAME, "v1")
    sbom = artifact(client, subject, "application/spdx+json", b'{"sbom": 1}', {"org.example.kind": "sbom"})
    signature = artifact(client, subject, None, b"signature bytes",
                         config_type="application/vnd.example.signature.config.v1+json")
    response = client.get(f"/v2/{NAME}/referrers/{subject_digest}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == mt.OCI_INDEX
    assert "OCI-Filters-Applied" not in response.headers
    index = response.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == mt.OCI_INDEX
    by_digest = {d["digest"]: d for d in index["manifests"]}
    assert by_digest[sha256(sbom)] == {"mediaType": mt.OCI_MANIFEST, "digest": sha256(sbom), "size": len(sbom),
                                       "artifactType": "application/spdx+json",
                                       "annotations": {"org.example.kind": "sbom"}}
    # No artifactType: the config media type stands in for it.
    assert by_digest[sha256(signature)]["artifactType"] == "application/vnd.example.signature.config.v1+json"
    assert "annotations" not in by_digest[sha256(signature)]


def test_referrers_filter_by_artifact_type(client):
    subject_digest, subject = push_image(client, NAME, "v1")
    sbom = artifact(client, subject, "application/spdx+json", b"a")
    artifact(client, subject, "application/vnd.dev.cosign.simplesigning.v1+json", b"b")
    response = client.get(f"/v2/{NAME}/referrers/{subject_digest}", params={"artifactType": "application/spdx+json"})
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in response.json()["manifests"]] == [sha256(sbom)]
    none = client.get(f"/v2/{NAME}/referrers/{subject_digest}", params={"artifactType": "application/x-none"})
    assert none.json()["manifests"] == [] and none.headers["OCI-Filters-Applied"] == "artifactType"


def test_referrers_of_an_unknown_subject_is_an_empty_index(client):
    response = client.get(f"/v2/{NAME}/referrers/sha256:{'e' * 64}")
    assert response.status_code == 200
    assert response.json() == {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}


def test_referrers_with_an_invalid_digest_is_400(client):
    response = client.get(f"/v2/{NAME}/referrers/sha256:xyz")
    assert (response.status_code, error_code(response)) == (400, "DIGEST_INVALID")


def test_a_referrer_pushed_before_its_subject_shows_up(client):
    config = b'{"architecture": "amd64", "os": "linux", "tag": "later"}'
    layers = [b"later layer"]
    from tests.support.registry import image_manifest

    subject = image_manifest(config, layers)
    early = artifact(client, subject, "application/spdx+json", b"early")
    assert [d["digest"] for d in client.get(f"/v2/{NAME}/referrers/{sha256(subject)}").json()["manifests"]] == \
        [sha256(early)]
    for blob in [config, *layers]:
        push_blob(client, NAME, blob)
    put(client, "later", subject)
    assert len(client.get(f"/v2/{NAME}/referrers/{sha256(subject)}").json()["manifests"]) == 1


def test_referrers_are_paginated_with_link(client):
    subject_digest, subject = push_image(client, NAME, "v1")
    made = {sha256(artifact(client, subject, "application/x-note", f"note {i}".encode())) for i in range(5)}
    seen, path, params = [], f"/v2/{NAME}/referrers/{subject_digest}", {"n": 2}
    while True:
        response = client.get(path, params=params)
        page = [d["digest"] for d in response.json()["manifests"]]
        assert len(page) <= 2
        seen += page
        if "Link" not in response.headers:
            break
        link = response.headers["Link"]
        assert link.endswith('>; rel="next"')
        path, _, query = link[1:link.index(">")].partition("?")
        params = dict(parse_qsl(query))
    assert seen == sorted(made) and len(seen) == 5


def test_deleting_a_referrer_removes_it_from_the_list(client):
    subject_digest, subject = push_image(client, NAME, "v1")
    sbom = artifact(client, subject, "application/spdx+json", b"x")
    keep = artifact(client, subject, "application/x-sig", b"y")
    assert client.delete(f"/v2/{NAME}/manifests/{sha256(sbom)}").status_code == 202
    assert [d["digest"] for d in client.get(f"/v2/{NAME}/referrers/{subject_digest}").json()["manifests"]] == \
        [sha256(keep)]


def test_an_index_with_a_subject_is_a_referrer_without_artifact_type(client):
    subject_digest, subject = push_image(client, NAME, "v1")
    child_digest, child = push_image(client, NAME, "child")
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                        "manifests": [descriptor(mt.OCI_MANIFEST, child)],
                        "subject": descriptor(mt.OCI_MANIFEST, subject)}).encode()
    put(client, sha256(index), index, mt.OCI_INDEX)
    [entry] = client.get(f"/v2/{NAME}/referrers/{subject_digest}").json()["manifests"]
    assert entry == {"mediaType": mt.OCI_INDEX, "digest": sha256(index), "size": len(index)}


# --- mounts and manifests of every shape -----------------------------------------------------------------


def test_mount_without_from_uses_any_copy_when_access_control_is_off(client):
    digest = push_blob(client, "team/base", b"base layer bytes")
    response = client.post(f"/v2/{NAME}/blobs/uploads/", params={"mount": digest})
    assert response.status_code == 201 and response.headers["Location"] == f"/v2/{NAME}/blobs/{digest}"
    unknown = client.post(f"/v2/{NAME}/blobs/uploads/", params={"mount": sha256(b"never")})
    assert unknown.status_code == 202 and "Docker-Upload-UUID" in unknown.headers


def test_manifests_with_extra_fields_data_and_no_layers_round_trip_exactly(client):
    push_blob(client, NAME, EMPTY)
    body = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
            b'"artifactType":"application/x.example","x-extra":{"nested":[1,2,3]},'
            b'"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"' + sha256(EMPTY).encode() +
            b'","size":2,"data":"e30="},"layers":[],"annotations":{"a":"b"}}')
    put(client, "shapes", body)
    assert client.get(f"/v2/{NAME}/manifests/shapes").content == body


def test_an_image_with_unpushed_non_distributable_layers_is_accepted(client):
    config = b'{"os": "windows"}'
    push_blob(client, NAME, config)
    foreign = os.urandom(64)
    body = json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
                       "config": descriptor("application/vnd.docker.container.image.v1+json", config),
                       "layers": [descriptor("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", foreign,
                                             urls=["https://example.invalid/layer"])]}).encode()
    put(client, "windows", body, mt.DOCKER_MANIFEST)
    assert client.get(f"/v2/{NAME}/manifests/windows").content == body
