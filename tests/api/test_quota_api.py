"""Storage quotas over the registry API: refusals where bytes would be linked, blobs counted once per
namespace, usage going down with the last link, exact counts under concurrent pushes, counting in what a
namespace held before its quota, and the admin API."""

from __future__ import annotations

import os
import threading
import time

import pytest

from dockyard.storage import keys
from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.oci import sha256
from tests.support.registry import error_code, push_blob, push_image


def quota(client, pattern: str, size: int) -> dict:
    response = client.put(f"/dockyard/v1/quotas/{pattern}", json={"bytes": size})
    assert response.status_code == 200, response.text
    return response.json()["quota"]


def used(client, pattern: str) -> int:
    [found] = [q for q in client.get("/dockyard/v1/quotas").json()["quotas"] if q["pattern"] == pattern]
    return found["used"]


def upload(client, repo: str, data: bytes):
    return client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(data)}, content=data)


def table_items(registry) -> list[dict]:
    table = registry.storage.blobs.table
    return table.client.scan(TableName=table.name, ConsistentRead=True)["Items"]


def test_a_blob_over_the_quota_is_refused_with_used_limit_and_namespace_and_nothing_stays(client):
    quota(client, "team/*", 1000)
    assert upload(client, "team/app", b"a" * 600).status_code == 201
    big = os.urandom(600)
    refused = upload(client, "team/app", big)
    assert refused.status_code == 403 and error_code(refused) == "DENIED"
    error = refused.json()["errors"][0]
    assert error["message"] == (f"quota exceeded in namespace team/*: 600 B of 1000 B used, and blob {sha256(big)} "
                                "of team/app needs 600 B more")
    assert error["detail"] == {"namespace": "team/*", "used": 600, "limit": 1000, "size": 600,
                               "digest": sha256(big), "repository": "team/app"}
    assert client.head(f"/v2/team/app/blobs/{sha256(big)}").status_code == 404
    assert used(client, "team/*") == 600
    # a chunked upload is refused at its last PUT, and its session goes with it
    location = client.post("/v2/team/app/blobs/uploads/").headers["location"]
    assert client.patch(location, content=big).status_code == 202
    assert client.put(location, params={"digest": sha256(big)}).status_code == 403
    assert client.get(location).status_code == 404
    assert upload(client, "other/app", big).status_code == 201  # outside the namespace


def test_a_blob_counts_once_per_namespace_and_leaves_with_its_last_link(client):
    quota(client, "team/*", 10_000)
    quota(client, "*", 100_000)
    shared = b"s" * 1000
    for repo in ("team/a", "team/b"):
        assert upload(client, repo, shared).status_code == 201
    mounted = client.post("/v2/team/c/blobs/uploads/", params={"mount": sha256(shared), "from": "team/a"})
    assert mounted.status_code == 201
    assert upload(client, "other/x", shared).status_code == 201
    assert upload(client, "team/a", b"own" * 10).status_code == 201
    assert upload(client, "team/a", shared).status_code == 201  # linked again: nothing changes
    assert used(client, "team/*") == 1030 and used(client, "*") == 1030
    for repo in ("team/a", "team/b"):
        assert client.delete(f"/v2/{repo}/blobs/{sha256(shared)}").status_code == 202
        assert used(client, "team/*") == 1030  # team/c still links it
    assert client.delete(f"/v2/team/c/blobs/{sha256(shared)}").status_code == 202
    assert used(client, "team/*") == 30 and used(client, "*") == 1030  # other/x still links it


def test_nested_quotas_each_apply(client):
    quota(client, "team/*", 2000)
    quota(client, "team/ml/*", 500)
    assert upload(client, "team/ml/model", b"m" * 600).json()["errors"][0]["detail"]["namespace"] == "team/ml/*"
    assert upload(client, "team/web", b"w" * 1700).status_code == 201
    refused = upload(client, "team/ml/model", b"m" * 400)
    assert refused.json()["errors"][0]["detail"] == {"namespace": "team/*", "used": 1700, "limit": 2000, "size": 400,
                                                    "digest": sha256(b"m" * 400), "repository": "team/ml/model"}


