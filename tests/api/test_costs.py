"""AWS calls per registry operation: the unit of the pay-per-pull price (see benchmarks/ for figures)."""

import json

import pytest

from dockyard.domain import mediatypes as mt
from dockyard.domain.digest import Digest
from dockyard.registry.blobs import SMALL_BLOB
from dockyard.registry.hints import CONFIG_HINT
from tests.support.oci import sha256
from tests.support.registry import image_config, image_manifest, push_blob, push_image

LARGE = b"l" * (SMALL_BLOB + 1)  # too large for a warm instance to answer itself: always redirected


@pytest.fixture(autouse=True)
def steady_quotas(registry):
    """The instance keeps the quotas it read for the test's length (else, on a loaded machine, a test that
    outlasts `quota_cache_ttl` reads them again: one Query more)."""
    registry.quotas.ttl = 3600


@pytest.fixture
def image(client):
    return push_image(client, "team/app", "v1", layers=[b"a" * 100, b"b" * 100, b"c" * 100])


@pytest.mark.parametrize("method,reference", [("GET", "v1"), ("GET", "digest"), ("HEAD", "v1"),
                                              ("HEAD", "digest")])
def test_manifest_pull_costs_one_dynamodb_read(client, registry, calls, image, method, reference):
    digest, _ = image
    path = f"/v2/team/app/manifests/{digest if reference == 'digest' else 'v1'}"
    assert client.request(method, path).status_code == 200  # the hour's first pull of this item stamps it
    registry.manifests.seen.clear()  # an instance that has not read it (a warm one reads by digest for free)
    calls.clear()
    response = client.request(method, path)
    assert response.status_code == 200
    assert dict(calls) == {("dynamodb", "GetItem"): 1}


def test_the_first_pull_of_an_item_in_an_hour_costs_one_write_more(client, registry, calls, image):
    digest, _ = image
    # A tag is read on every pull; a manifest by digest once, then from this instance's memory.
    for path, reads in (("/v2/team/app/manifests/v1", 4), (f"/v2/team/app/manifests/{digest}", 1)):
        registry.manifests.seen.clear()  # else the digest is answered from what the tag's read brought
        calls.clear()
        assert client.get(path).status_code == 200
        assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "UpdateItem"): 1}
        for _ in range(3):
            assert client.get(path).status_code == 200
        assert dict(calls) == {("dynamodb", "GetItem"): reads, ("dynamodb", "UpdateItem"): 1}


def test_a_warm_instance_reads_a_manifest_by_digest_it_read_for_free_and_a_tag_never(client, calls, image):
    digest, body = image
    for path in (f"/v2/team/app/manifests/{digest}", "/v2/team/app/manifests/v1"):  # read (and stamped) once
        assert client.get(path).status_code == 200
    calls.clear()
    for method in ("HEAD", "GET", "GET"):
        response = client.request(method, f"/v2/team/app/manifests/{digest}")
        assert response.status_code == 200 and response.headers["docker-content-digest"] == digest
    assert response.content == body
    assert dict(calls) == {}
    assert client.head("/v2/team/app/manifests/v1").status_code == 200
    assert dict(calls) == {("dynamodb", "GetItem"): 1}


def test_a_deleted_manifest_is_forgotten_at_once(client, image):
    digest, _ = image
    assert client.get(f"/v2/team/app/manifests/{digest}").status_code == 200
    assert client.delete(f"/v2/team/app/manifests/{digest}").status_code == 202
    assert client.get(f"/v2/team/app/manifests/{digest}").status_code == 404
    assert client.head(f"/v2/team/app/manifests/{digest}").status_code == 404


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_blob_read_costs_one_dynamodb_read_and_no_s3_call(client, registry, calls, method):
    digest = push_blob(client, "team/app", b"layer")
    registry.blobs.links.clear()  # a cold instance
    calls.clear()
    response = client.request(method, f"/v2/team/app/blobs/{digest}", follow_redirects=False)
    assert response.status_code in (200, 307)
    assert dict(calls) == {("dynamodb", "GetItem"): 1}


