"""Storage quotas and garbage collection over the registry API: the bytes GC frees leave the namespace's usage
(a deleted image, a retention rule's expired one), a blob another repository of the namespace links stays
counted, and the space GC frees takes a push the quota refused before."""

from __future__ import annotations

from tests.api.test_quota_api import quota, upload, used
from tests.support.gc import run_gc
from tests.support.oci import sha256
from tests.support.registry import error_code, image_config, push_image

SHARED, OWN, OTHER = b"shared layer " * 40, b"own layer " * 50, b"other layer " * 30


def stored(client, repo: str) -> dict:
    [report] = client.get("/dockyard/v1/usage", params={"glob": repo}).json()["repositories"]
    return report["stored"]


def test_gc_freeing_a_deleted_image_lowers_the_namespace_usage(client):
    quota(client, "team/*", 100_000)
    digest, _ = push_image(client, "team/app", "v1", layers=[SHARED, OWN])
    push_image(client, "team/web", "v1", layers=[SHARED])
    config_app, config_web = image_config("v1"), image_config("v1")  # the same config: one blob
    assert config_app == config_web
    held = len(SHARED) + len(OWN) + len(config_app)
    assert used(client, "team/*") == held
    assert client.delete(f"/v2/team/app/manifests/{digest}").status_code == 202
    assert used(client, "team/*") == held  # its links stay until GC collects them
    run = run_gc(client)
    assert run["counts"]["deleted_links"] == 3
    assert used(client, "team/*") == len(SHARED) + len(config_web)  # team/web links them still
    app = stored(client, "team/app")
    assert (app["blobs"], app["blob_bytes"]) == (0, 0)
    assert run_gc(client)["counts"].get("deleted_links", 0) == 0  # nothing is counted out twice
    assert used(client, "team/*") == len(SHARED) + len(config_web)


def test_a_retention_rule_s_expired_image_lowers_the_usage_once_gc_frees_it(client):
    quota(client, "team/*", 100_000)
    push_image(client, "team/app", "v1", layers=[OWN])
    push_image(client, "team/app", "v2", layers=[OTHER])
    assert used(client, "team/*") == len(OWN) + len(OTHER) + len(image_config("v1")) + len(image_config("v2"))
    assert client.put("/dockyard/v1/retention/team/*", json={"keep_last": 1}).status_code == 200
    run = run_gc(client)
    assert run["counts"]["deleted_manifests"] == 1
    assert used(client, "team/*") == len(OTHER) + len(image_config("v2"))
    assert stored(client, "team/app")["blob_bytes"] == len(OTHER) + len(image_config("v2"))


def test_a_push_the_quota_refused_fits_once_gc_freed_the_space(client):
    quota(client, "team/*", len(OWN) + len(image_config("v1")) + 100)
    digest, _ = push_image(client, "team/app", "v1", layers=[OWN])
    refused = upload(client, "team/app", OTHER)
    assert refused.status_code == 403 and error_code(refused) == "DENIED"
    assert refused.json()["errors"][0]["message"].startswith("quota exceeded in namespace team/*: ")
    assert client.head(f"/v2/team/app/blobs/{sha256(OTHER)}").status_code == 404
    assert client.delete(f"/v2/team/app/manifests/{digest}").status_code == 202
    assert upload(client, "team/app", OTHER).status_code == 403  # deleted, not yet collected: still counted
    run_gc(client)
    assert used(client, "team/*") == 0
    assert upload(client, "team/app", OTHER).status_code == 201
    assert used(client, "team/*") == len(OTHER)
