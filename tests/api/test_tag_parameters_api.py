"""A push by digest with `tag` query parameters (distribution-spec v1.1): what the conformance suite's
tag-parameter mode checks, and what a demanding client relies on besides.

The suite pushes each manifest by digest with one `tag` parameter per tag that points to it, and expects a
201 with `Location` and `Docker-Content-Digest`, an `OCI-Tag` response field naming every tag (several
fields, or one comma-separated list, as RFC 9110 allows), then every tag to pull, list and delete.
"""

import json

import pytest

from dockyard.domain import mediatypes as mt
from dockyard.storage.interfaces import MAX_INLINE_BODY_BYTES, MAX_TAGS_PER_PUT
from tests.support.oci import descriptor, sha256
from tests.support.registry import error_code, image_manifest, push_blob, push_image

NAME = "team/app"


def oci_tags(response) -> list[str]:
    return [tag.strip() for field in response.headers.get_list("OCI-Tag") for tag in field.split(",")]


def put(client, reference, body: bytes, tags=(), name=NAME, content_type=mt.OCI_MANIFEST):
    return client.put(f"/v2/{name}/manifests/{reference}", params=[("tag", tag) for tag in tags], content=body,
                      headers={"Content-Type": content_type})


def image(client, seed: str, **extra) -> bytes:
    config, layer = json.dumps({"os": "linux", "seed": seed}).encode(), seed.encode() * 20
    push_blob(client, NAME, config)
    push_blob(client, NAME, layer)
    return image_manifest(config, [layer], **extra)


def pulls(client, tag: str, body: bytes) -> bool:
    for method in ("GET", "HEAD"):
        response = client.request(method, f"/v2/{NAME}/manifests/{tag}")
        if (response.status_code, response.headers.get("Docker-Content-Digest")) != (200, sha256(body)):
            return False
        if response.headers["Content-Type"] != mt.OCI_MANIFEST or response.content != (body if method == "GET" else b""):
            return False
    return True


def test_a_push_by_digest_tags_it_in_one_request(client):
    body = image(client, "one")
    response = put(client, sha256(body), body, ["1.2.3", "1.2", "latest"])
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v2/{NAME}/manifests/{sha256(body)}"
    assert response.headers["Docker-Content-Digest"] == sha256(body)
    assert sorted(oci_tags(response)) == ["1.2", "1.2.3", "latest"]
    assert all(pulls(client, tag, body) for tag in ("1.2.3", "1.2", "latest"))
    assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["1.2", "1.2.3", "latest"]
    for tag in ("1.2.3", "1.2", "latest"):  # then the suite deletes each tag, and the manifest
        assert client.delete(f"/v2/{NAME}/manifests/{tag}").status_code == 202
        assert client.head(f"/v2/{NAME}/manifests/{tag}").status_code == 404
    assert client.delete(f"/v2/{NAME}/manifests/{sha256(body)}").status_code == 202


def test_tags_move_from_the_manifests_they_named(client):
    old_digest, old = push_image(client, NAME, "stable")
    put(client, old_digest, old, ["latest"])
    body = image(client, "two")
    response = put(client, sha256(body), body, ["stable", "latest", "new"])
    assert response.status_code == 201 and sorted(oci_tags(response)) == ["latest", "new", "stable"]
    assert all(pulls(client, tag, body) for tag in ("stable", "latest", "new"))
    # The old manifest lost both tags: deleting it now takes no tag with it.
    assert client.delete(f"/v2/{NAME}/manifests/{old_digest}").status_code == 202
    assert all(pulls(client, tag, body) for tag in ("stable", "latest", "new"))


def test_a_tag_named_twice_is_pushed_once_and_a_repeat_push_is_idempotent(client):
    body = image(client, "three")
    for _ in range(2):
        response = put(client, sha256(body), body, ["v1", "v1", "v2"])
        assert response.status_code == 201 and oci_tags(response) == ["v1", "v2"]
    assert client.get(f"/v2/{NAME}/tags/list").json()["tags"] == ["v1", "v2"]


