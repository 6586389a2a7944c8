"""`dockyard serve` as the README runs it, several processes over one backend, and bad input over HTTP."""

import os

import httpx
import pytest

from tests.support.oci import Layout, random_layer, sha256
from tests.support.processes import Server, skopeo, verify_layout

pytestmark = pytest.mark.e2e


def push_then_pull(tmp_path, push_to: Server, pull_from: Server) -> None:
    """skopeo pushes a small image to one server and pulls it from another (or the same); digests verified."""
    layout = Layout(tmp_path / "src")
    desc, _ = layout.image([random_layer(2_000_000)])
    layout.tag(desc, "v1")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'src'}:v1", f"docker://{push_to.host}/app:v1")
    skopeo("copy", "--src-tls-verify=false", f"docker://{pull_from.host}/app:v1", f"oci:{tmp_path / 'out'}:v1")
    assert desc["digest"] in verify_layout(tmp_path / "out")


def test_default_serve_uses_an_embedded_backend_that_clients_reach(tmp_path):
    server = Server()  # no endpoint: embedded moto on loopback, no AWS account
    try:
        push_then_pull(tmp_path, server, server)
    finally:
        server.stop()
    assert server.process.returncode is not None


def test_two_processes_serve_one_registry(backend_args, tmp_path):
    first, second = Server(*backend_args), Server(*backend_args)
    try:
        # An upload started on one process continues and finishes on the other.
        data = os.urandom(7_000_000)
        location = httpx.post(f"{first.url}/v2/team/app/blobs/uploads/").headers["Location"]
        response = httpx.patch(second.url + location, content=data[:4_000_000],
                               headers={"Content-Range": "0-3999999"})
        assert response.status_code == 202
        response = httpx.put(first.url + location, params={"digest": sha256(data)}, content=data[4_000_000:],
                             headers={"Content-Range": f"4000000-{len(data) - 1}"})
        assert response.status_code == 201, response.text
        assert httpx.get(f"{second.url}/v2/team/app/blobs/{sha256(data)}", follow_redirects=True).content == data

        # skopeo pushes to one and pulls from the other.
        push_then_pull(tmp_path, first, second)
    finally:
        first.stop()
        second.stop()


def test_bad_input_over_http_gets_spec_errors(server):
    base = f"{server.url}/v2"
    cases = [
        (httpx.get(f"{base}/Bad/Name/tags/list"), 400, "NAME_INVALID"),
        (httpx.get(f"{base}/team/app/blobs/sha256:nothex"), 400, "DIGEST_INVALID"),
        (httpx.get(f"{base}/team/app/manifests/latest"), 404, "MANIFEST_UNKNOWN"),
        (httpx.patch(f"{base}/team/app/blobs/uploads/00000000-0000-4000-8000-000000000000", content=b"x"), 404,
         "BLOB_UPLOAD_UNKNOWN"),
        (httpx.post(f"{base}/team/app/blobs/uploads/", params={"digest": sha256(b"a")}, content=b"b"), 400,
         "DIGEST_INVALID"),
        (httpx.put(f"{base}/team/app/manifests/v1", content=b"{oops", headers={"Content-Type":
         "application/vnd.oci.image.manifest.v1+json"}), 400, "MANIFEST_INVALID"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["errors"][0]["code"] == code


def test_streaming_a_chunked_transfer_body(server):
    data = os.urandom(9_000_000)

    def body():
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    location = httpx.post(f"{server.url}/v2/team/app/blobs/uploads/").headers["Location"]
    response = httpx.patch(server.url + location, content=body())  # no Content-Length: chunked encoding
    assert response.status_code == 202 and response.headers["Range"] == f"0-{len(data) - 1}"
    response = httpx.put(server.url + response.headers["Location"], params={"digest": sha256(data)})
    assert response.status_code == 201
