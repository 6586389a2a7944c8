"""The real Lambda handler, driven with Function URL events over moto, answers exactly as `dockyard serve`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from urllib.parse import urlsplit

import httpx

from dockyard.handler import make_handler
from dockyard.resources import LAMBDA_MAX_BODY, Env
from tests.support import function_url
from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, sha256
from tests.support.processes import Server

LAYER = bytes(range(256)) * 4096 + b"\xff\xfe\x00 not utf-8"  # 1 MiB and a bit, binary
CONFIG = json.dumps({"architecture": "arm64", "os": "linux"}).encode()
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, CONFIG),
                       "layers": [descriptor(OCI_LAYER, LAYER)]}).encode()
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
COMPARED = ("content-type", "content-length", "docker-content-digest", "docker-distribution-api-version",
            "location", "range", "docker-upload-uuid", "oci-subject", "link", "dockyard-chunk-max-length")


def via_lambda(handler):
    def call(method, path, params=None, headers=None, body=b""):
        return function_url.invoke(handler, method, path, params=params, headers=headers, body=body)
    return call


def via_http(base_url: str):
    client = httpx.Client(base_url=base_url)

    def call(method, path, params=None, headers=None, body=b""):
        response = client.request(method, path, params=params, headers=headers, content=body or None)
        response.headers = {k.lower(): v for k, v in response.headers.items()}
        return response
    return call


def conversation(call) -> list:
    """Push a small image blob by blob, then its manifest; pull it back; make some mistakes."""
    steps = []

    def step(method, path, params=None, headers=None, body=b""):
        response = call(method, path, params=params, headers=headers, body=body)
        steps.append((method, path, response))
        return response

    step("GET", "/v2/")
    step("HEAD", f"/v2/team/app/blobs/{sha256(LAYER)}")
    started = step("POST", "/v2/team/app/blobs/uploads/", headers={"Content-Length": "0"})
    location = urlsplit(started.headers["location"]).path
    half = len(LAYER) // 2
    first = step("PATCH", location, headers={"Content-Type": "application/octet-stream",
                                             "Content-Range": f"0-{half - 1}"}, body=LAYER[:half])
    step("GET", location)
    step("PUT", urlsplit(first.headers["location"]).path, params={"digest": sha256(LAYER)},
         headers={"Content-Type": "application/octet-stream", "Content-Range": f"{half}-{len(LAYER) - 1}"},
         body=LAYER[half:])
    step("POST", "/v2/team/app/blobs/uploads/", params={"digest": sha256(CONFIG)}, body=CONFIG,
         headers={"Content-Type": "application/octet-stream"})
    step("PUT", "/v2/team/app/manifests/v1", headers={"Content-Type": OCI_MANIFEST}, body=MANIFEST)
    step("GET", "/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    step("HEAD", f"/v2/team/app/manifests/{sha256(MANIFEST)}")
    step("HEAD", f"/v2/team/app/blobs/{sha256(LAYER)}")
    step("GET", f"/v2/team/app/blobs/{sha256(LAYER)}")
    step("GET", "/v2/team/app/tags/list", params={"n": "10"})
    # mistakes
    step("GET", "/v2/team/app/manifests/v2")
    step("HEAD", f"/v2/team/app/blobs/{sha256(b'nothing')}")
    step("PUT", "/v2/team/app/manifests/bad", headers={"Content-Type": OCI_MANIFEST}, body=b"{not json")
    step("PATCH", location, headers={"Content-Range": "0-3"}, body=b"late")
    step("GET", "/v2/Team/App/tags/list")
    return steps


def normalized(steps, bucket: str) -> list:
    out = []
    for method, path, response in steps:
        headers = {}
        for name in COMPARED:
            if name in response.headers:
                value = UUID.sub("<uuid>", response.headers[name])
                if name == "location" and value.startswith("http"):
                    value = urlsplit(value).path.replace(bucket, "<bucket>")
                    value = re.sub(r"/[0-9a-f]{16}$", "/<nonce>", value)  # a blob's key ends in a fresh nonce
                headers[name] = value
        body = UUID.sub("<uuid>", response.content.decode("latin-1"))
        out.append((method, UUID.sub("<uuid>", path), response.status_code, headers, body))
    return out


def test_push_and_pull_through_function_url_events(handler, settings):
    steps = conversation(via_lambda(handler))
    status = [(method, response.status_code) for method, _, response in steps]
    assert status == [("GET", 200), ("HEAD", 404), ("POST", 202), ("PATCH", 202), ("GET", 204), ("PUT", 201),
                      ("POST", 201), ("PUT", 201), ("GET", 200), ("HEAD", 200), ("HEAD", 200), ("GET", 307),
                      ("GET", 200), ("GET", 404), ("HEAD", 404), ("PUT", 400), ("PATCH", 404), ("GET", 400)]
    by_step = {i: response for i, (_, _, response) in enumerate(steps)}
    manifest = by_step[8]
    assert manifest.content == MANIFEST and manifest.base64  # so that the largest fits (test_response_limits)
    assert manifest.headers["content-type"] == OCI_MANIFEST
    assert by_step[10].headers["content-length"] == str(len(LAYER)) and by_step[10].content == b""
    assert httpx.get(by_step[11].headers["location"]).content == LAYER
    assert by_step[2].headers["dockyard-chunk-max-length"] == str(LAMBDA_MAX_BODY)
    error = json.loads(by_step[15].content)
    assert error["errors"][0]["code"] == "MANIFEST_INVALID"
    assert by_step[14].content == b"" and by_step[14].headers["content-type"] == "application/json"


def test_lambda_and_dockyard_serve_answer_identically(handler, settings, moto_endpoint):
    over_lambda = normalized(conversation(via_lambda(handler)), settings.bucket)
    name = settings.bucket + "-serve"
    server = Server("--endpoint-url", moto_endpoint, "--bucket", name, "--table", name,
                    env={Env.MAX_BODY: str(LAMBDA_MAX_BODY)})
    try:
        over_http = normalized(conversation(via_http(server.url)), name)
    finally:
        server.stop()
    for lambda_step, http_step in zip(over_lambda, over_http, strict=True):
        assert lambda_step == http_step


def test_handler_import_creates_no_aws_client():
    code = "import sys, dockyard.handler; print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_token_flow_through_function_url_events(auth_settings, auth_registry, monkeypatch):
    from tests.conftest import ADMIN_ID, ADMIN_SECRET
    from tests.support.auth import basic

    for name, value in auth_settings.to_env().items():
        monkeypatch.setenv(name, value)
    handler = make_handler()
    challenge = function_url.invoke(handler, "GET", "/v2/")
    assert challenge.status_code == 401
    assert challenge.headers["www-authenticate"] == (
        f'Bearer realm="https://{function_url.DOMAIN}/token",service="dockyard"')
    answer = function_url.invoke(handler, "GET", "/token", params={"service": "dockyard",
                                                                   "scope": "repository:team/app:pull,push"},
                                 headers=basic(ADMIN_ID, ADMIN_SECRET))
    assert answer.status_code == 200 and not answer.base64
    token = json.loads(answer.content)["token"]
    assert function_url.invoke(handler, "GET", "/v2/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    started = function_url.invoke(handler, "POST", "/v2/team/app/blobs/uploads/",
                                  headers={"Authorization": f"Bearer {token}"})
    assert started.status_code == 202
