"""Manifest push and pull: exact bytes, media types, references checked, bad input refused intact."""

import json

import pytest

from dockyard.domain.digest import Digest

from dockyard.domain import mediatypes as mt
from dockyard.domain.manifest import MAX_MANIFEST_SIZE
from dockyard.registry.manifests import INLINE_BODY_LIMIT
from tests.support.oci import OCI_CONFIG, descriptor, sha256
from tests.support.registry import error_code, image_manifest, push_blob, push_image

NAME = "team/app"


def put(client, reference, body: bytes, content_type=mt.OCI_MANIFEST, name=NAME):
    return client.put(f"/v2/{name}/manifests/{reference}", content=body, headers={"Content-Type": content_type})


def assert_manifest(client, reference, body: bytes, media_type=mt.OCI_MANIFEST, name=NAME):
    for method in ("GET", "HEAD"):
        response = client.request(method, f"/v2/{name}/manifests/{reference}")
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == media_type
        assert response.headers["Docker-Content-Digest"] == sha256(body)
        assert response.headers["Content-Length"] == str(len(body))
        assert response.content == (body if method == "GET" else b"")


def blobs_for(client, name=NAME):
    config, layer = json.dumps({"os": "linux"}).encode(), b"layer" * 50
    push_blob(client, name, config)
    push_blob(client, name, layer)
    return config, layer


def test_put_by_tag_then_get_by_tag_and_digest(client):
    digest, body = push_image(client, NAME, "v1")
    assert_manifest(client, "v1", body)
    assert_manifest(client, digest, body)


def test_put_answers_201_with_location_and_digest(client):
    config, layer = blobs_for(client)
    body = image_manifest(config, [layer])
    response = put(client, "v1", body)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/{NAME}/manifests/{sha256(body)}"
    assert response.headers["Docker-Content-Digest"] == sha256(body)
    assert "OCI-Subject" not in response.headers


def test_bytes_are_kept_exactly(client):
    config, layer = blobs_for(client)
    doc = json.loads(image_manifest(config, [layer]))
    body = ("{\n  " + ",\n  ".join(f'"{k}":   {json.dumps(v)}' for k, v in doc.items()) + "\n}\n").encode()
    assert put(client, "pretty", body).status_code == 201
    assert_manifest(client, "pretty", body)


def test_put_by_digest(client):
    config, layer = blobs_for(client)
    body = image_manifest(config, [layer])
    assert put(client, sha256(body), body).status_code == 201
    assert_manifest(client, sha256(body), body)
    assert error_code(client.get(f"/v2/{NAME}/manifests/latest")) == "MANIFEST_UNKNOWN"


def test_put_by_wrong_digest_is_digest_invalid(client):
    config, layer = blobs_for(client)
    body = image_manifest(config, [layer])
    response = put(client, sha256(b"other"), body)
    assert response.status_code == 400 and error_code(response) == "DIGEST_INVALID"
    assert client.get(f"/v2/{NAME}/manifests/{sha256(body)}").status_code == 404


def test_docker_v2_manifest_and_manifest_list(client):
    config, layer = blobs_for(client)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
        "config": descriptor("application/vnd.docker.container.image.v1+json", config),
        "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", layer)]}).encode()
    assert put(client, "docker", manifest, mt.DOCKER_MANIFEST).status_code == 201
    listing = json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": [
        descriptor(mt.DOCKER_MANIFEST, manifest, platform={"architecture": "amd64", "os": "linux"})]}).encode()
    assert put(client, "list", listing, mt.DOCKER_MANIFEST_LIST).status_code == 201
    assert_manifest(client, "docker", manifest, mt.DOCKER_MANIFEST)
    assert_manifest(client, "list", listing, mt.DOCKER_MANIFEST_LIST)


def test_index_and_nested_index(client):
    amd, amd_body = push_image(client, NAME, "amd64")
    arm, arm_body = push_image(client, NAME, "arm64")
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        descriptor(mt.OCI_MANIFEST, amd_body), descriptor(mt.OCI_MANIFEST, arm_body)]}).encode()
    assert put(client, "multi", index, mt.OCI_INDEX).status_code == 201
    outer = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                        "manifests": [descriptor(mt.OCI_INDEX, index)]}).encode()
    assert put(client, "nested", outer, mt.OCI_INDEX).status_code == 201
    assert_manifest(client, "nested", outer, mt.OCI_INDEX)


def test_index_with_unknown_child_is_manifest_blob_unknown(client):
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                        "manifests": [descriptor(mt.OCI_MANIFEST, b"never pushed")]}).encode()
    response = put(client, "multi", index, mt.OCI_INDEX)
    assert response.status_code == 400 and error_code(response) == "MANIFEST_BLOB_UNKNOWN"


def test_unknown_layer_is_manifest_blob_unknown_and_changes_nothing(client):
    digest, body = push_image(client, NAME, "v1")
    config, _ = blobs_for(client)
    bad = image_manifest(config, [b"never pushed"])
    response = put(client, "v1", bad)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert response.json()["errors"][0]["detail"] == {"missing": [sha256(b"never pushed")]}
    assert_manifest(client, "v1", body)


def test_blob_of_another_repository_does_not_satisfy_a_manifest(client):
    config, layer = blobs_for(client, "team/other")
    response = put(client, "v1", image_manifest(config, [layer]))
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"


