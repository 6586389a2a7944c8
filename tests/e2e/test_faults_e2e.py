"""Faults over real connections: a stalled or dead backend, a 500 on a keep-alive connection, a body that
stops arriving, and requests the HTTP parser refuses. `dockyard serve` runs as a process; its moto runs as
a process of its own, so that the test can stop it (SIGSTOP) or kill it."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from dockyard.local.backend import EmbeddedMoto
from dockyard.resources import Env
from tests.support.auth import basic, bearer
from tests.support.oci import OCI_MANIFEST
from tests.support.processes import Server
from tests.support.registry import image_manifest

pytestmark = pytest.mark.e2e
ADMIN_ID, ADMIN_SECRET = "fault-admin", "dys_" + "f" * 43
BOUND = 20  # seconds: far above the expected ~6 s, far below botocore's old 60 s x 10 retries


@pytest.fixture
def moto():
    backend = EmbeddedMoto()
    endpoint = backend.start()
    yield backend, endpoint
    if backend.process.poll() is None:
        os.kill(backend.process.pid, signal.SIGCONT)
    backend.stop()


def serve(endpoint: str, *extra: str, env: dict | None = None, name: str | None = None) -> Server:
    """With the read timeout a deployed registry has against AWS (3 s; against moto the default is 10 s)."""
    name = name or f"fault-{uuid.uuid4().hex[:10]}"
    return Server("--endpoint-url", endpoint, "--bucket", name, "--table", name, *extra,
                  env={Env.BACKEND_TIMEOUT: "3", **(env or {})})


def push_small_image(url: str, headers: dict, repo: str = "team/app") -> None:
    config, layer = b'{"architecture": "amd64", "os": "linux"}', os.urandom(1000)
    for blob in (config, layer):
        digest = "sha256:" + __import__("hashlib").sha256(blob).hexdigest()
        assert httpx.post(f"{url}/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=blob,
                          headers=headers).status_code == 201
    response = httpx.put(f"{url}/v2/{repo}/manifests/v1", content=image_manifest(config, [layer]),
                         headers={**headers, "Content-Type": OCI_MANIFEST})
    assert response.status_code == 201, response.text


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_stalled_backend_gives_503_in_seconds_and_never_delays_requests_that_need_none(moto):
    backend, endpoint = moto
    secured = ("--auth", "--signing-secret", "fault-signing")
    admin_env = {Env.ADMIN_KEY_ID: ADMIN_ID, Env.ADMIN_SECRET: ADMIN_SECRET}
    server = serve(endpoint, *secured, env=admin_env, name="fault-stalled")
    # A second host of the same registry that has not read its signing keys yet (Secrets Manager) when the
    # backend stalls.
    cold = serve(endpoint, *secured, env=admin_env, name="fault-stalled")
    try:
        admin = basic(ADMIN_ID, ADMIN_SECRET)
        push_small_image(server.url, admin)
        token = httpx.get(f"{server.url}/token", params={"service": "dockyard", "scope": "repository:team/app:pull"},
                          headers=admin).json()["token"]
        manifest = f"{server.url}/v2/team/app/manifests/v1"
        assert httpx.get(manifest, headers=bearer(token)).status_code == 200

        os.kill(backend.process.pid, signal.SIGSTOP)  # S3, DynamoDB and Secrets Manager stop answering
        response, seconds = timed(lambda: httpx.get(manifest, headers=bearer(token), timeout=60))
        assert response.status_code == 503, response.text
        assert response.json()["errors"][0]["code"] == "UNKNOWN" and response.headers["Retry-After"]
        assert seconds < BOUND
        print(f"stalled backend: 503 after {seconds:.1f} s")

        # More stuck requests than the server has worker threads (40) ... (clients made beforehand: making
        # 60 of them at once costs this process seconds of CPU)
        stuck_client = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=100))
        probe_client = httpx.Client(timeout=30)
        with ThreadPoolExecutor(60) as pool, stuck_client, probe_client:
            started = time.monotonic()
            finished: list[float] = []

            def stuck_request():
                response = stuck_client.get(manifest, headers=bearer(token))
                finished.append(time.monotonic())
                return response

            stuck = [pool.submit(stuck_request) for _ in range(60)]
            time.sleep(1)
            # ... and what needs no backend still answers, before any stuck request is answered (each waits
            # about 6 s for its 503; with the old sync routes the probe queued until a thread came free):
            # the probe with a token, and the 401 challenge without one.
            challenge, challenge_seconds = timed(lambda: probe_client.get(manifest))
            probe, probe_seconds = timed(lambda: probe_client.get(f"{server.url}/v2/", headers=bearer(token)))
            answered = time.monotonic()
            assert not finished or answered < min(finished), sorted(t - started for t in finished)[:5]
            assert probe.status_code == 200 and challenge.status_code == 401
            assert challenge.headers["WWW-Authenticate"].startswith("Bearer ")
            statuses = {future.result().status_code for future in stuck}
        assert statuses == {503}
        print(f"with 60 requests stuck: GET /v2/ {probe_seconds:.2f} s, 401 challenge {challenge_seconds:.2f} s")

        response, seconds = timed(lambda: httpx.get(f"{cold.url}/v2/", headers=bearer(token), timeout=60))
        assert response.status_code == 503 and seconds < BOUND
        print(f"signing keys unreadable (Secrets Manager stalled): 503 after {seconds:.1f} s")

        os.kill(backend.process.pid, signal.SIGCONT)  # and the registry recovers by itself
        assert httpx.get(manifest, headers=bearer(token), timeout=30).status_code == 200
        assert httpx.get(f"{cold.url}/v2/", headers=bearer(token), timeout=30).status_code == 200
    finally:
        server.stop()
        cold.stop()


def test_a_dead_backend_gives_503_at_once_and_open_probes_still_answer(moto):
    backend, endpoint = moto
    server = serve(endpoint)
    try:
        push_small_image(server.url, {})
        backend.process.kill()
        backend.process.wait()
        response, seconds = timed(lambda: httpx.get(f"{server.url}/v2/team/app/manifests/v1", timeout=60))
        assert response.status_code == 503 and response.json()["errors"][0]["code"] == "UNKNOWN"
        assert seconds < BOUND
        print(f"dead backend: 503 after {seconds:.1f} s")
        upload = httpx.post(f"{server.url}/v2/team/app/blobs/uploads/", timeout=60)
        assert upload.status_code == 503
        assert httpx.get(f"{server.url}/v2/", timeout=5).status_code == 200
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def exchange(sock: socket.socket, request: bytes) -> tuple[int, dict, bytes]:
    """Send one request on an open connection and read one response (Content-Length framed)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed; got {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed in the body")
        body += chunk
    return int(lines[0].split()[1]), headers, body


def connect(server: Server, timeout: float = 30) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def test_a_500_leaves_the_keep_alive_connection_usable(backend_args, moto_endpoint):
    import boto3

    server = Server(*backend_args)
    try:
        # A fault the registry cannot call "unavailable": its table was deleted under it.
        boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1").delete_table(
            TableName=backend_args[-1])
        host = f"Host: {server.host}\r\n".encode()
        for _ in range(3):
            with connect(server) as sock:
                status, headers, body = exchange(sock, b"GET /v2/team/app/manifests/v1 HTTP/1.1\r\n" + host + b"\r\n")
                assert status == 500 and json.loads(body)["errors"][0]["code"] == "UNKNOWN"
                if headers.get("connection", "").lower() == "close":
                    continue  # allowed: the client was told
                status, _, _ = exchange(sock, b"GET /v2/ HTTP/1.1\r\n" + host + b"\r\n")
                assert status == 200
    finally:
        server.stop()