def test_a_warm_instance_reads_a_link_it_knows_for_free(client, calls):
    digest = push_blob(client, "team/app", LARGE)  # linked by this instance
    calls.clear()
    for method in ("HEAD", "GET", "GET"):
        assert client.request(method, f"/v2/team/app/blobs/{digest}", follow_redirects=False).status_code in (200, 307)
    assert dict(calls) == {}


def test_a_small_blob_asked_for_again_is_read_once_and_then_answered_from_memory(client, registry, calls):
    config = b'{"architecture": "arm64"}'
    digest = push_blob(client, "team/app", config)  # linked by this instance
    path = f"/v2/team/app/blobs/{digest}"
    calls.clear()
    assert client.get(path, follow_redirects=False).status_code == 307  # asked once: redirected, no call
    assert dict(calls) == {}
    for expected in ({("s3", "GetObject"): 1}, {}):  # asked again: read once; then from memory
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.content) == (200, config)
        assert response.headers["docker-content-digest"] == digest
        assert response.headers["content-length"] == str(len(config))
        assert dict(calls) == expected
        calls.clear()
    assert client.get(path, headers={"Range": "bytes=0-3"}, follow_redirects=False).status_code == 307  # a range: S3's
    registry.blobs.links.clear()  # the link is read again (its time to live is over); the bytes stay
    assert client.get(path, follow_redirects=False).content == config
    assert dict(calls) == {("dynamodb", "GetItem"): 1}
    assert client.get(f"/v2/team/other/blobs/{digest}", follow_redirects=False).status_code == 404  # not linked there
    assert client.delete(path).status_code == 202
    assert client.get(path, follow_redirects=False).status_code == 404


@pytest.mark.parametrize("client_kind", ["skopeo", "docker"])
def test_an_instance_that_reads_an_image_pulls_its_blobs_with_no_call_and_answers_its_config(client, registry, calls,
                                                                                           image, client_kind):
    """The pull hints (registry.hints): a manifest's read tells the instance where its blobs are linked and
    what its config holds. skopeo GETs by tag; docker HEADs the tag, then GETs by digest."""
    digest, body = image
    assert client.get("/v2/team/app/manifests/v1").status_code == 200  # the hour's pull stamps
    manifest = json.loads(body)
    registry.forget_caches()
    calls.clear()
    if client_kind == "docker":
        assert client.head("/v2/team/app/manifests/v1").status_code == 200
        response = client.get(f"/v2/team/app/manifests/{digest}")
    else:
        response = client.get("/v2/team/app/manifests/v1")
    assert (response.status_code, response.content) == (200, body)
    assert dict(calls) == {("dynamodb", "GetItem"): 1}
    calls.clear()
    config = client.get(f"/v2/team/app/blobs/{manifest['config']['digest']}", follow_redirects=False)
    assert (config.status_code, config.content) == (200, image_config("v1"))
    for layer in manifest["layers"]:
        redirect = client.get(f"/v2/team/app/blobs/{layer['digest']}", follow_redirects=False)
        assert redirect.status_code == 307
        assert client.head(f"/v2/team/app/blobs/{layer['digest']}").headers["content-length"] == str(layer["size"])
    assert dict(calls) == {}
    assert client.get(f"/v2/team/other/blobs/{manifest['config']['digest']}").status_code == 404  # not linked there


def test_a_config_too_large_to_travel_with_its_manifest_is_not_read_by_the_push(client, registry, calls):
    config, layer = b"{" + b" " * CONFIG_HINT + b"}", b"layer"
    for blob in (config, layer):
        push_blob(client, "team/app", blob)
    calls.clear()
    body = image_manifest(config, [layer])
    assert client.put("/v2/team/app/manifests/v1", content=body,
                      headers={"Content-Type": mt.OCI_MANIFEST}).status_code == 201
    assert ("s3", "GetObject") not in calls
    registry.forget_caches()
    assert client.get("/v2/team/app/manifests/v1").status_code == 200
    calls.clear()
    for blob in (config, layer):  # both linked as the hints say: redirected with no call
        assert client.get(f"/v2/team/app/blobs/{sha256(blob)}", follow_redirects=False).status_code == 307
    assert dict(calls) == {}


