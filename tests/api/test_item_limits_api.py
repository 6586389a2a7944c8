"""DynamoDB's 400 KB item limit: whatever a client sends that would be copied into an item is either kept
elsewhere or refused with a spec error, never a 500. And the admin listing pages like the OCI ones."""

from __future__ import annotations

import json

from dockyard.auth.admin import MAX_RULES
from dockyard.domain import mediatypes as mt
from dockyard.storage import keys
from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.auth import basic
from tests.support.gc import run_gc
from tests.support.oci import EMPTY_CONFIG, OCI_LAYER, descriptor, sha256
from tests.support.registry import error_code, push_blob, push_image

NAME = "team/app"
CONFIG, LAYER = b"{}", b"layer"
ADMIN = basic(ADMIN_ID, ADMIN_SECRET)


def manifest(client, config_type=EMPTY_CONFIG, **extra) -> bytes:
    push_blob(client, NAME, CONFIG)
    push_blob(client, NAME, LAYER)
    return json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": descriptor(config_type, CONFIG),
                       "layers": [descriptor(OCI_LAYER, LAYER)], **extra}).encode()


def put(client, reference, body):
    return client.put(f"/v2/{NAME}/manifests/{reference}", content=body, headers={"Content-Type": mt.OCI_MANIFEST})


def test_a_huge_artifact_type_is_refused_not_copied(client):
    for body in (manifest(client, artifactType="application/" + "x" * 500_000),
                 manifest(client, config_type="application/" + "y" * 500_000)):  # an image's artifact type
        response = put(client, "v1", body)
        assert (response.status_code, error_code(response)) == (400, "MANIFEST_INVALID")
        assert client.head(f"/v2/{NAME}/manifests/{sha256(body)}").status_code == 404
    body = manifest(client, artifactType="application/vnd.example." + "z" * 900)
    assert put(client, "v1", body).status_code == 201


def test_huge_annotations_stay_in_the_body_or_are_refused_on_a_referrer(client):
    body = manifest(client, annotations={"pad": "é" * 250_000})  # 500 KB, only in the body (kept in S3)
    assert put(client, "v1", body).status_code == 201
    assert client.get(f"/v2/{NAME}/manifests/v1").content == body
    subject_digest, subject = push_image(client, NAME, "base")
    referrer = manifest(client, subject=descriptor(mt.OCI_MANIFEST, subject), annotations={"pad": "x" * 500_000})
    response = put(client, sha256(referrer), referrer)  # a referrer's annotations go into its referrer entry
    assert (response.status_code, error_code(response)) == (400, "MANIFEST_INVALID")
    assert client.get(f"/v2/{NAME}/referrers/{subject_digest}").json()["manifests"] == []


def test_a_manifest_with_more_tags_than_its_item_holds(client, registry, settings):
    """The manifest's item holds the set of its tags. Thousands of tags (added to the set directly: as many
    pushes would take minutes) first move an inline body out to S3; past that, one more tag is refused."""
    body = manifest(client, annotations={"pad": "p" * 200_000})  # inline, under 256 KB
    assert put(client, "v0", body).status_code == 201
    table, item_key = registry.storage.blobs.table, {"pk": {"S": keys.repo_pk(NAME)},
                                                     "sk": {"S": keys.manifest_sk(sha256(body))}}

    def add_tags(prefix: str, count: int):
        for start in range(0, count, 500):
            table.client.update_item(TableName=settings.table, Key=item_key, UpdateExpression="ADD #t :t",
                                     ExpressionAttributeNames={"#t": "tags"}, ExpressionAttributeValues={
                                         ":t": {"SS": [f"{prefix}{n:05d}" + "t" * 120 for n in
                                                       range(start, min(count, start + 500))]}})

    add_tags("a", 1000)  # 125 KB of tags beside the body
    assert put(client, "v1", body).status_code == 201
    assert "body" not in table.client.get_item(TableName=settings.table, Key=item_key)["Item"]
    assert client.get(f"/v2/{NAME}/manifests/v1").content == body
    add_tags("b", 2500)  # now the tags alone nearly fill the item
    response = put(client, "v2", body)
    assert (response.status_code, error_code(response)) == (403, "DENIED")
    assert client.head(f"/v2/{NAME}/manifests/v2").status_code == 404
    assert client.get(f"/v2/{NAME}/manifests/v1").content == body
    run_gc(client)  # the body moved out is a blob of the repository, counted on: GC keeps it
    assert client.get(f"/v2/{NAME}/manifests/{sha256(body)}").content == body


def test_a_key_or_anonymous_policy_has_at_most_so_many_rules(auth_client):
    rules = [f"team{n}/*=pull" for n in range(MAX_RULES + 1)]
    response = auth_client.post("/dockyard/v1/keys", json={"name": "many", "allow": rules}, headers=ADMIN)
    assert response.status_code == 400 and error_code(response) == "UNSUPPORTED"
    assert auth_client.post("/dockyard/v1/keys", json={"name": "many", "allow": rules[:-1]},
                            headers=ADMIN).status_code == 201
    response = auth_client.put("/dockyard/v1/anonymous", json={"pull": [r[:-5] for r in rules]}, headers=ADMIN)
    assert response.status_code == 400


def test_keys_are_listed_in_pages_by_count_and_by_bytes(auth_client):
    rules = [f"{n:03d}" + "r" * 250 + "/*=pull,push,delete" for n in range(MAX_RULES)]  # about 27 KB a key
    made = [auth_client.post("/dockyard/v1/keys", json={"name": f"k{n}", "allow": rules},
                             headers=ADMIN).json()["id"] for n in range(90)]
    listed, params, pages = [], {}, 0
    while True:
        response = auth_client.get("/dockyard/v1/keys", params=params, headers=ADMIN)
        assert response.status_code == 200 and len(response.content) <= 2 * 1024 * 1024
        listed += [key["id"] for key in response.json()["keys"]]
        pages += 1
        if "next" not in response.links:
            break
        params = dict(part.split("=", 1) for part in response.links["next"]["url"].split("?", 1)[1].split("&"))
    assert sorted(made + [ADMIN_ID]) == listed and pages == 2
    first = auth_client.get("/dockyard/v1/keys", params={"n": 2}, headers=ADMIN)
    assert len(first.json()["keys"]) == 2 and first.links["next"]["url"].startswith("/dockyard/v1/keys?n=2&last=")
