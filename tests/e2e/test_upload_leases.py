"""Upload leases across real `dockyard serve` processes sharing one backend: a writer killed mid-PATCH frees
its session within one lease (its heartbeat stops), while a live writer slower than a lease keeps it."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tests.support.processes import Server

LEASE = 3  # seconds; short so that the test is quick (the shipped default is checked below)
NAME = "team/app"
BLOB = os.urandom(7 * 1024 * 1024)  # more than one 6 MiB part: a part is in S3 when the writer dies


@pytest.fixture(scope="module")
def backend(moto_endpoint) -> list[str]:
    return ["--endpoint-url", moto_endpoint, "--bucket", "leases", "--table", "leases"]


def lease_server(backend: list[str]) -> Server:
    return Server(*backend, env={"DOCKYARD_UPLOAD_LEASE": str(LEASE)})


@pytest.fixture(scope="module")
def pair(backend):
    """Two registry processes over one bucket and table, like two Lambda instances."""
    servers = lease_server(backend), lease_server(backend)
    yield servers
    for server in servers:
        server.stop()


def start_upload(server: Server) -> str:
    response = httpx.post(f"{server.url}/v2/{NAME}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return response.headers["Location"]


def slow_patch(server: Server, location: str, data: bytes, pieces: int, pause: float,
               sent: threading.Event | None = None) -> socket.socket:
    """Open a PATCH with the whole length announced and send the body in `pieces`, `pause` apart (then set
    `sent`); returns the socket, whose answer has not been read yet."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"PATCH {location} HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/octet-stream\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode())
    step = -(-len(data) // pieces)
    for start in range(0, len(data), step):
        if start:
            time.sleep(pause)
        sock.sendall(data[start:start + step])
    if sent is not None:
        sent.set()
    return sock


def answer_status(sock: socket.socket) -> int:
    sock.settimeout(30)
    head = b""
    while b"\r\n" not in head:
        head += sock.recv(4096)
    sock.close()
    return int(head.split(b" ", 2)[1])


def patch(server: Server, location: str, data: bytes) -> httpx.Response:
    return httpx.patch(f"{server.url}{location}", content=data, headers={"Content-Type": "application/octet-stream"},
                       timeout=60)


def test_a_writer_killed_mid_patch_frees_the_upload_within_one_lease(backend, pair):
    doomed, other = lease_server(backend), pair[0]
    try:
        location = start_upload(doomed)
        sock = slow_patch(doomed, location, BLOB[:len(BLOB) * 3 // 4], pieces=3, pause=0.3)  # a part is in S3
        doomed.process.kill()
        doomed.process.wait()
        sock.close()
        busy = patch(other, location, BLOB[:1])  # one byte: answered well within the lease, however loaded
        assert busy.status_code == 409, busy.text  # the dead writer's lease has not run out yet
        assert 1 <= int(busy.headers["Retry-After"]) <= LEASE + 1
        time.sleep(int(busy.headers["Retry-After"]))
        # The session's own client retries where the session stands (nothing of the dead PATCH was saved).
        assert httpx.get(f"{other.url}{location}").headers["Range"] == "0-0"
        assert patch(other, location, BLOB).status_code == 202
        digest = "sha256:" + hashlib.sha256(BLOB).hexdigest()
        done = httpx.put(f"{other.url}{location}", params={"digest": digest})
        assert done.status_code == 201, done.text
        pulled = httpx.get(f"{other.url}/v2/{NAME}/blobs/{digest}", follow_redirects=True, timeout=60)
        assert pulled.content == BLOB
    finally:
        if doomed.process.poll() is None:
            doomed.stop()


def test_a_live_writer_slower_than_its_lease_keeps_it(pair):
    first, second = pair
    location = start_upload(first)
    data, sent, refusals = BLOB[:1024 * 1024], threading.Event(), 0
    with ThreadPoolExecutor(1) as pool:
        writer = pool.submit(lambda: answer_status(slow_patch(first, location, data, 5, LEASE, sent)))
        while not sent.wait(LEASE / 2):  # while it streams (four leases), no one else may write
            refused = patch(second, location, b"intruder")
            if sent.is_set():
                break
            assert refused.status_code == 409 and "Retry-After" in refused.headers, refused.text
            refusals += 1
        assert writer.result() == 202
    assert refusals >= 4
    assert httpx.get(f"{second.url}{location}").headers["Range"] == f"0-{len(data) - 1}"


def test_the_shipped_lease_is_short():
    """A dead writer blocks its upload for one lease: 30 s as shipped (the stack sets no other)."""
    from dockyard.config import Settings

    assert Settings().upload_lease == 30