def test_a_body_shorter_than_its_content_length_times_out(backend_args):
    server = Server(*backend_args, env={Env.BODY_TIMEOUT: "2"})
    try:
        location = httpx.post(f"{server.url}/v2/team/app/blobs/uploads/").headers["Location"]
        for request in (b"PUT /v2/team/app/manifests/v1 HTTP/1.1\r\nContent-Type: " + OCI_MANIFEST.encode(),
                        b"PATCH " + location.encode() + b" HTTP/1.1"):
            with connect(server) as sock:
                started = time.monotonic()
                status, headers, body = exchange(sock, request + f"\r\nHost: {server.host}\r\n".encode()
                                                 + b"Content-Length: 1000\r\n\r\n" + b"{" * 10)
                assert (status, json.loads(body)["errors"][0]["code"]) == (408, "SIZE_INVALID")
                assert headers["connection"] == "close" and time.monotonic() - started < BOUND
                assert sock.recv(1) == b""  # and the server closed the connection
        assert httpx.get(f"{server.url}/v2/").status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("request_bytes", [
    b"GET /v2/caf\xc3\xa9/tags/list HTTP/1.1\r\nHost: x\r\n\r\n",
    b"PUT /v2/team/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"PUT /v2/team/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"GET /v2/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
])
def test_requests_the_http_parser_refuses_get_a_json_error(server, request_bytes):
    with connect(server) as sock:
        status, headers, body = exchange(sock, request_bytes)
    assert status == 400 and headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body)["errors"][0]["code"] == "UNSUPPORTED"


def test_tls_probes_get_one_clear_log_line(backend_args):
    server = Server(*backend_args, "--log-level", "info")
    hello = bytes.fromhex("16030100a5010000a10303") + os.urandom(32)  # the start of a TLS ClientHello
    try:
        for _ in range(3):
            with connect(server) as sock:
                status, _, body = exchange(sock, hello)
                assert status == 400 and b"plain HTTP, not TLS" in body
        assert httpx.get(f"{server.url}/v2/").status_code == 200
    finally:
        server.stop()
    output = server.output()
    assert output.count("tried TLS on this plain-HTTP port") == 1, output
    assert "Invalid HTTP request received" not in output
    assert "Found credentials" not in output


def test_the_web_page_reads_a_dead_or_stalled_backend_as_a_page_in_seconds(moto):
    backend, endpoint = moto
    server = serve(endpoint)
    try:
        push_small_image(server.url, {})
        assert httpx.get(f"{server.url}/ui/r/team/app", timeout=60).status_code == 200
        os.kill(backend.process.pid, signal.SIGSTOP)
        stalled, seconds = timed(lambda: httpx.get(f"{server.url}/ui/r/team/app", timeout=60))
        assert stalled.status_code == 503 and seconds < BOUND
        assert stalled.headers["content-type"].startswith("text/html")
        assert "The registry is unavailable" in stalled.text and "retry later" in stalled.text
        assert "Traceback" not in stalled.text and "botocore" not in stalled.text
        os.kill(backend.process.pid, signal.SIGCONT)
        backend.process.kill()
        backend.process.wait()
        dead, seconds = timed(lambda: httpx.get(f"{server.url}/ui/", timeout=60))
        assert dead.status_code == 503 and seconds < BOUND and "The registry is unavailable" in dead.text
        assert dead.headers.get("retry-after") == "1"
    finally:
        server.stop()
    assert "Traceback" not in server.output()
