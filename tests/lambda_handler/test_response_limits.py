"""The worst case of each route through the real Lambda handler stays within what a Function URL can send
back: a buffered response of at most 6,291,456 bytes, counted as the runtime serializes the handler's result.
Listings continue with `Link` instead of growing past it."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from dockyard.app import create_app
from dockyard.auth.admin import MAX_RULES
from dockyard.domain.manifest import MAX_MANIFEST_SIZE
from dockyard.factory import build_registry
from dockyard.handler import make_handler
from dockyard.registry.manifests import MAX_REFERRER_ANNOTATIONS
from dockyard.resources import LAMBDA_PAYLOAD_LIMIT
from dockyard.storage import keys
from dockyard.storage.aws import new_clients
from dockyard.storage.interfaces import MAX_TAGS_PER_PUT
from tests.support import function_url
from tests.support.oci import EMPTY_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, sha256

NAME = "team/app"
CONFIG, LAYER = b"{}", b"layer"


def call(handler, method, path, **kwargs) -> tuple[function_url.Response, int]:
    """The response, and the size of the result as the Lambda runtime serializes it (ASCII-escaped JSON: its
    largest form, which is what the limit counts)."""
    result = handler(function_url.event(method, path, **kwargs), function_url.LambdaContext())
    return function_url.Response(result), len(json.dumps(result).encode())


def fits(handler, method, path, **kwargs) -> function_url.Response:
    response, size = call(handler, method, path, **kwargs)
    assert size < LAMBDA_PAYLOAD_LIMIT, f"{method} {path}: {size} bytes"
    return response


def pages(handler, path, params=None) -> list[function_url.Response]:
    """Follow `Link` from the first page to the last, checking that each fits."""
    out = [fits(handler, "GET", path, params=params)]
    while "link" in out[-1].headers:
        link = urlsplit(out[-1].headers["link"].split(";")[0].strip("<>"))
        out.append(fits(handler, "GET", link.path, params=dict(parse_qsl(link.query))))
    return out


def push_blobs(handler) -> None:
    for blob in (CONFIG, LAYER):
        response = fits(handler, "POST", f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(blob)}, body=blob)
        assert response.status_code == 201


def manifest_of(pad: str, **extra) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(EMPTY_CONFIG, CONFIG),
                       "layers": [descriptor(OCI_LAYER, LAYER)], "annotations": {"pad": pad}, **extra},
                      ensure_ascii=False).encode()


def put(handler, reference: str, body: bytes, params=None) -> function_url.Response:
    response = fits(handler, "PUT", f"/v2/{NAME}/manifests/{reference}", params=params, body=body,
                    headers={"Content-Type": OCI_MANIFEST})
    assert response.status_code == 201, response.content[:300]
    return response


def padded(unit: str, size: int) -> bytes:
    """The largest manifest of `unit` characters within `size` bytes."""
    each = len(json.dumps(unit, ensure_ascii=False)[1:-1].encode())  # as the manifest's JSON holds it
    return manifest_of(unit * ((size - len(manifest_of(""))) // each))


@pytest.mark.parametrize("unit", ["é", '"'], ids=["non-ascii", "escaped"])
def test_the_largest_manifest_comes_back_whole(handler, unit):
    """4 MiB of two-byte characters, or of quotes the manifest escapes: as text, the runtime's escaping
    would make either 8 to 12 MB."""
    push_blobs(handler)
    body = padded(unit, MAX_MANIFEST_SIZE)
    assert MAX_MANIFEST_SIZE - 8 <= len(body) <= MAX_MANIFEST_SIZE
    put(handler, "big", body)
    for reference in ("big", sha256(body)):
        response = fits(handler, "GET", f"/v2/{NAME}/manifests/{reference}", headers={"Accept": OCI_MANIFEST})
        assert response.status_code == 200 and response.content == body
        head = fits(handler, "HEAD", f"/v2/{NAME}/manifests/{reference}")
        assert head.headers["content-length"] == str(len(body))


def test_referrers_with_the_largest_annotations_page_by_bytes(handler):
    """30 referrers whose annotations are each the most a referrer may carry (7.7 MB in one page before)."""
    push_blobs(handler)
    subject = manifest_of("subject")
    put(handler, "subject", subject)
    base = len(json.dumps({"pad": ""}))
    quotes = '"' * ((MAX_REFERRER_ANNOTATIONS - base) // 2)  # each escapes to two bytes of JSON
    referrers = set()
    for n in range(30):
        body = manifest_of(quotes[:-n - 1], subject=descriptor(OCI_MANIFEST, subject),
                           artifactType="application/vnd.example+type")
        put(handler, sha256(body), body)
        referrers.add(sha256(body))
    for params in (None, {"artifactType": "application/vnd.example+type"}):
        listed = pages(handler, f"/v2/{NAME}/referrers/{sha256(subject)}", params)
        found = [m["digest"] for page in listed for m in json.loads(page.content)["manifests"]]
        assert sorted(found) == sorted(referrers) and len(listed) > 1


def seed(registry, settings, items: list[dict]) -> None:
    """Write items straight into the table: as many pushes would take minutes on moto."""
    client = registry.storage.blobs.table.client
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={settings.table: [{"PutRequest": {"Item": item}}
                                                               for item in items[start:start + 25]]})


def test_the_longest_tag_list_fits(handler, registry, settings):
    """1,000 tags (a page) of the spec's longest, 128 characters: pushed with tag parameters, then copied."""
    push_blobs(handler)
    body = manifest_of("tags")
    tags = [f"{n:04d}" + "t" * 124 for n in range(1001)]
    put(handler, sha256(body), body, params={"tag": tags[:MAX_TAGS_PER_PUT]})
    item = registry.storage.blobs.table.client.get_item(TableName=settings.table, Key={
        "pk": {"S": keys.repo_pk(NAME)}, "sk": {"S": keys.tag_sk(tags[0])}})["Item"]
    seed(registry, settings, [{**item, "sk": {"S": keys.tag_sk(tag)}} for tag in tags[MAX_TAGS_PER_PUT:]])
    listed = pages(handler, f"/v2/{NAME}/tags/list")
    assert [tag for page in listed for tag in json.loads(page.content)["tags"]] == tags and len(listed) == 2
    assert fits(handler, "GET", f"/v2/{NAME}/manifests/{tags[-1]}").content == body


