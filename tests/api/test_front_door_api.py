"""The front door, as the function sees it: the origin header CloudFront must send, the limit on blobs sent
in parts (their completion must fit in one invocation), and the push client polling a completion that
outlives the front door's timeout."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from fastapi.testclient import TestClient

from dockyard.app import create_app
from dockyard.factory import build_registry
from dockyard.resources import ORIGIN_HEADER
from tests.support.oci import sha256
from tests.support.registry import error_code

MIB = 1024 * 1024


@pytest.fixture
def origin(settings):
    from dockyard.storage.aws import secrets_client

    secret_id = f"{settings.bucket}-origin"
    secrets_client(settings).create_secret(Name=secret_id, SecretString="s3cr3t-origin-value")
    fronted = dataclasses.replace(settings, origin_secret=secret_id)
    with TestClient(create_app(fronted, build_registry(fronted)), base_url="http://registry.test") as client:
        yield client, secret_id


def test_without_the_origin_header_every_path_is_refused(origin):
    client, _ = origin
    for method, path in (("GET", "/v2/"), ("GET", "/token"), ("POST", "/v2/a/blobs/uploads/"),
                         ("GET", "/v2/_catalog"), ("HEAD", "/v2/a/manifests/v1")):
        for headers in ({}, {ORIGIN_HEADER: "wrong"}, {ORIGIN_HEADER: ""}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 403, (method, path, headers)
            if method != "HEAD":
                assert error_code(response) == "DENIED"


def test_with_the_origin_header_requests_go_through(origin):
    client, _ = origin
    response = client.get("/v2/", headers={ORIGIN_HEADER: "s3cr3t-origin-value"})
    assert response.status_code == 200
    data = b"through the front door"
    pushed = client.post("/v2/a/blobs/uploads/", params={"digest": sha256(data)}, content=data,
                         headers={ORIGIN_HEADER: "s3cr3t-origin-value"})
    assert pushed.status_code == 201


def test_a_new_origin_value_reaches_a_warm_instance(origin, settings, monkeypatch):
    from dockyard import origin as module
    from dockyard.storage.aws import secrets_client

    client, secret_id = origin
    assert client.get("/v2/", headers={ORIGIN_HEADER: "s3cr3t-origin-value"}).status_code == 200
    secrets_client(settings).put_secret_value(SecretId=secret_id, SecretString="rotated-value")
    assert client.get("/v2/", headers={ORIGIN_HEADER: "rotated-value"}).status_code == 403  # read a moment ago
    monkeypatch.setattr(module, "REFRESH_SECONDS", 0)
    assert client.get("/v2/", headers={ORIGIN_HEADER: "rotated-value"}).status_code == 200
    assert client.get("/v2/", headers={ORIGIN_HEADER: "s3cr3t-origin-value"}).status_code == 403


def test_blobs_in_parts_are_refused_above_what_one_completion_can_verify(settings):
    limited = dataclasses.replace(settings, verify_max=10 * MIB)
    with TestClient(create_app(limited, build_registry(limited))) as client:
        big = client.post("/dockyard/v1/direct/a/blobs", json={"digest": sha256(b"x"), "size": 11 * MIB,
                                                               "multipart": True})
        assert (big.status_code, error_code(big)) == (400, "SIZE_INVALID")
        assert "one PUT" in big.text
        whole = client.post("/dockyard/v1/direct/a/blobs", json={"digest": sha256(b"x"), "size": 11 * MIB})
        assert whole.status_code == 200 and whole.json()["method"] == "single"
        small = client.post("/dockyard/v1/direct/a/blobs", json={"digest": sha256(b"y"), "size": 9 * MIB,
                                                                 "multipart": True})
        assert small.status_code == 200 and small.json()["method"] == "multipart"


def test_the_push_client_polls_a_completion_past_the_front_doors_timeout(monkeypatch):
    """API Gateway gives up at 30 s (504) while the function goes on verifying; asking again meets the
    lease (409) until the blob is linked. A stand-in front door answers in that order."""
    from dockyard.client import http as client_http
    from dockyard.client import push

    monkeypatch.setattr(client_http, "backoff", lambda attempt: None)
    monkeypatch.setattr(push, "POLL_SECONDS", 0)
    answers = [504] * client_http.RETRIES + [409, 409, 201]
    seen = []

    def front_door(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        status = answers.pop(0)
        body = {"errors": [{"code": "BLOB_UPLOAD_INVALID", "message": "busy"}]} if status == 409 else None
        return httpx.Response(status, json=body) if body else httpx.Response(status)

    client = client_http.RegistryClient("https://registry.example", http=httpx.Client(
        transport=httpx.MockTransport(front_door)), authorization="Bearer t")
    push.complete_direct(client, "team/app", "u1", "repository:team/app:push")
    assert not answers and set(seen) == {"/dockyard/v1/direct/team/app/blobs/u1/complete"}

    answers[:] = [400]
    with pytest.raises(client_http.RegistryError):
        push.complete_direct(client, "team/app", "u1", "repository:team/app:push")
