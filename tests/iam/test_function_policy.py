"""Every registry path, over HTTP, run as an IAM user that holds exactly the registry function's role policy
from the synthesized template, on moto with IAM access control enforced.

How far moto enforces IAM (moto 5.2.5; see `tests.support.iam_moto` and `test_moto_enforcement.py`):
S3 actions and object/bucket ARNs, and signatures, are enforced; DynamoDB and Secrets Manager actions are
enforced, their resources are not (the harness checks them against this test's table and secrets itself);
conditions are not evaluated; presigned requests are authorized as their signer by the harness; and a
missing key is 404 whatever the policy. So the ListBucket rule of real S3 (403 for a missing key without
it) is covered by `tests/unit/test_s3_missing_keys.py` with a botocore Stubber, and by the stack test that
the grant has no condition.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.support.auth import basic, bearer
from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Layout, descriptor, random_layer, sha256
from tests.support.processes import skopeo, verify_layout

MIB = 1024 * 1024


def push_monolithic(http, auth, name: str, data: bytes) -> str:
    digest = sha256(data)
    response = http.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data, headers=auth)
    assert response.status_code == 201, response.text
    return digest


def push_manifest(http, auth, name: str, tag: str, config: bytes, layers: list[bytes]) -> str:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                           "layers": [descriptor(OCI_LAYER, layer) for layer in layers]}).encode()
    response = http.put(f"/v2/{name}/manifests/{tag}", content=manifest,
                        headers={**auth, "Content-Type": OCI_MANIFEST})
    assert response.status_code == 201, response.text
    return sha256(manifest)


def pull_blob(http, auth, name: str, digest: str) -> bytes:
    redirect = http.get(f"/v2/{name}/blobs/{digest}", headers=auth)
    if redirect.status_code == 200:  # a config the function answers itself (its manifest's pull hints)
        return redirect.content
    assert redirect.status_code == 307, redirect.text
    fetched = httpx.get(redirect.headers["location"], timeout=60)  # presigned, signed by the function's user
    assert fetched.status_code == 200, fetched.text
    return fetched.content


def test_admin_api_with_the_bootstrap_key(http, admin):
    created = http.post("/dockyard/v1/keys", json={"name": "tmp", "allow": ["team/*=pull"]}, headers=admin)
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    listed = http.get("/dockyard/v1/keys", headers=admin)
    assert listed.status_code == 200 and key_id in listed.text
    assert http.delete(f"/dockyard/v1/keys/{key_id}", headers=admin).status_code in (200, 204)
    assert http.put("/dockyard/v1/anonymous", json={"pull": ["public/*"]}, headers=admin).status_code in (200, 204)
    anonymous = http.get("/token", params={"service": "dockyard", "scope": "repository:public/x:pull"})
    assert anonymous.status_code == 200, anonymous.text
    listed = http.get("/v2/public/x/tags/list", headers=bearer(anonymous.json()["token"]))
    assert listed.status_code == 404 and listed.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_token_flow(http, pusher):
    challenge = http.get("/v2/")
    assert challenge.status_code == 401
    token = http.get("/token", params={"service": "dockyard", "scope": "repository:team/app:pull,push"},
                     headers=basic(*pusher))
    assert token.status_code == 200, token.text
    assert http.get("/v2/", headers=bearer(token.json()["token"])).status_code == 200


def test_monolithic_push_pull_list_and_delete(http, auth):
    config, layer = b'{"architecture": "arm64", "os": "linux"}', os.urandom(3000)
    for blob in (config, layer):
        push_monolithic(http, auth, "team/mono", blob)
    digest = push_manifest(http, auth, "team/mono", "v1", config, [layer])
    assert http.head(f"/v2/team/mono/manifests/v1", headers=auth).headers["docker-content-digest"] == digest
    assert http.get(f"/v2/team/mono/manifests/{digest}", headers=auth).status_code == 200
    assert pull_blob(http, auth, "team/mono", sha256(layer)) == layer
    assert http.get("/v2/team/mono/tags/list", headers=auth).json()["tags"] == ["v1"]
    assert "team/mono" in http.get("/v2/_catalog", headers=auth).json()["repositories"]
    assert http.get(f"/v2/team/mono/referrers/{digest}", headers=auth).status_code == 200
    # delete: a tag, then the manifest, then a blob link
    push_manifest(http, auth, "team/mono", "v2", config, [layer])
    assert http.delete("/v2/team/mono/manifests/v2", headers=auth).status_code == 202
    assert http.delete(f"/v2/team/mono/manifests/{digest}", headers=auth).status_code == 202
    assert http.delete(f"/v2/team/mono/blobs/{sha256(layer)}", headers=auth).status_code == 202
    assert http.get(f"/v2/team/mono/manifests/v1", headers=auth).status_code == 404


def test_chunked_push_through_a_multipart_upload_and_tails(http, auth):
    """4 MB chunks under Lambda's cap: the first waits in a tail, the second joins it into a part."""
    data = os.urandom(9 * MIB)
    started = http.post("/v2/team/chunked/blobs/uploads/", headers=auth)
    assert started.status_code == 202, started.text
    location, offset = started.headers["location"], 0
    for size in (4 * MIB, 4 * MIB):
        chunk = data[offset:offset + size]
        response = http.patch(location, content=chunk, headers={
            **auth, "Content-Range": f"{offset}-{offset + size - 1}", "Content-Type": "application/octet-stream"})
        assert response.status_code == 202, response.text
        location, offset = response.headers["location"], offset + size
    done = http.put(location, params={"digest": sha256(data)}, content=data[offset:],
                    headers={**auth, "Content-Range": f"{offset}-{len(data) - 1}",
                             "Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    assert hashlib.sha256(pull_blob(http, auth, "team/chunked", sha256(data))).hexdigest() == sha256(data)[7:]


def test_a_cancelled_upload_leaves_nothing(http, auth):
    started = http.post("/v2/team/cancel/blobs/uploads/", headers=auth)
    location = started.headers["location"]
    patched = http.patch(location, content=os.urandom(MIB), headers={**auth, "Content-Range": f"0-{MIB - 1}"})
    assert patched.status_code == 202, patched.text
    assert http.delete(patched.headers["location"], headers=auth).status_code == 204


def _dockyard_push(registry, pusher, layout, destination: str, *extra: str) -> None:
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", "push", f"oci:{layout}:v1",
                             f"{registry.host}/{destination}", "--creds", ":".join(pusher), "--insecure", *extra],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("mode", ["single", "multipart"])
def test_direct_push_with_dockyard_push_then_pull_with_skopeo(registry, pusher, tmp_path, mode):
    layout = Layout(tmp_path / "src")
    layer = random_layer(11 * MIB if mode == "multipart" else 2 * MIB)
    desc, _ = layout.image([layer, random_layer(1000)])
    layout.tag(desc, "v1")
    extra = ["--multipart-above", "5m", "--part-size", "5m"] if mode == "multipart" else []
    _dockyard_push(registry, pusher, tmp_path / "src", f"team/direct-{mode}:v1", *extra)
    skopeo("copy", "--src-tls-verify=false", "--src-creds", ":".join(pusher),
           f"docker://{registry.host}/team/direct-{mode}:v1", f"oci:{tmp_path / 'pulled'}:v1")
    pulled = tmp_path / "pulled" / "blobs" / "sha256" / sha256(layer[0]).split(":")[1]
    verify_layout(tmp_path / "pulled")
    assert pulled.read_bytes() == layer[0]


def test_skopeo_push_and_pull(registry, pusher, tmp_path):
    layout = Layout(tmp_path / "src")
    desc, _ = layout.image([random_layer(3 * MIB), random_layer(100)])
    layout.tag(desc, "v1")
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", ":".join(pusher), f"oci:{tmp_path / 'src'}:v1",
           f"docker://{registry.host}/team/skopeo:v1")
    skopeo("copy", "--src-tls-verify=false", "--src-creds", ":".join(pusher),
           f"docker://{registry.host}/team/skopeo:v1", f"oci:{tmp_path / 'pulled'}:v1")
    verify_layout(tmp_path / "pulled")


