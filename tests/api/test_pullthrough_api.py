"""The pull-through cache in process, over a loopback CNCF distribution: the admin API, access, limits and
what each request costs in AWS calls."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.auth import basic, bearer, create_key, token_for
from tests.support.oci import OCI_MANIFEST, sha256
from tests.support.registry import error_code, image_manifest
from tests.support.upstreams import Distribution, blob_gets

CONFIG, LAYER = b'{"architecture": "amd64", "os": "linux"}', b"upstream layer " * 1000


def push(upstream: Distribution, repo: str, tag: str, auth=None) -> str:
    with httpx.Client(base_url=upstream.url, auth=auth) as http:
        for data in (CONFIG, LAYER):
            location = httpx.URL(upstream.url).join(http.post(f"/v2/{repo}/blobs/uploads/").headers["location"])
            assert http.put(location.copy_merge_params({"digest": sha256(data)}), content=data).status_code == 201
        body = image_manifest(CONFIG, [LAYER])
        assert http.put(f"/v2/{repo}/manifests/{tag}", content=body,
                        headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    return sha256(body)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    registry = Distribution(tmp_path_factory.mktemp("open"))
    push(registry, "team/app", "v1")
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    registry = Distribution(tmp_path_factory.mktemp("private"), user=("u", "private-pw-77"))
    push(registry, "team/app", "v1", auth=("u", "private-pw-77"))
    yield registry
    registry.stop()


def add(client, name: str, url: str, headers=None, **extra) -> httpx.Response:
    return client.post("/dockyard/v1/upstreams", json={"name": name, "url": url, **extra}, headers=headers or {})


def test_a_registry_holds_a_bounded_number_of_upstreams(client):
    """Every instance reads them all, and the admin API lists them whole: their number is bounded."""
    from dockyard.registry.upstreams import MAX_UPSTREAMS

    for i in range(MAX_UPSTREAMS):
        assert add(client, f"up{i}", f"http://127.0.0.1:{1024 + i}").status_code == 201
    refused = add(client, "one-more", "http://127.0.0.1:9")
    assert (refused.status_code, error_code(refused)) == (400, "UNSUPPORTED")  # our invalid-parameter code
    assert f"at most {MAX_UPSTREAMS} upstreams" in refused.text
    assert add(client, "up0", "http://127.0.0.1:2000").status_code == 201  # one replaced is no one more
    assert client.delete("/dockyard/v1/upstreams/up1").status_code == 200
    assert add(client, "one-more", "http://127.0.0.1:9").status_code == 201
    assert len(client.get("/dockyard/v1/upstreams").json()["upstreams"]) == MAX_UPSTREAMS


def test_upstreams_are_added_listed_and_removed_and_passwords_never_come_back(client, registry, private):
    created = add(client, "private", private.url, username="u", password="private-pw-77")
    assert created.status_code == 201, created.text
    assert created.json()["upstream"] == {**created.json()["upstream"], "name": "private", "credentials": True,
                                          "username": "u", "docker_hub_mirror": False}
    listed = client.get("/dockyard/v1/upstreams")
    assert "private-pw-77" not in listed.text and "secret" not in listed.text
    secrets = registry.storage.credentials.client
    [stored] = secrets.list_secrets(Filters=[{"Key": "name", "Values": [registry.settings.secret_prefix]}])["SecretList"]
    assert json.loads(secrets.get_secret_value(SecretId=stored["ARN"])["SecretString"])["password"] == "private-pw-77"
    assert client.get("/v2/private/team/app/manifests/v1").status_code == 200  # the credentials work
    assert client.delete("/dockyard/v1/upstreams/private").json()["upstream"]["name"] == "private"
    assert client.get("/dockyard/v1/upstreams").json() == {"upstreams": []}
    assert secrets.list_secrets(Filters=[{"Key": "name", "Values": [registry.settings.secret_prefix]}])["SecretList"] == []
    assert client.delete("/dockyard/v1/upstreams/private").status_code == 404


@pytest.mark.parametrize("body", [
    {"name": "Bad", "url": "http://127.0.0.1:1"}, {"name": "a/b", "url": "http://127.0.0.1:1"},
    {"name": "x", "url": "ftp://host"}, {"name": "x", "url": "https://u:p@host"}, {"name": "x", "url": "https://h/p"},
    {"name": "x", "url": "http://registry.example.com", "username": "u", "password": "p"},
    {"name": "x", "url": "https://h", "username": "u"}, {"name": "x", "url": "https://h", "docker_hub_mirror": "yes"},
])
def test_bad_upstreams_are_refused_with_the_spec_error(client, body):
    response = client.post("/dockyard/v1/upstreams", json=body)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "UNSUPPORTED", response.text


def test_there_is_one_docker_hub_mirror_at_most_and_docker_io_names_docker_hub(client):
    assert add(client, "hub", "docker.io", docker_hub_mirror=True).json()["upstream"]["url"] == \
        "https://registry-1.docker.io"
    assert add(client, "other", "https://other.example.com", docker_hub_mirror=True).status_code == 400
    assert add(client, "hub", "https://mirror.example.com", docker_hub_mirror=True).status_code == 201  # replace
    assert add(client, "hub", "https://mirror.example.com").status_code == 201  # no longer the mirror
    assert add(client, "other", "https://other.example.com", docker_hub_mirror=True).status_code == 201


def test_pulls_need_pull_permission_on_the_prefix_and_nobody_pushes_into_it(auth_client, upstream):
    admin = basic(ADMIN_ID, ADMIN_SECRET)
    assert add(auth_client, "dist", upstream.url, admin).status_code == 201
    assert auth_client.get("/v2/dist/team/app/manifests/v1").status_code == 401
    allowed = basic(*create_key(auth_client, admin, "puller", "dist/*=pull"))
    other = basic(*create_key(auth_client, admin, "other", "team/*=pull,push"))
    assert auth_client.get("/v2/dist/team/app/manifests/v1", headers=allowed).status_code == 200
    assert auth_client.get("/v2/dist/team/app/manifests/v1", headers=other).status_code == 403
    pusher = basic(*create_key(auth_client, admin, "pusher", "dist/*=push"))
    for headers in (admin, pusher):
        refused = auth_client.post("/v2/dist/team/app/blobs/uploads/", headers=headers)
        assert refused.status_code == 403 and "pull-through cache" in refused.text
    assert auth_client.put("/dockyard/v1/anonymous", json={"pull": ["dist/*"]}, headers=admin).status_code == 200
    anonymous = bearer(token_for(auth_client, None, None, "repository:dist/team/app:pull")["token"])
    assert auth_client.get("/v2/dist/team/app/blobs/" + sha256(LAYER), headers=anonymous,
                           follow_redirects=False).status_code == 307


def test_a_blob_too_large_for_one_request_is_redirected_upstream_or_refused(settings, upstream, private):
    from fastapi.testclient import TestClient

    from dockyard.app import create_app
    from dockyard.factory import build_registry

    limited = build_registry(dataclasses.replace(settings, fetch_max_bytes=1000))
    with TestClient(create_app(limited.settings, limited), base_url="http://registry.test") as client:
        assert add(client, "dist", upstream.url).status_code == 201
        assert add(client, "private", private.url, username="u", password="private-pw-77").status_code == 201
        redirect = client.get(f"/v2/dist/team/app/blobs/{sha256(LAYER)}", follow_redirects=False)
        assert redirect.status_code == 307
        assert redirect.headers["location"] == f"{upstream.url}/v2/team/app/blobs/{sha256(LAYER)}"
        assert httpx.get(redirect.headers["location"]).content == LAYER
        refused = client.get(f"/v2/private/team/app/blobs/{sha256(LAYER)}", follow_redirects=False)
        assert refused.status_code == 501 and refused.json()["errors"][0]["detail"] == {"size": len(LAYER),
                                                                                         "limit": 1000}
        small = client.get(f"/v2/dist/team/app/blobs/{sha256(CONFIG)}", follow_redirects=False)
        assert small.status_code == 307 and httpx.get(small.headers["location"]).content == CONFIG
        assert client.head(f"/v2/dist/team/app/blobs/{sha256(LAYER)}").headers["content-length"] == str(len(LAYER))


def test_cached_content_costs_what_ordinary_content_costs(client, registry, calls, upstream):
    assert add(client, "dist", upstream.url).status_code == 201
    digest = client.get("/v2/dist/team/app/manifests/v1").headers["docker-content-digest"]
    before = len(upstream.requests())
    assert client.get(f"/v2/dist/team/app/blobs/{sha256(LAYER)}", follow_redirects=False).status_code == 307
    assert len(blob_gets(upstream.requests()[before:])) == 1
    registry.manifests.seen.clear()  # (else answered from what the tag's fetch brought, the manifest unstamped)
    assert client.get(f"/v2/dist/team/app/manifests/{digest}").status_code == 200  # pulls stamped (hourly)
    registry.forget_caches()  # a cold instance: no link, no manifest by digest, no small blob in memory
    registry.upstreams.forget()
    calls.clear()
    assert client.get("/v2/dist/team/app/manifests/v1").headers["docker-content-digest"] == digest
    assert client.get(f"/v2/dist/team/app/manifests/{digest}").status_code == 200
    assert client.get(f"/v2/dist/team/app/blobs/{sha256(LAYER)}", follow_redirects=False).status_code == 307
    assert dict(calls) == {("dynamodb", "GetItem"): 3}  # a tag, a manifest, a link: no configuration read


def test_an_ordinary_miss_reads_the_configuration_once_per_instance(client, calls):
    calls.clear()
    for _ in range(3):
        assert client.get("/v2/team/none/manifests/v1").status_code == 404
    assert calls[("dynamodb", "Query")] == 1 and calls[("dynamodb", "GetItem")] == 3