def test_a_push_whose_config_cannot_be_read_goes_without_it(client, registry, calls):
    """The hints are an optimization: a push never fails for them (here the config's bytes are gone from S3)."""
    config, layer = b'{"os": "linux"}', b"layer"
    for blob in (config, layer):
        push_blob(client, "team/app", blob)
    objects = registry.storage.objects
    objects.client.delete_object(Bucket=objects.bucket,
                                 Key=registry.storage.blobs.get_link("team/app", Digest.parse(sha256(config))).location)
    assert client.put("/v2/team/app/manifests/v1", content=image_manifest(config, [layer]),
                      headers={"Content-Type": mt.OCI_MANIFEST}).status_code == 201
    registry.forget_caches()
    assert client.get("/v2/team/app/manifests/v1").status_code == 200
    calls.clear()
    assert client.get(f"/v2/team/app/blobs/{sha256(config)}", follow_redirects=False).status_code == 307
    assert dict(calls) == {}  # its link still known from the hints


def test_an_unlinked_blob_is_forgotten_at_once(client):
    digest = push_blob(client, "team/app", b"layer")
    assert client.head(f"/v2/team/app/blobs/{digest}").status_code == 200
    assert client.delete(f"/v2/team/app/blobs/{digest}").status_code == 202
    assert client.head(f"/v2/team/app/blobs/{digest}").status_code == 404


def test_a_link_collected_elsewhere_is_forgotten_once_a_manifest_put_finds_it_missing(client, registry):
    config, layer = b"{}", b"collected layer"
    for blob in (config, layer):
        push_blob(client, "team/app", blob)  # linked by this instance: in its memory
    registry.storage.blobs.unlink_blob("team/app", Digest.parse(sha256(layer)))  # as GC on another instance
    path = f"/v2/team/app/blobs/{sha256(layer)}"
    assert client.head(path).status_code == 200  # this instance still remembers it (for its TTL at most)
    manifest = image_manifest(config, [layer])
    put = client.put("/v2/team/app/manifests/v1", content=manifest, headers={"Content-Type": mt.OCI_MANIFEST})
    assert put.status_code == 400 and put.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert client.head(path).status_code == 404  # the client's retry sees it missing, and uploads it again
    push_blob(client, "team/app", layer)
    assert client.put("/v2/team/app/manifests/v1", content=manifest,
                      headers={"Content-Type": mt.OCI_MANIFEST}).status_code == 201


def test_manifest_put_costs_one_batched_read_its_config_one_transaction_and_its_push_count(client, calls):
    config, layers = b"{}", [bytes([i]) * 10 for i in range(5)]
    for blob in [config, *layers]:
        push_blob(client, "team/app", blob)
    body = image_manifest(config, layers)
    calls.clear()
    response = client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": mt.OCI_MANIFEST})
    assert response.status_code == 201
    assert dict(calls) == {("dynamodb", "BatchGetItem"): 1, ("dynamodb", "TransactWriteItems"): 1,
                           ("s3", "GetObject"): 1,  # the config's bytes, for the pull hints (registry.hints)
                           ("dynamodb", "UpdateItem"): 1}  # the repository's push count of the day


def test_tag_page_costs_one_query(client, calls):
    for tag in ("a", "b", "c"):
        push_image(client, "team/app", tag)
    calls.clear()
    assert client.get("/v2/team/app/tags/list", params={"n": 2}).status_code == 200
    assert dict(calls) == {("dynamodb", "Query"): 1}


EDGE_URL, EDGE_KEY_ID = "https://d111111abcdef8.cloudfront.net", "K2JCJMDEHXQW5F"