def test_pull_through_an_upstream_with_credentials(http, admin, auth, tmp_path_factory):
    """Upstream credentials made, read and deleted in Secrets Manager; a blob fetched into S3 under a claim."""
    from tests.support.upstreams import Distribution

    upstream = Distribution(tmp_path_factory.mktemp("upstream"), user=("u", "iam-upstream-pw"))
    try:
        config, layer = b'{"architecture": "arm64", "os": "linux"}', os.urandom(7 * MIB)
        with httpx.Client(base_url=upstream.url, auth=("u", "iam-upstream-pw"), timeout=60) as up:
            for blob in (config, layer):
                location = httpx.URL(upstream.url).join(up.post("/v2/team/app/blobs/uploads/").headers["location"])
                assert up.put(location.copy_merge_params({"digest": sha256(blob)}), content=blob).status_code == 201
            manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                   "config": descriptor(OCI_CONFIG, config),
                                   "layers": [descriptor(OCI_LAYER, layer)]}).encode()
            assert up.put("/v2/team/app/manifests/v1", content=manifest,
                          headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        added = http.post("/dockyard/v1/upstreams", headers=admin, json={
            "name": "up", "url": upstream.url, "username": "u", "password": "iam-upstream-pw"})
        assert added.status_code == 201, added.text
        pulled = http.get("/v2/up/team/app/manifests/v1", headers=auth)
        assert pulled.status_code == 200, pulled.text
        assert pulled.content == manifest
        assert pull_blob(http, auth, "up/team/app", sha256(layer)) == layer  # multipart, 6 MiB parts
        assert pull_blob(http, auth, "up/team/app", sha256(config)) == config
        assert http.delete("/dockyard/v1/upstreams/up", headers=admin).status_code == 200
    finally:
        upstream.stop()


def test_governance_rules_and_refusals(http, admin, auth):
    rule = http.put("/dockyard/v1/immutability/locked/*", json={"mutable_tags": ["latest"]}, headers=admin)
    assert rule.status_code == 200, rule.text
    assert http.get("/dockyard/v1/immutability", headers=admin).json()["rules"][0]["pattern"] == "locked/*"
    config, one, two = b'{"os": "linux"}', os.urandom(1000), os.urandom(1000)
    for blob in (config, one, two):
        push_monolithic(http, auth, "locked/app", blob)
    push_manifest(http, auth, "locked/app", "1.0", config, [one])
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                           "layers": [descriptor(OCI_LAYER, two)]}).encode()
    moved = http.put("/v2/locked/app/manifests/1.0", content=manifest, headers={**auth, "Content-Type": OCI_MANIFEST})
    assert moved.status_code == 403 and "immutable" in moved.json()["errors"][0]["message"]
    assert http.delete("/v2/locked/app/manifests/1.0", headers=auth).status_code == 403
    assert http.delete("/dockyard/v1/immutability/locked/*", headers=admin).status_code == 200