def test_a_mount_over_the_quota_is_refused(client):
    big = b"b" * 800
    assert upload(client, "elsewhere/app", big).status_code == 201
    quota(client, "team/*", 500)
    refused = client.post("/v2/team/app/blobs/uploads/", params={"mount": sha256(big), "from": "elsewhere/app"})
    assert refused.status_code == 403 and "quota exceeded" in refused.json()["errors"][0]["message"]
    assert client.head(f"/v2/team/app/blobs/{sha256(big)}").status_code == 404


def test_concurrent_pushes_that_cross_the_limit_together_stay_exact(client, registry):
    quota(client, "team/*", 10_500)
    blobs = [os.urandom(1000) for _ in range(16)]
    barrier, results = threading.Barrier(len(blobs)), {}

    def push(i: int) -> None:
        barrier.wait()
        results[i] = upload(client, f"team/app{i % 4}", blobs[i]).status_code

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(blobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [201] * 10 + [403] * 6, results
    links = [item for item in table_items(registry) if item["pk"]["S"].startswith(keys.REPO_PREFIX)
             and item["sk"]["S"].startswith(keys.LINK_PREFIX)]
    assert len(links) == 10 and used(client, "team/*") == sum(int(i["size"]["N"]) for i in links) == 10_000


def test_a_new_quota_counts_in_what_the_namespace_held_once_every_instance_knows_it(client, registry):
    push_image(client, "ns/a", "v1", layers=[b"x" * 700, b"y" * 300])
    push_image(client, "ns/b", "v1", layers=[b"x" * 700])
    push_blob(client, "ns/b", b"z" * 50)
    held = {item["sk"]["S"]: int(item["size"]["N"]) for item in table_items(registry)
            if item["pk"]["S"] in ("repo#ns/a", "repo#ns/b") and item["sk"]["S"].startswith(keys.LINK_PREFIX)}
    counting = quota(client, "ns/*", 100_000)
    assert counting["state"] == "counting" and counting["used"] == 0 and counting["count_after"] > time.time()
    assert upload(client, "ns/a", b"new" * 100).status_code == 201  # counted by its own request
    registry.quotas.clock = lambda: time.time() + 3600  # every instance knows the quota by now
    counted = quota(client, "ns/*", 100_000)
    assert counted["state"] == "active"
    assert counted["used"] == sum(held.values()) + 300  # each blob once; none twice
    assert quota(client, "ns/*", 100_000)["used"] == counted["used"]  # counting again changes nothing


def test_a_limit_can_be_raised_or_lowered_and_a_deleted_quota_leaves_nothing(client, registry):
    quota(client, "team/*", 1000)
    assert upload(client, "team/app", b"a" * 900).status_code == 201
    assert upload(client, "team/app", b"b" * 900).status_code == 403
    quota(client, "team/*", 2000)
    assert upload(client, "team/app", b"b" * 900).status_code == 201
    lowered = quota(client, "team/*", 1000)
    assert (lowered["used"], lowered["limit"]) == (1800, 1000)  # what is stored stays
    assert upload(client, "team/app", b"c" * 10).status_code == 403
    deleted = client.delete("/dockyard/v1/quotas/team/*")
    assert deleted.status_code == 200 and deleted.json()["done"] is True
    assert client.get("/dockyard/v1/quotas").json() == {"quotas": []}
    assert not [i for i in table_items(registry) if i["pk"]["S"].startswith("quota")]
    assert upload(client, "team/app", b"c" * 10).status_code == 201
    assert client.delete("/dockyard/v1/quotas/team/*").status_code == 404


@pytest.mark.parametrize("pattern,body", [("Team/*", {"bytes": 10}), ("team/*", {"bytes": 0}),
                                          ("team/*", {"bytes": "50MiB"}), ("team/*", {}),
                                          ("team/*", {"bytes": True})])
def test_bad_quotas_are_refused(client, pattern, body):
    response = client.put(f"/dockyard/v1/quotas/{pattern}", json=body)
    assert response.status_code == 400 and error_code(response) == "UNSUPPORTED"


def test_a_link_under_a_quota_costs_one_batched_read_more_and_a_pull_nothing(client, registry, calls):
    quota(client, "team/*", 1_000_000)
    digest, _ = push_image(client, "team/app", "v1")
    calls.clear()
    assert upload(client, "team/app", b"q" * 100).status_code == 201
    inside = dict(calls)
    calls.clear()
    assert upload(client, "other/app", b"r" * 100).status_code == 201
    assert inside == {**dict(calls), ("dynamodb", "BatchGetItem"): 1}
    assert client.get("/v2/team/app/manifests/v1").status_code == 200  # its hourly pull stamp is written
    registry.blobs.links.clear()
    calls.clear()
    assert client.get("/v2/team/app/manifests/v1").status_code == 200
    assert client.get(f"/v2/team/app/blobs/{sha256(b'q' * 100)}", follow_redirects=False).status_code == 307
    assert dict(calls) == {("dynamodb", "GetItem"): 2}


@pytest.mark.parametrize("method,path", [("GET", "/dockyard/v1/quotas"), ("PUT", "/dockyard/v1/quotas/team/*"),
                                         ("DELETE", "/dockyard/v1/quotas/team/*"), ("GET", "/dockyard/v1/usage")])
def test_admin_api_needs_an_admin(auth_client, method, path):
    assert auth_client.request(method, path, json={"bytes": 10}).status_code == 401
    create = auth_client.post("/dockyard/v1/keys", json={"name": "dev", "allow": ["*=pull,push,delete"]},
                              auth=(ADMIN_ID, ADMIN_SECRET))
    user = (create.json()["id"], create.json()["secret"])
    assert auth_client.request(method, path, json={"bytes": 10}, auth=user).status_code == 403
    assert auth_client.request(method, path, json={"bytes": 10}, auth=(ADMIN_ID, ADMIN_SECRET)).status_code in (200, 404)


def test_quotas_are_bounded_so_that_a_link_fits_one_transaction(client):
    from dockyard.registry.quotas import MAX_QUOTAS

    for i in range(MAX_QUOTAS):
        quota(client, f"many{i}/*", 1000)
    refused = client.put("/dockyard/v1/quotas/one-more/*", json={"bytes": 1000})
    assert refused.status_code == 400 and error_code(refused) == "UNSUPPORTED"
    assert f"at most {MAX_QUOTAS} storage quotas" in refused.json()["errors"][0]["detail"]
    assert quota(client, "many0/*", 2000)["limit"] == 2000  # a limit still changes in place


def test_an_upload_whose_quota_keeps_changing_under_it_is_told_to_retry_and_links_nothing(client, registry, settings):
    """Another writer moves the quota's limit before each of the link's transactions (every attempt's
    charge then fails): after its attempts the upload gets 429 TOOMANYREQUESTS, not a claim that it was
    cancelled, and nothing is linked."""
    from dockyard.storage.aws import make_clients

    quota(client, "team/*", 1_000_000)
    _, other = make_clients(settings)
    rule = {"pk": {"S": keys.QUOTA_PK}, "sk": {"S": keys.rule_sk("team/*")}}

    def move_the_count(**_):
        other.update_item(TableName=settings.table, Key=rule, UpdateExpression="ADD #limit :one",  # a quota set
                          ExpressionAttributeNames={"#limit": "limit"}, ExpressionAttributeValues={":one": {"N": "1"}})

    dynamodb = registry.storage.blobs.table.client
    dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", move_the_count)
    try:
        response = upload(client, "team/app", b"contended")
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.TransactWriteItems", move_the_count)
    assert (response.status_code, error_code(response)) == (429, "TOOMANYREQUESTS")
    assert client.head(f"/v2/team/app/blobs/{sha256(b'contended')}").status_code == 404
    assert upload(client, "team/app", b"contended").status_code == 201  # once the counts keep still