@pytest.fixture
def edge(settings, calls):
    """A registry with edge downloads on (its key in moto's Secrets Manager, its reads counted), and the
    public key."""
    import dataclasses

    from fastapi.testclient import TestClient

    from dockyard.app import create_app
    from dockyard.factory import build_registry
    from dockyard.storage.aws import new_clients, secrets_client
    from dockyard.storage.edge import generate_key

    private, public = generate_key()
    secrets = secrets_client(settings)
    secret = secrets.create_secret(Name=f"{settings.bucket}-edge", SecretString=private)["ARN"]
    edged = dataclasses.replace(settings, edge_url=EDGE_URL, edge_key_id=EDGE_KEY_ID, edge_key_secret=secret)
    s3, dynamodb = new_clients(settings.region, settings.endpoint_url)
    calls.attach(s3)
    calls.attach(dynamodb)

    def count(model, **_):
        calls.update([("secretsmanager", model.name)])

    secrets.meta.events.register("before-call.*.*", count)  # the shared client: unregistered below
    registry = build_registry(edged, s3, dynamodb)
    with TestClient(create_app(edged, registry), base_url="http://registry.test") as client:
        yield client, registry, public
    secrets.meta.events.unregister("before-call.*.*", count)


def test_an_edge_blob_get_costs_one_read_and_the_signing_key_once_per_instance(edge, calls):
    from tests.support.edge import verify_signed_url

    client, registry, public = edge
    digests = [push_blob(client, "team/app", data) for data in (LARGE + b"1", LARGE + b"2")]
    for number, digest in enumerate(digests):
        registry.blobs.links.clear()  # a cold link cache: the link is read
        calls.clear()
        response = client.get(f"/v2/team/app/blobs/{digest}", follow_redirects=False)
        assert response.status_code == 307
        assert verify_signed_url(response.headers["location"], public, EDGE_KEY_ID).startswith("/sha256/")
        key_read = {("secretsmanager", "GetSecretValue"): 1} if number == 0 else {}
        assert dict(calls) == {("dynamodb", "GetItem"): 1, **key_read}
    calls.clear()
    assert client.get(f"/v2/team/app/blobs/{digests[1]}", follow_redirects=False).status_code == 307
    assert dict(calls) == {}  # a warm instance: no call at all


@pytest.fixture
def transaction_items(registry):
    """The number of items of each TransactWriteItems call (each costs two write units per KB)."""
    sizes: list[int] = []
    client = registry.storage.blobs.table.client
    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems",
                                lambda params, **_: sizes.append(len(params["TransactItems"])))
    return sizes


def test_pushing_a_new_blob_writes_its_link_and_record_in_one_transaction(client, calls, transaction_items):
    push_blob(client, "team/app", b"a first blob")  # a warm instance (it read its pull-through settings)
    calls.clear()
    transaction_items.clear()
    push_blob(client, "team/app", b"new blob")
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("s3", "PutObject"): 1, ("dynamodb", "TransactWriteItems"): 1}
    assert transaction_items == [2]  # the link, and the record counting it


def test_pushing_a_blob_the_registry_has_counts_one_more_link_on_its_record(client, calls, transaction_items):
    push_blob(client, "team/app", b"known blob")
    calls.clear()
    transaction_items.clear()
    push_blob(client, "team/other", b"known blob")
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("s3", "HeadObject"): 1, ("dynamodb", "TransactWriteItems"): 1}
    assert transaction_items == [2]
    calls.clear()
    transaction_items.clear()
    response = client.post("/v2/team/third/blobs/uploads/", params={"mount": sha256(b"known blob"), "from": "team/app"})
    assert response.status_code == 201
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "TransactWriteItems"): 1}
    assert transaction_items == [2]