def test_quotas_usage_and_metering(http, admin, auth):
    """A quota counted in, charged by links and refunded by a DELETE; usage counters written and reported."""
    created = http.put("/dockyard/v1/quotas/quota/*", json={"bytes": 5000}, headers=admin)
    assert created.status_code == 200 and created.json()["quota"]["state"] in ("counting", "active"), created.text
    config, small, large = b'{"os": "linux"}', os.urandom(1000), os.urandom(6000)
    for blob in (config, small):
        push_monolithic(http, auth, "quota/app", blob)
    refused = http.post("/v2/quota/app/blobs/uploads/", params={"digest": sha256(large)}, content=large, headers=auth)
    assert refused.status_code == 403 and "quota exceeded" in refused.text
    push_manifest(http, auth, "quota/app", "v1", config, [small])
    assert http.get("/v2/quota/app/manifests/v1", headers=auth).status_code == 200
    extra = push_monolithic(http, auth, "quota/app", os.urandom(500))
    assert http.delete(f"/v2/quota/app/blobs/{extra}", headers=auth).status_code == 202
    [quota] = http.get("/dockyard/v1/quotas", headers=admin).json()["quotas"]
    assert quota["used"] == len(config) + len(small)
    report = http.get("/dockyard/v1/usage", params={"glob": "quota/*"}, headers=admin)
    assert report.status_code == 200, report.text
    [repo] = report.json()["repositories"]
    assert repo["stored"]["blob_bytes"] == len(config) + len(small) and repo["activity"]["pushes"] == 1
    assert repo["activity"]["pulls"] == 1  # counted in memory; the report writes them first
    assert http.delete("/dockyard/v1/quotas/quota/*", headers=admin).json()["done"] is True
