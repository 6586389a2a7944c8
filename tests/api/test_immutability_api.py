"""Immutable tags over the registry API: what a rule refuses, what stays allowed, the race of first pushes,
and the admin API."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.oci import OCI_MANIFEST, sha256
from tests.support.registry import error_code, image_manifest, push_blob, push_image

ADMIN = (ADMIN_ID, ADMIN_SECRET)


def rule(client, pattern: str, *mutable: str, **kwargs):
    response = client.put(f"/dockyard/v1/immutability/{pattern}", json={"mutable_tags": list(mutable)}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["rule"]


def put(client, repo: str, tag: str, manifest: bytes):
    return client.put(f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST})


def image(client, repo: str, seed: str) -> bytes:
    config, layer = f'{{"seed": "{seed}"}}'.encode(), seed.encode() * 50
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    return image_manifest(config, [layer])


def test_an_immutable_tag_is_not_moved_and_the_error_names_the_rule(client):
    rule(client, "prod/*", "latest", "dev-*")
    first, second = image(client, "prod/app", "one"), image(client, "prod/app", "two")
    assert put(client, "prod/app", "1.0", first).status_code == 201
    refused = put(client, "prod/app", "1.0", second)
    assert refused.status_code == 403
    error = refused.json()["errors"][0]
    digest = sha256(first)
    assert error["code"] == "DENIED"
    assert error["message"] == (f"tag 1.0 of prod/app is immutable (rule prod/*): it points to {digest} and "
                                "cannot be moved")
    assert error["detail"] == {"repository": "prod/app", "tag": "1.0", "digest": digest, "action": "moved",
                               "rule": "prod/*", "mutable_tags": ["latest", "dev-*"]}
    assert client.get("/v2/prod/app/manifests/1.0").headers["docker-content-digest"] == digest
    assert put(client, "prod/app", "1.0", first).status_code == 201  # the same digest again: idempotent
    for mutable in ("latest", "dev-7"):
        assert put(client, "prod/app", mutable, first).status_code == 201
        assert put(client, "prod/app", mutable, second).status_code == 201  # moved
    assert put(client, "prod/app", "2.0", second).status_code == 201  # a new tag: created


def test_tag_parameters_of_a_push_by_digest_cannot_move_an_immutable_tag(client):
    rule(client, "prod/*", "latest")
    first, second = image(client, "prod/app", "one"), image(client, "prod/app", "two")
    assert put(client, "prod/app", "1.0", first).status_code == 201
    refused = client.put(f"/v2/prod/app/manifests/{sha256(second)}", params=[("tag", "latest"), ("tag", "1.0")],
                         content=second, headers={"Content-Type": OCI_MANIFEST})
    assert refused.status_code == 403 and refused.json()["errors"][0]["detail"]["tag"] == "1.0"
    assert client.get("/v2/prod/app/manifests/1.0").headers["docker-content-digest"] == sha256(first)
    assert client.get("/v2/prod/app/manifests/latest").status_code == 404  # nothing of the refused push
    moved = client.put(f"/v2/prod/app/manifests/{sha256(second)}", params=[("tag", "latest"), ("tag", "2.0")],
                       content=second, headers={"Content-Type": OCI_MANIFEST})
    assert moved.status_code == 201 and moved.headers["oci-tag"] == "latest, 2.0"


def test_an_immutable_tag_is_not_deleted_alone_nor_with_its_manifest(client):
    rule(client, "prod/*")
    digest, _ = push_image(client, "prod/app", "1.0")
    refused = client.delete("/v2/prod/app/manifests/1.0")
    assert refused.status_code == 403 and error_code(refused) == "DENIED"
    assert "cannot be deleted" in refused.json()["errors"][0]["message"]
    refused = client.delete(f"/v2/prod/app/manifests/{digest}")
    assert refused.status_code == 403 and refused.json()["errors"][0]["detail"]["tag"] == "1.0"
    assert client.get("/v2/prod/app/manifests/1.0").status_code == 200
    assert client.delete("/v2/prod/app/manifests/nope").status_code == 404  # a missing tag is still unknown
    assert client.delete("/dockyard/v1/immutability/prod/*").status_code == 200
    assert client.delete("/v2/prod/app/manifests/1.0").status_code == 202  # the rule gone: mutable again


def test_the_most_specific_rule_applies_and_other_repositories_are_untouched(client):
    rule(client, "prod/*")
    rule(client, "prod/sandbox/*", "*")  # everything mutable under it
    for repo in ("prod/sandbox/app", "staging/app"):
        first, second = image(client, repo, "one"), image(client, repo, "two")
        assert put(client, repo, "1.0", first).status_code == 201
        assert put(client, repo, "1.0", second).status_code == 201, repo
    first, second = image(client, "prod/app", "one"), image(client, "prod/app", "two")
    assert put(client, "prod/app", "1.0", first).status_code == 201
    assert put(client, "prod/app", "1.0", second).status_code == 403


def test_a_rule_protects_tags_that_existed_before_it(client):
    first, second = image(client, "prod/app", "one"), image(client, "prod/app", "two")
    assert put(client, "prod/app", "1.0", first).status_code == 201
    rule(client, "prod/*")
    assert put(client, "prod/app", "1.0", second).status_code == 403


def test_concurrent_first_pushes_of_an_immutable_tag_exactly_one_wins_and_it_never_moves(client):
    rule(client, "prod/*")
    manifests = [image(client, "prod/app", f"racer-{i}") for i in range(6)]
    barrier, results = threading.Barrier(len(manifests)), {}

    def race(i: int) -> None:
        barrier.wait()
        results[i] = put(client, "prod/app", "1.0", manifests[i]).status_code

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(manifests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [i for i, status in results.items() if status == 201]
    assert len(winners) == 1 and sorted(results.values()) == [201] + [403] * (len(manifests) - 1), results
    winner = sha256(manifests[winners[0]])
    for manifest in manifests:
        put(client, "prod/app", "1.0", manifest)
    assert client.get("/v2/prod/app/manifests/1.0").headers["docker-content-digest"] == winner


def test_moving_a_tag_reads_the_rules_once_and_a_first_push_does_not(client, calls):
    first, second = image(client, "team/app", "one"), image(client, "team/app", "two")
    calls.clear()
    assert put(client, "team/app", "1.0", first).status_code == 201
    push = {("dynamodb", "BatchGetItem"): 1, ("dynamodb", "TransactWriteItems"): 1,
            ("s3", "GetObject"): 1,  # the config, for the pull hints
            ("dynamodb", "UpdateItem"): 1}  # (the push count)
    assert dict(calls) == push
    calls.clear()
    assert put(client, "team/app", "1.0", second).status_code == 201
    assert dict(calls) == {**push, ("dynamodb", "Query"): 1}


def test_admin_api_lists_replaces_validates_and_deletes_rules(client):
    assert client.get("/dockyard/v1/immutability").json() == {"rules": []}
    rule(client, "prod/*", "latest")
    replaced = rule(client, "prod/*", "latest", "nightly-*", "latest")
    assert replaced["mutable_tags"] == ["latest", "nightly-*"]
    rule(client, "*")
    listed = client.get("/dockyard/v1/immutability").json()["rules"]
    assert [(r["pattern"], r["mutable_tags"]) for r in listed] == [("*", []), ("prod/*", ["latest", "nightly-*"])]
    for pattern, body in (("Prod/*", {}), ("prod/*", {"mutable_tags": "latest"}), ("prod/*", {"mutable_tags": ["a b"]}),
                          ("prod/*", {"mutable_tags": [f"t{i}" for i in range(33)]})):
        response = client.put(f"/dockyard/v1/immutability/{pattern}", json=body)
        assert response.status_code == 400 and error_code(response) == "UNSUPPORTED", (pattern, body)
    assert client.delete("/dockyard/v1/immutability/prod/*").json()["rule"]["pattern"] == "prod/*"
    missing = client.delete("/dockyard/v1/immutability/prod/*")
    assert missing.status_code == 404
    assert [r["pattern"] for r in client.get("/dockyard/v1/immutability").json()["rules"]] == ["*"]


@pytest.mark.parametrize("method,path", [("GET", "/dockyard/v1/immutability"),
                                         ("PUT", "/dockyard/v1/immutability/prod/*"),
                                         ("DELETE", "/dockyard/v1/immutability/prod/*")])
def test_admin_api_needs_an_admin(auth_client, method, path):
    assert auth_client.request(method, path, json={}).status_code == 401
    create = auth_client.post("/dockyard/v1/keys", json={"name": "dev", "allow": ["*=pull,push,delete"]}, auth=ADMIN)
    user = (create.json()["id"], create.json()["secret"])
    assert auth_client.request(method, path, json={}, auth=user).status_code == 403
    assert auth_client.request(method, path, json={}, auth=ADMIN).status_code in (200, 404)
