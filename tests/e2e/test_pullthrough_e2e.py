"""The pull-through cache with real clients and real upstreams on loopback: CNCF distribution, open and
with htpasswd basic auth, and a second `dockyard serve --auth` whose token flow is like Docker Hub's.
Requests to each upstream are counted in its access log."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import httpx
import pytest

from dockyard.resources import Env
from tests.support.oci import random_layer, sha256
from tests.support.processes import Server, layout_manifest, skopeo, verify_layout
from tests.support.pullthrough import backend, dockyard, seed
from tests.support.upstreams import Distribution, blob_gets, manifest_requests, requests_of, uvicorn_requests

pytestmark = pytest.mark.e2e
TTL = 4  # the cache's tag TTL, seconds: short enough to see a revalidation


@pytest.fixture(scope="module")
def private(images, tmp_path_factory):
    upstream = Distribution(tmp_path_factory.mktemp("private"), user=("puller", "upstream-pw-4242"))
    seed(images, upstream.host, "team/app", "--dest-creds", "puller:upstream-pw-4242")
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def cache(moto_endpoint, dist, private, hub):
    server = Server(*backend(moto_endpoint), "--log-level", "info", env={Env.UPSTREAM_TTL: str(TTL)})
    admin = ["--registry", server.url]
    dockyard("upstream", "add", "dist", dist.url, *admin)
    dockyard("upstream", "add", "private", private.url, "--username", "puller", "--password-stdin", *admin,
             stdin="upstream-pw-4242\n")
    dockyard("upstream", "add", "hub", hub.url, "--username", hub.puller[0], "--password-stdin",
             "--docker-hub-mirror", *admin, stdin=hub.puller[1])
    yield server
    server.stop()


def pull(cache, ref: str, out, *extra: str) -> float:
    started = time.monotonic()
    skopeo("copy", "--src-tls-verify=false", *extra, f"docker://{cache.host}/{ref}", f"oci:{out}:t")
    return time.monotonic() - started



def test_upstreams_are_listed_without_their_passwords(cache, hub):
    listed = json.loads(dockyard("upstream", "list", "--json", "--registry", cache.url))
    assert [(u["name"], u["credentials"], u["docker_hub_mirror"]) for u in listed] == [
        ("dist", False, False), ("hub", True, True), ("private", True, False)]
    text = json.dumps(listed) + cache.output()
    assert "upstream-pw-4242" not in text and hub.puller[1] not in text


@pytest.mark.parametrize("name,ref", [("dist", "dist/team/app:v1"), ("private", "private/team/app:v1"),
                                      ("hub", "hub/app:v1")])
def test_skopeo_pulls_through_each_upstream_byte_exact_and_a_second_pull_asks_it_nothing(
        request, images, cache, tmp_path, name, ref):
    upstream = request.getfixturevalue({"hub": "hub", "private": "private"}.get(name, "dist"))
    before = len(requests_of(upstream))
    cold = pull(cache, ref, tmp_path / "cold")
    first = requests_of(upstream)[before:]
    pulled = verify_layout(tmp_path / "cold")
    assert layout_manifest(tmp_path / "cold", "t")["digest"] == images["app"]["digest"]
    assert pulled[images["app"]["digest"]] == images["app_manifest"]
    for compressed, _ in images["layers"]:
        assert (tmp_path / "cold" / "blobs" / "sha256" / sha256(compressed)[7:]).read_bytes() == compressed
    # Config and three layers, each asked once: fetched (GET), or, where another upstream's pull cached
    # the same blob already, confirmed (HEAD) and linked without moving a byte.
    asked = [p for m, p, s in first if "/blobs/" in p and s in (200, 307)]
    assert len(asked) == len(set(asked)) == 4
    assert name != "dist" or len(blob_gets(first)) == 4
    assert len(manifest_requests(first)) == 1

    warm = pull(cache, ref, tmp_path / "warm")
    second = requests_of(upstream)[before + len(first):]
    assert blob_gets(second) == [] and manifest_requests(second) == []  # within the TTL: nothing at all
    print(f"\n{name}: cold {cold:.2f} s ({len(first)} upstream requests), warm {warm:.2f} s (0)")


def test_an_index_caches_the_platform_manifest_asked_for_only(images, cache, dist, tmp_path):
    before = len(dist.requests())
    pull(cache, "dist/team/app:multi", tmp_path / "out")
    asked = manifest_requests(dist.requests()[before:])
    amd64, arm64 = (p["digest"] for p in images["platforms"])
    assert asked == ["/v2/team/app/manifests/multi", f"/v2/team/app/manifests/{amd64}"]
    index = httpx.get(f"{cache.url}/v2/dist/team/app/manifests/multi",
                      headers={"Accept": "application/vnd.oci.image.index.v1+json"})
    assert index.headers["docker-content-digest"] == images["multi"]["digest"]


def test_podman_pulls_through_a_prefix(images, cache, private, tmp_path):
    import tempfile

    runroot = tempfile.mkdtemp(prefix="pm-")  # podman wants a short one (at most 50 characters)
    podman = ["podman", "--root", str(tmp_path / "root"), "--runroot", runroot, "--storage-driver", "vfs"]
    result = subprocess.run([*podman, "pull", "--tls-verify=false", f"{cache.host}/private/team/app:v1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    digest = subprocess.run([*podman, "image", "inspect", "--format", "{{.Digest}}",
                             f"{cache.host}/private/team/app:v1"], capture_output=True, text=True).stdout.strip()
    assert digest == images["app"]["digest"]


def test_nobody_can_push_into_a_cache_prefix(cache):
    response = httpx.post(f"{cache.url}/v2/dist/team/app/blobs/uploads/")
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "DENIED"
    manifest = httpx.put(f"{cache.url}/v2/hub/library/app/manifests/x", content=b"{}",
                         headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert manifest.status_code == 403


def test_concurrent_first_pulls_fetch_each_blob_once(cache, dist):
    layers = [random_layer(2_000_000)[0] for _ in range(3)]
    digests = []
    for data in layers:
        upload = httpx.post(f"{dist.url}/v2/team/conc/blobs/uploads/")
        location = httpx.URL(dist.url).join(upload.headers["location"])
        digests.append(sha256(data))
        assert httpx.put(location.copy_merge_params({"digest": digests[-1]}), content=data).status_code == 201
    before = len(dist.requests())
    results: list[bytes] = []

    def fetch(digest: str) -> None:
        with httpx.Client(timeout=60, follow_redirects=True) as client:
            results.append(client.get(f"{cache.url}/v2/dist/team/conc/blobs/{digest}").content)

    threads = [threading.Thread(target=fetch, args=(d,)) for d in digests for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted(data for data in layers for _ in range(6))
    fetched = blob_gets(dist.requests()[before:])
    assert sorted(fetched) == sorted(f"/v2/team/conc/blobs/{d}" for d in digests)  # one GET per blob


def test_a_tag_is_revalidated_after_its_ttl_and_an_outage_serves_it_stale(images, cache, dist, tmp_path):
    pull(cache, "dist/team/app:v1", tmp_path / "first")
    time.sleep(TTL + 0.5)
    before = len(dist.requests())
    pull(cache, "dist/team/app:v1", tmp_path / "revalidated")
    assert [(m, p) for m, p, _ in dist.requests()[before:]] == [("HEAD", "/v2/team/app/manifests/v1")]

    time.sleep(TTL + 0.5)
    dist.stop()
    try:
        pull(cache, "dist/team/app:v1", tmp_path / "stale")
        assert layout_manifest(tmp_path / "stale", "t")["digest"] == images["app"]["digest"]
        assert "serving cached dist/team/app:v1" in cache.output()
        missing = httpx.get(f"{cache.url}/v2/dist/team/never/manifests/v1")
        assert missing.status_code == 503 and missing.json()["errors"][0]["code"] == "UNKNOWN"
    finally:
        dist.start()


def test_a_moved_upstream_tag_is_followed_after_the_ttl(images, cache, dist, tmp_path):
    assert pull(cache, "dist/team/app:v1", tmp_path / "before") >= 0
    skopeo("copy", "--dest-tls-verify=false", f"oci:{images['root']}:v2", f"docker://{dist.host}/team/app:v1")
    time.sleep(TTL + 0.5)
    pull(cache, "dist/team/app:v1", tmp_path / "after")
    assert layout_manifest(tmp_path / "after", "t")["digest"] == images["moved"]["digest"]
    skopeo("copy", "--dest-tls-verify=false", f"oci:{images['root']}:v1", f"docker://{dist.host}/team/app:v1")


@pytest.fixture(scope="module")
def dockerd(cache, tmp_path_factory):
    """A docker daemon whose `registry-mirrors` is the cache, and nothing else changed."""
    root = tmp_path_factory.mktemp("dockerd")
    socket = root / "docker.sock"
    log = (root / "dockerd.log").open("wb")
    process = subprocess.Popen(
        ["dockerd", "--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--bridge=none",
         f"--data-root={root / 'data'}", f"--exec-root={root / 'exec'}", f"--pidfile={root / 'pid'}",
         f"--registry-mirror={cache.url}", "-H", f"unix://{socket}"], stdout=log, stderr=subprocess.STDOUT)
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket}"}
    deadline = time.monotonic() + 60
    while subprocess.run(["docker", "info"], env=env, capture_output=True).returncode != 0:
        assert process.poll() is None and time.monotonic() < deadline, (root / "dockerd.log").read_text()
        time.sleep(0.5)
    yield env
    process.terminate()
    process.wait(timeout=30)


def test_docker_with_registry_mirrors_pulls_docker_hub_names_through_the_cache(images, cache, hub, dockerd):
    before = len(uvicorn_requests(cache.output()))
    result = subprocess.run(["docker", "pull", "app:multi"], env=dockerd, capture_output=True, text=True,
                            timeout=300)
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    assert f"Digest: {images['multi']['digest']}" in result.stdout
    asked = [p for _, p, _ in uvicorn_requests(cache.output())[before:]]
    assert "/v2/library/app/manifests/multi" in asked  # docker asked the mirror, by Docker Hub's name
    inspect = subprocess.run(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", "app:multi"],
                             env=dockerd, capture_output=True, text=True)
    assert images["multi"]["digest"] in inspect.stdout