def test_pushing_again_a_blob_whose_bytes_were_lost_moves_its_link_and_clears_the_hints_naming_it(
        client, registry, settings, calls, transaction_items):
    """The hints of the manifest and its tag that named where the layer was go (dockyard.storage.dynamo.hints):
    one Query per prefix (manifests, tags), one UpdateItem per item, and one for the link's mark."""
    layer = b"a layer whose bytes went missing"
    push_image(client, "team/app", "v1", layers=[layer])
    s3 = registry.storage.objects.client
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket, Prefix="blobs/")["Contents"]
             if o["Size"] == len(layer)]
    s3.delete_object(Bucket=settings.bucket, Key=key)
    calls.clear()
    transaction_items.clear()
    push_blob(client, "team/app", layer)
    assert dict(calls) == {("dynamodb", "GetItem"): 2,  # the record (and its bytes found gone), then the link
                           ("s3", "HeadObject"): 1, ("s3", "PutObject"): 1,
                           ("dynamodb", "TransactWriteItems"): 2,  # the link found there; then moved with its record
                           ("dynamodb", "Query"): 2, ("dynamodb", "UpdateItem"): 3}
    assert transaction_items == [2, 2]


def test_a_stored_manifest_pushed_again_checks_each_link_its_hints_name(client, registry, calls, transaction_items):
    """A push of a stored manifest (a new tag, say) writes hints too: each link they name is checked in its
    transaction, so that none names a location a link left after the push read it. Its config comes with the
    stored manifest's hints: not read from S3 again."""
    digest, body = push_image(client, "team/app", "v1", layers=[b"a" * 100, b"b" * 100])
    calls.clear()
    transaction_items.clear()
    response = client.put("/v2/team/app/manifests/v2", content=body, headers={"Content-Type": mt.OCI_MANIFEST})
    assert response.status_code == 201
    assert dict(calls) == {("dynamodb", "BatchGetItem"): 1, ("dynamodb", "TransactWriteItems"): 1,
                           ("dynamodb", "UpdateItem"): 1}  # and the push count
    assert transaction_items == [2 + 3]  # the manifest's item and the new tag's, and a check of each of 3 links
    assert registry.storage.manifests.get_tag("team/app", "v2").hints.config == image_config("v1")


def test_a_new_manifest_counts_itself_on_each_of_its_blobs_in_its_transaction(client, calls, transaction_items):
    config, layers = b"{}", [bytes([i]) * 10 for i in range(5)]
    for blob in [config, *layers]:
        push_blob(client, "team/app", blob)
    body = image_manifest(config, layers)
    transaction_items.clear()
    assert client.put("/v2/team/app/manifests/v1", content=body, headers={"Content-Type": mt.OCI_MANIFEST}).status_code == 201
    assert client.put("/v2/team/app/manifests/v2", content=body, headers={"Content-Type": mt.OCI_MANIFEST}).status_code == 201
    # New: the manifest, its tag, the catalog entry and its 6 links; known already: the manifest and the tag,
    # and a check of each link its pull hints name.
    assert transaction_items == [9, 2 + 6]


def test_deleting_content_costs_one_read_and_one_transaction(client, calls, transaction_items):
    digest, _ = push_image(client, "team/app", "v1", layers=[b"a" * 100, b"b" * 100])
    calls.clear()
    transaction_items.clear()
    assert client.delete(f"/v2/team/app/manifests/{digest}").status_code == 202
    # The immutability rules are read (one query) because a tag goes with the manifest.
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "Query"): 1, ("dynamodb", "TransactWriteItems"): 1}
    assert transaction_items == [5]  # the manifest, its tag, its 3 links
    calls.clear()
    transaction_items.clear()
    assert client.delete(f"/v2/team/app/blobs/{sha256(b'a' * 100)}").status_code == 202
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "TransactWriteItems"): 1}
    assert transaction_items == [2]  # the link, and its record
def test_an_instance_reads_the_quotas_again_every_few_seconds(client, registry, calls, transaction_items):
    push_blob(client, "team/app", b"warm")  # this instance has read the quotas (none)
    calls.clear()
    registry.quotas.forget()  # read again every few seconds (`quota_cache_ttl`)
    transaction_items.clear()
    push_blob(client, "team/app", b"other")
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("s3", "PutObject"): 1, ("dynamodb", "TransactWriteItems"): 1,
                           ("dynamodb", "Query"): 1}
    assert transaction_items == [2]


