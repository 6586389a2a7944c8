"""Edge downloads end to end: skopeo pulls through `dockyard serve` whose blob GETs redirect to CloudFront
signed URLs, followed to a loopback stand-in for the distribution that checks each signature with the public
key and serves the object from moto's S3 under the blob prefix (`tests.support.edge`)."""

import uuid

import httpx
import pytest

from dockyard.resources import Env
from dockyard.storage.edge import generate_key
from tests.support.edge import EdgeStandIn
from tests.support.oci import Layout, layer_tar, random_layer, sha256
from tests.support.processes import Server, skopeo, verify_layout

pytestmark = pytest.mark.e2e
KEY_ID = "K3DOCKYARDEDGE"


@pytest.fixture(scope="module")
def edge(moto_endpoint, tmp_path_factory):
    """A server with edge downloads on, the stand-in, and the private key (to look for it in logs)."""
    import boto3

    from dockyard.config import Settings
    from dockyard.storage.aws import ensure_bucket

    name = f"e2e-edge-{uuid.uuid4().hex[:8]}"
    session = boto3.session.Session(region_name="us-east-1")
    secrets = session.client("secretsmanager", endpoint_url=moto_endpoint)
    s3 = session.client("s3", endpoint_url=moto_endpoint)
    private, public = generate_key()
    secret = secrets.create_secret(Name=f"{name}-edge-key", SecretString=private)["ARN"]
    ensure_bucket(s3, Settings(bucket=name, endpoint_url=moto_endpoint))
    stand_in = EdgeStandIn(public, KEY_ID, s3, name)
    server = Server("--endpoint-url", moto_endpoint, "--bucket", name, "--table", name,
                    env={Env.EDGE_URL: stand_in.url, Env.EDGE_KEY_ID: KEY_ID, Env.EDGE_KEY_SECRET: secret})
    yield server, stand_in, private
    server.stop()
    stand_in.stop()


def test_skopeo_pulls_every_blob_from_the_edge_byte_for_byte(edge, tmp_path):
    server, stand_in, private = edge
    layout = Layout(tmp_path / "src")
    layers = [layer_tar({"etc/edge": b"from the edge\n"}), random_layer(3_000_000)]
    desc, manifest = layout.image(layers)
    layout.tag(desc, "v1")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'src'}:v1", f"docker://{server.host}/team/edge:v1")
    stand_in.requests.clear()
    skopeo("copy", "--src-tls-verify=false", f"docker://{server.host}/team/edge:v1", f"oci:{tmp_path / 'out'}:v1")
    pulled = verify_layout(tmp_path / "out")
    assert pulled[desc["digest"]] == manifest
    for compressed, _ in layers:
        assert (tmp_path / "out" / "blobs" / "sha256" / sha256(compressed)[7:]).read_bytes() == compressed
    served = {path for path, status in stand_in.requests if status in (200, 206)}
    # Every layer from the edge; the config from the registry, which its manifest's pull hints gave its bytes.
    assert len(served) == len(layers), stand_in.requests
    assert all(path.startswith("/sha256/") for path in served)  # blob keys without the origin path
    assert private.splitlines()[1] not in server.log.text()


def test_the_edge_refuses_urls_the_registry_did_not_sign(edge, tmp_path):
    server, stand_in, _ = edge
    blob = random_layer(10_000)[0]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        pushed = http.post("/v2/team/edge-raw/blobs/uploads/", params={"digest": sha256(blob)}, content=blob)
        assert pushed.status_code == 201, pushed.text
        redirect = http.get(f"/v2/team/edge-raw/blobs/{sha256(blob)}")
    assert redirect.status_code == 307
    location = redirect.headers["location"]
    assert location.startswith(stand_in.url + "/sha256/") and "Key-Pair-Id=" + KEY_ID in location
    assert httpx.get(location, timeout=30).content == blob
    ranged = httpx.get(location, headers={"Range": "bytes=10-19"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == blob[10:20]
    for forged in (location.replace("/sha256/", "/uploads/"), location.replace("Expires=", "Expires=1"),
                   location.split("&Key-Pair-Id")[0] + "&Key-Pair-Id=KOTHER", location.split("?")[0]):
        assert httpx.get(forged, timeout=30).status_code == 403, forged


def test_a_stalled_secrets_manager_gives_503_in_seconds_and_the_next_get_signs(tmp_path):
    """The key is read on the first blob GET: a host whose link cache already knows the blob (after a HEAD)
    needs nothing but the key, so a stalled backend (SIGSTOP) is a stalled Secrets Manager read."""
    import os
    import signal
    import time

    import boto3

    from dockyard.config import Settings
    from dockyard.local.backend import EmbeddedMoto
    from dockyard.storage.aws import ensure_bucket
    from tests.support.edge import verify_signed_url

    backend = EmbeddedMoto()
    endpoint = backend.start()
    server = None
    try:
        name = f"edge-fault-{uuid.uuid4().hex[:8]}"
        session = boto3.session.Session(region_name="us-east-1")
        ensure_bucket(session.client("s3", endpoint_url=endpoint), Settings(bucket=name, endpoint_url=endpoint))
        private, public = generate_key()
        secret = session.client("secretsmanager", endpoint_url=endpoint).create_secret(
            Name=f"{name}-key", SecretString=private)["ARN"]
        server = Server("--endpoint-url", endpoint, "--bucket", name, "--table", name, env={
            Env.BACKEND_TIMEOUT: "3", Env.EDGE_URL: "https://d111111abcdef8.cloudfront.net",
            Env.EDGE_KEY_ID: KEY_ID, Env.EDGE_KEY_SECRET: secret})
        blob = random_layer(1000)[0]
        url = f"{server.url}/v2/team/stall/blobs/{sha256(blob)}"
        assert httpx.post(f"{server.url}/v2/team/stall/blobs/uploads/", params={"digest": sha256(blob)},
                          content=blob).status_code == 201
        assert httpx.head(url).status_code == 200  # the link is known now; the key is not read yet
        os.kill(backend.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        stalled = httpx.get(url, timeout=60)
        seconds = time.monotonic() - started
        assert stalled.status_code == 503 and stalled.headers["Retry-After"], stalled.text
        assert seconds < 20
        print(f"edge key unreadable (Secrets Manager stalled): 503 after {seconds:.1f} s")
        os.kill(backend.process.pid, signal.SIGCONT)
        signed = httpx.get(url, timeout=30)
        assert signed.status_code == 307
        assert verify_signed_url(signed.headers["location"], public, KEY_ID).startswith("/sha256/")
    finally:
        if backend.process.poll() is None:
            os.kill(backend.process.pid, signal.SIGCONT)
        if server is not None:
            server.stop()
        backend.stop()