def test_no_tag_parameter_means_no_oci_tag(client):
    body = image(client, "four")
    response = put(client, sha256(body), body)
    assert response.status_code == 201 and "OCI-Tag" not in response.headers


def test_a_referrer_pushed_with_tags_is_acknowledged_both_ways(client):
    subject_digest, subject = push_image(client, NAME, "base")
    body = image(client, "sbom", subject=descriptor(mt.OCI_MANIFEST, subject), artifactType="application/spdx+json")
    response = put(client, sha256(body), body, ["sbom"])
    assert response.headers["OCI-Subject"] == subject_digest and oci_tags(response) == ["sbom"]
    referrers = client.get(f"/v2/{NAME}/referrers/{subject_digest}").json()["manifests"]
    assert [r["digest"] for r in referrers] == [sha256(body)]


@pytest.mark.parametrize("tags,code,status", [
    (["ok", "-bad"], "MANIFEST_INVALID", 400),
    (["ok", "x" * 129], "MANIFEST_INVALID", 400),
    ([f"t{n}" for n in range(MAX_TAGS_PER_PUT + 1)], "UNSUPPORTED", 414),
])
def test_a_bad_or_too_long_tag_list_is_refused_and_nothing_is_stored(client, tags, code, status):
    body = image(client, "five")
    response = put(client, sha256(body), body, tags)
    assert (response.status_code, error_code(response)) == (status, code)
    assert client.head(f"/v2/{NAME}/manifests/{sha256(body)}").status_code == 404
    assert client.head(f"/v2/{NAME}/manifests/ok").status_code == 404


def test_tag_parameters_on_a_push_by_tag_are_refused(client):
    body = image(client, "six")
    response = put(client, "v1", body, ["v2"])
    assert response.status_code == 400 and error_code(response) == "UNSUPPORTED"
    assert client.head(f"/v2/{NAME}/manifests/v1").status_code == 404


def test_a_manifest_missing_a_blob_creates_no_tag(client):
    config = b"{}"
    push_blob(client, NAME, config)
    body = image_manifest(config, [b"never pushed"])
    response = put(client, sha256(body), body, ["v1"])
    assert response.status_code == 400 and error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert client.head(f"/v2/{NAME}/manifests/v1").status_code == 404


def test_the_most_tags_with_a_mid_sized_body_keep_the_body_in_s3(client, registry, settings):
    """Each tag item holds a copy of an inline body: 48 copies of 100 KB would pass DynamoDB's 4 MB
    transaction, so the body goes to S3 and every item points there."""
    body = image(client, "seven", annotations={"pad": "x" * (100 * 1024)})
    assert len(body) * (1 + MAX_TAGS_PER_PUT) > MAX_INLINE_BODY_BYTES
    tags = [f"v{n}" for n in range(MAX_TAGS_PER_PUT)]
    response = put(client, sha256(body), body, tags)
    assert response.status_code == 201, response.text
    assert sorted(oci_tags(response)) == sorted(tags)
    items = registry.storage.blobs.table.client.scan(TableName=settings.table)["Items"]
    assert not any("body" in item and item["digest"]["S"] == sha256(body) for item in items)
    assert pulls(client, "v0", body) and pulls(client, f"v{MAX_TAGS_PER_PUT - 1}", body)


def test_a_push_with_tags_costs_one_batched_read_and_one_transaction(client, calls):
    push_image(client, NAME, "a")
    body = image(client, "eight")
    calls.clear()
    assert put(client, sha256(body), body, ["a", "b", "c"]).status_code == 201
    # "a" moves: the immutability rules are read once, whatever the number of tags moved.
    push = {("dynamodb", "BatchGetItem"): 1, ("dynamodb", "TransactWriteItems"): 1,
            ("s3", "GetObject"): 1,  # the config, for the pull hints
            ("dynamodb", "UpdateItem"): 1}  # (the repository's push count)
    assert dict(calls) == {**push, ("dynamodb", "Query"): 1}
    calls.clear()
    assert put(client, sha256(body), body, ["d", "e"]).status_code == 201  # new tags only: no rule is read
    del push[("s3", "GetObject")]  # stored now: its config comes with its own pull hints
    assert dict(calls) == push