def test_a_link_under_a_quota_reads_its_counts_once_more_and_writes_two_items_more(client, registry, calls,
                                                                                   transaction_items):
    assert client.put("/dockyard/v1/quotas/team/*", json={"bytes": 10 ** 6}).status_code == 200
    push_blob(client, "team/app", b"warm")
    calls.clear()
    transaction_items.clear()
    push_blob(client, "team/app", b"layer")
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("s3", "PutObject"): 1, ("dynamodb", "TransactWriteItems"): 1,
                           ("dynamodb", "BatchGetItem"): 1}
    assert transaction_items == [4]  # the link, its record, the blob's membership of the namespace, `used`
    calls.clear()
    transaction_items.clear()
    push_blob(client, "team/other", b"layer")  # in the namespace already: its membership counts one link more
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("s3", "HeadObject"): 1, ("dynamodb", "TransactWriteItems"): 1,
                           ("dynamodb", "BatchGetItem"): 1}
    assert transaction_items == [3]


def test_deleting_a_blob_under_a_quota_counts_it_out_in_its_transaction(client, registry, calls, transaction_items):
    assert client.put("/dockyard/v1/quotas/team/*", json={"bytes": 10 ** 6}).status_code == 200
    push_blob(client, "team/app", b"layer")
    calls.clear()
    transaction_items.clear()
    assert client.delete(f"/v2/team/app/blobs/{sha256(b'layer')}").status_code == 202
    # The link's read names the quotas that counted it; one batched read of their memberships.
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "BatchGetItem"): 1,
                           ("dynamodb", "TransactWriteItems"): 1}
    assert transaction_items == [4]  # the link, its record, the membership's delete, `used`


def test_pulls_are_metered_in_memory_and_written_in_batches(client, registry, calls, image):
    digest = push_blob(client, "team/app", b"layer")
    assert client.get("/v2/team/app/manifests/v1").status_code == 200  # its hourly pull stamp is written
    registry.blobs.links.clear()
    registry.meter.flush()
    calls.clear()
    assert client.get("/v2/team/app/manifests/v1").status_code == 200
    assert client.get(f"/v2/team/app/blobs/{digest}", follow_redirects=False).status_code == 307
    assert dict(calls) == {("dynamodb", "GetItem"): 2}  # counted, not written
    registry.meter.interval = 0  # the batch is due: the next manifest GET writes it
    calls.clear()
    assert client.get("/v2/team/app/manifests/v1").status_code == 200
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "UpdateItem"): 1}


def test_gc_collecting_a_link_reads_it_and_counts_it_out_in_one_transaction(client, registry, calls,
                                                                            transaction_items):
    from dockyard.domain.digest import Digest

    digest = Digest.parse(push_blob(client, "team/app", b"plain"))
    state = registry.storage.collector.link_state("team/app", digest)
    calls.clear()
    transaction_items.clear()
    assert registry.storage.collector.collect_link("team/app", digest, state.since, state.since + 1)
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "TransactWriteItems"): 1}
    assert transaction_items == [2]  # the link, its record
    assert client.put("/dockyard/v1/quotas/team/*", json={"bytes": 10 ** 6}).status_code == 200
    digest = Digest.parse(push_blob(client, "team/app", b"counted"))
    state = registry.storage.collector.link_state("team/app", digest)
    calls.clear()
    transaction_items.clear()
    assert registry.storage.collector.collect_link("team/app", digest, state.since, state.since + 1)
    # Under a quota: its membership is read (one batched read) and counted out with the link.
    assert dict(calls) == {("dynamodb", "GetItem"): 1, ("dynamodb", "BatchGetItem"): 1,
                           ("dynamodb", "TransactWriteItems"): 1}
    assert transaction_items == [4]  # the link, its record, the membership's delete, `used`