@pytest.mark.parametrize("body,content_type", [
    (b"{not json", mt.OCI_MANIFEST),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.example.thing+json"}', "application/vnd.example.thing+json"),
    (b'{"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}',
     "application/vnd.docker.distribution.manifest.v1+prettyjws"),
])
def test_invalid_manifests_are_refused_and_nothing_is_lost(client, body, content_type):
    digest, good = push_image(client, NAME, "v1")
    response = put(client, "v1", body, content_type)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_INVALID"
    assert_manifest(client, "v1", good)


def test_oversized_manifest_is_413(client):
    digest, good = push_image(client, NAME, "v1")
    body = b'{"schemaVersion": 2, "pad": "' + b"x" * MAX_MANIFEST_SIZE + b'"}'
    response = put(client, "v1", body)
    assert response.status_code == 413
    assert error_code(response) == "SIZE_INVALID"
    assert_manifest(client, "v1", good)


def test_large_manifest_body_is_kept_as_a_blob_of_its_repository_and_served_exactly(client, registry, settings,
                                                                                   calls):
    pad = "x" * (INLINE_BODY_LIMIT + 1000)
    digest, body = push_image(client, NAME, "big", annotations={"pad": pad})
    s3 = registry.storage.objects.client
    location = registry.storage.blobs.get_link(NAME, Digest.parse(digest)).location
    assert s3.get_object(Bucket=settings.bucket, Key=location)["Body"].read() == body
    items = registry.storage.blobs.table.client.scan(TableName=settings.table)["Items"]
    assert not any("body" in item for item in items)  # neither the manifest item nor the tag's holds it
    assert [item["body_location"]["S"] for item in items if "body_location" in item] == [location] * 2
    assert client.delete(f"/v2/{NAME}/blobs/{digest}").status_code == 409  # the manifest needs it
    for reference in ("big", digest):
        calls.clear()
        assert_manifest(client, reference, body)
        assert calls[("s3", "GetObject")] == 1  # the GET reads the body from S3; the HEAD needs none
        assert dict(calls)[("dynamodb", "GetItem")] == 2


def test_subject_is_acknowledged_with_oci_subject(client):
    subject_digest, subject = push_image(client, NAME, "v1")
    empty = b"{}"
    push_blob(client, NAME, empty)
    sbom = b'{"spdx": true}'
    push_blob(client, NAME, sbom)
    body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": "application/spdx+json",
                       "config": descriptor("application/vnd.oci.empty.v1+json", empty),
                       "layers": [descriptor("application/spdx+json", sbom)],
                       "subject": descriptor(mt.OCI_MANIFEST, subject)}).encode()
    response = put(client, sha256(body), body)
    assert response.status_code == 201
    assert response.headers["OCI-Subject"] == subject_digest


def test_subject_may_be_pushed_before_it_exists(client):
    config = b"{}"
    push_blob(client, NAME, config)
    body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                       "config": descriptor(OCI_CONFIG, config), "layers": [],
                       "subject": descriptor(mt.OCI_MANIFEST, b"not yet")}).encode()
    assert put(client, sha256(body), body).status_code == 201


def test_manifest_unknown(client):
    response = client.get(f"/v2/{NAME}/manifests/nope")
    assert response.status_code == 404 and error_code(response) == "MANIFEST_UNKNOWN"
    assert client.head(f"/v2/{NAME}/manifests/{sha256(b'x')}").status_code == 404


@pytest.mark.parametrize("reference,code", [("-bad", "MANIFEST_INVALID"), ("sha256:123", "DIGEST_INVALID"),
                                            ("a" * 129, "MANIFEST_INVALID")])
def test_invalid_reference(client, reference, code):
    digest, good = push_image(client, NAME, "v1")
    assert error_code(put(client, reference, good)) == code
    assert error_code(client.get(f"/v2/{NAME}/manifests/{reference}")) == code


def test_retagging_moves_the_tag(client):
    first, _ = push_image(client, NAME, "one")
    second, body = push_image(client, NAME, "two")
    assert put(client, "one", body).status_code == 201
    assert client.get(f"/v2/{NAME}/manifests/one").headers["Docker-Content-Digest"] == second
    assert client.get(f"/v2/{NAME}/manifests/{first}").status_code == 200


def test_tags_and_catalog_listing(client):
    for tag in ["b", "a", "C", "c"]:
        push_image(client, NAME, tag)
    push_image(client, "team/zeta", "x")
    push_image(client, "alpha", "x")
    response = client.get(f"/v2/{NAME}/tags/list")
    assert response.json() == {"name": NAME, "tags": ["C", "a", "b", "c"]}
    page = client.get(f"/v2/{NAME}/tags/list", params={"n": 2})
    assert page.json()["tags"] == ["C", "a"]
    assert page.headers["Link"] == f'</v2/{NAME}/tags/list?n=2&last=a>; rel="next"'
    page = client.get(f"/v2/{NAME}/tags/list", params={"n": 2, "last": "a"})
    assert page.json()["tags"] == ["b", "c"] and "Link" not in page.headers
    empty = client.get(f"/v2/{NAME}/tags/list", params={"n": 0})
    assert empty.json()["tags"] == [] and "Link" not in empty.headers
    assert client.get("/v2/_catalog").json() == {"repositories": ["alpha", NAME, "team/zeta"]}
    page = client.get("/v2/_catalog", params={"n": 1, "last": "alpha"})
    assert page.json() == {"repositories": [NAME]}
    assert page.headers["Link"] == f'</v2/_catalog?n=1&last={NAME.replace("/", "%2F")}>; rel="next"'


def test_tags_of_unknown_repository_is_name_unknown(client):
    response = client.get("/v2/nobody/here/tags/list")
    assert response.status_code == 404 and error_code(response) == "NAME_UNKNOWN"