def test_the_longest_catalog_page_fits(handler, registry, settings):
    """1,000 repositories with names of 255 characters (seeded into the table: a push each would be slow)."""
    names = sorted(f"{n:04d}" + "a" * 251 for n in range(1001))
    seed(registry, settings, [{"pk": {"S": keys.CATALOG_PK}, "sk": {"S": keys.catalog_sk(name)}} for name in names])
    listed = pages(handler, "/v2/_catalog")
    assert [name for page in listed for name in json.loads(page.content)["repositories"]] == names
    assert len(listed) == 2


def test_a_direct_upload_plan_of_the_most_parts_fits(settings, monkeypatch):
    """10,000 parts, with presigned URLs as long as a Lambda role's session token makes them."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjE" + "x" * 1100)
    registry = build_registry(settings, *new_clients(settings.region, settings.endpoint_url))  # with the token
    handler = make_handler(create_app(settings, registry))
    size = 10_000 * 5 * 1024 * 1024
    response = fits(handler, "POST", f"/dockyard/v1/direct/{NAME}/blobs", headers={"Content-Type": "application/json"},
                    body=json.dumps({"digest": sha256(b"big"), "size": size, "multipart": True,
                                     "part_size": 5 * 1024 * 1024}).encode())
    plan = json.loads(response.content)
    assert response.status_code == 200 and "X-Amz-Security-Token" in plan["parts"][0]["url"]
    assert len(plan["parts"]) == plan["max_urls"] == 1000
    numbers = list(range(9001, 10_001))
    more = fits(handler, "POST", f"/dockyard/v1/direct/{NAME}/blobs/{plan['upload']}/parts",
                headers={"Content-Type": "application/json"}, body=json.dumps({"numbers": numbers}).encode())
    assert [part["number"] for part in json.loads(more.content)["parts"]] == numbers


def test_the_keys_listing_pages_by_bytes(handler):
    """Keys with the most rules, of the longest patterns: about 27 KB each."""
    rules = [f"{n:03d}" + "r" * 250 + "/*=pull,push,delete" for n in range(MAX_RULES)]
    for n in range(90):
        created = fits(handler, "POST", "/dockyard/v1/keys", headers={"Content-Type": "application/json"},
                       body=json.dumps({"name": f"k{n}", "allow": rules}).encode())
        assert created.status_code == 201
    listed = pages(handler, "/dockyard/v1/keys")
    assert sum(len(json.loads(page.content)["keys"]) for page in listed) == 90 and len(listed) == 2
