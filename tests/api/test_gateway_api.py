"""`dockyard gateway` over HTTP, both it and the registry behind it served by uvicorn: the registry's own
upload routes and error bodies, blobs landing in the registry, mounts, and the proxy's headers."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import httpx
import pytest
import uvicorn

from dockyard.app import create_app
from dockyard.client.gateway import create_gateway
from tests.conftest import ADMIN_ID, ADMIN_SECRET
from tests.support.auth import basic
from tests.support.oci import sha256
from tests.support.processes import free_port
from tests.support.registry import error_code, push_blob

NAME = "team/app"
MIB = 1024 * 1024


@contextlib.contextmanager
def served(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def upstream(settings, registry):
    with served(create_app(settings, registry)) as url:
        yield url


@pytest.fixture
def gateway_app(upstream):
    return create_gateway(upstream)


@pytest.fixture
def gateway(gateway_app):
    with served(gateway_app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def test_answers_carry_one_date_and_one_server_header(gateway):
    for response in (gateway.get("/v2/"), gateway.post(f"/v2/{NAME}/blobs/uploads/")):
        assert response.status_code in (200, 202)
        assert len(response.headers.get_list("date")) == 1 and len(response.headers.get_list("server")) == 1


def test_a_chunked_push_lands_in_the_registry(gateway, upstream):
    data = os.urandom(3 * MIB + 17)
    start = gateway.post(f"/v2/{NAME}/blobs/uploads/")
    assert (start.status_code, start.headers["Range"]) == (202, "0-0")
    location = start.headers["Location"]
    assert location == f"/v2/{NAME}/blobs/uploads/{start.headers['Docker-Upload-UUID']}"
    first = gateway.patch(location, content=data[:MIB], headers={"Content-Range": f"0-{MIB - 1}"})
    assert (first.status_code, first.headers["Range"]) == (202, f"0-{MIB - 1}")
    assert gateway.patch(location, content=data[MIB:2 * MIB]).headers["Range"] == f"0-{2 * MIB - 1}"
    status = gateway.get(location)
    assert (status.status_code, status.headers["Range"]) == (204, f"0-{2 * MIB - 1}")
    done = gateway.put(location, params={"digest": sha256(data)}, content=data[2 * MIB:],
                       headers={"Content-Range": f"{2 * MIB}-{len(data) - 1}"})
    assert done.status_code == 201, done.text
    assert (done.headers["Location"], done.headers["Docker-Content-Digest"]) == (
        f"/v2/{NAME}/blobs/{sha256(data)}", sha256(data))
    redirect = httpx.get(f"{upstream}/v2/{NAME}/blobs/{sha256(data)}", follow_redirects=True)
    assert redirect.content == data
    assert gateway.get(location).status_code == 404  # the spool is gone


def test_bad_uploads_get_the_registrys_own_errors(gateway):
    location = gateway.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    unknown = location.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    for response, status, code in [
        (gateway.patch(unknown, content=b"x"), 404, "BLOB_UPLOAD_UNKNOWN"),
        (gateway.patch(location, content=b"x", headers={"Content-Range": "bytes 5-x"}), 400, "BLOB_UPLOAD_INVALID"),
        (gateway.patch(location, content=b"xy", headers={"Content-Range": "0-9"}), 400, "SIZE_INVALID"),
        (gateway.patch(location, content=b"x", headers={"Content-Range": "7-7"}), 416, "BLOB_UPLOAD_INVALID"),
        (gateway.put(location, content=b"abc"), 400, "DIGEST_INVALID"),
    ]:
        assert (response.status_code, error_code(response)) == (status, code), response.text
        assert set(response.json()["errors"][0]) >= {"code", "message"}
    assert gateway.get(location).headers["Range"] == "0-0"  # refused chunks left nothing behind
    wrong = gateway.put(location, params={"digest": sha256(b"other")}, content=b"abc")
    assert (wrong.status_code, error_code(wrong)) == (400, "DIGEST_INVALID")
    started = gateway.post(f"/v2/{NAME}/blobs/uploads/").headers["Location"]
    assert gateway.delete(started).status_code == 204
    assert error_code(gateway.get(started)) == "BLOB_UPLOAD_UNKNOWN"


def test_a_whole_blob_with_its_digest_streams_to_storage_unspooled(gateway, gateway_app, upstream):
    data = os.urandom(2 * MIB)
    spooled = []

    def body():
        yield data[:MIB]
        spooled.extend(gateway_app.state.gateway.spool_dir.iterdir())
        yield data[MIB:]

    response = gateway.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(data)}, content=body(),
                            headers={"Content-Length": str(len(data))})
    assert response.status_code == 201, response.text
    assert spooled == []
    assert httpx.get(f"{upstream}/v2/{NAME}/blobs/{sha256(data)}", follow_redirects=True).content == data
    again = gateway.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(data)}, content=data)
    assert again.status_code == 201  # there already: the body is read and dropped


def test_mounts_are_the_registrys(gateway, client, registry, settings):
    digest = push_blob(client, "team/source", b"shared layer")
    mounted = gateway.post(f"/v2/{NAME}/blobs/uploads/", params={"mount": digest, "from": "team/source"})
    assert (mounted.status_code, mounted.headers["Docker-Content-Digest"]) == (201, digest)
    assert client.head(f"/v2/{NAME}/blobs/{digest}").status_code == 200
    missing = gateway.post(f"/v2/{NAME}/blobs/uploads/", params={"mount": sha256(b"nowhere"), "from": "team/source"})
    assert missing.status_code == 202  # an upload to the gateway instead; the registry's session was closed
    table = registry.storage.uploads.table
    items = table.client.scan(TableName=settings.table, ConsistentRead=True)["Items"]
    assert not [item for item in items if item["pk"]["S"].startswith("upload#")]


def test_the_registry_refusal_reaches_the_client_with_its_challenge(auth_settings, auth_registry):
    with served(create_app(auth_settings, auth_registry)) as upstream, \
            served(create_gateway(upstream)) as url, httpx.Client(base_url=url, timeout=60) as gateway:
        data = b"needs credentials"
        refused = gateway.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(data)}, content=data)
        assert (refused.status_code, error_code(refused)) == (401, "DENIED")  # an anonymous token lacks push
        assert refused.headers["WWW-Authenticate"].startswith("Bearer realm=")
        landed = gateway.post(f"/v2/{NAME}/blobs/uploads/", params={"digest": sha256(data)}, content=data,
                              headers=basic(ADMIN_ID, ADMIN_SECRET))
        assert landed.status_code == 201, landed.text
