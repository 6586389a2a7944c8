"""containerd pulls through the pull-through cache's prefixes, configured by `hosts.toml` alone: a
`certs.d/<upstream>/hosts.toml` whose host is `http://<cache>/v2/<prefix>` with `override_path = true`.
Both ways a node pulls are proven: `ctr images pull --hosts-dir`, and the CRI plugin's `config_path` (the
kubelet's `PullImage`, over gRPC). The cache is a private registry (`--auth`): containerd follows its token
challenge with a pull key. Each hosts.toml's fallback server is dead, and requests are counted in the
cache's log and the upstream's."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import unquote, urlsplit

import grpc
import pytest

from dockyard.resources import Env
from tests.support.containerd import CRI_NAMESPACE, Containerd
from tests.support.oci import sha256
from tests.support.processes import Server
from tests.support.pullthrough import backend, dockyard
from tests.support.upstreams import blob_gets, manifest_requests, requests_of, uvicorn_requests

pytestmark = pytest.mark.e2e
ADMIN = ("dyk_ctrdadmin", "dys_" + "c" * 43)
ANSWERED = (200, 307)  # a blob GET: redirected to S3, or a small blob a warm instance serves itself


def key(cache, name: str, *allow: str) -> tuple[str, str]:
    created = json.loads(dockyard("keys", "create", name, *(f"--allow={a}" for a in allow), "--json",
                                  "--registry", cache.url, "--creds", ":".join(ADMIN)))
    return created["id"], created["secret"]


@pytest.fixture(scope="module")
def cache(moto_endpoint, dist, hub):
    """A private cache (`--auth`) with two upstreams, and `cache.node`, the nodes' pull key for both prefixes."""
    server = Server(*backend(moto_endpoint), "--auth", "--log-level", "info",
                    env={Env.ADMIN_KEY_ID: ADMIN[0], Env.ADMIN_SECRET: ADMIN[1]})
    admin = ["--registry", server.url, "--creds", ":".join(ADMIN)]
    dockyard("upstream", "add", "dist", dist.url, *admin)
    dockyard("upstream", "add", "hub", hub.url, "--username", hub.puller[0], "--password-stdin", *admin,
             stdin=hub.puller[1])
    server.node = key(server, "node", "dist/*=pull", "hub/*=pull")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def containerd(cache, dist, hub, tmp_path_factory):
    """containerd whose hosts directory sends each upstream's names to its prefix on the cache, with the
    node's key for the cache in its CRI registry config (used where the kubelet sends no pull secret)."""
    daemon = Containerd(tmp_path_factory.mktemp("containerd"), node_auth={cache.host: cache.node})
    daemon.mirror(dist.host, f"{cache.url}/v2/dist")
    daemon.mirror(hub.host, f"{cache.url}/v2/hub")
    yield daemon
    daemon.stop()



def cache_requests(cache) -> list[tuple[str, str, str, int]]:
    """(method, path, the `ns` query parameter, status) of each request the cache answered."""
    out = []
    for method, target, status in uvicorn_requests(cache.output()):
        url = urlsplit(target)
        query = dict(part.split("=", 1) for part in url.query.split("&") if "=" in part)
        out.append((method, unquote(url.path), unquote(query.get("ns", "")), status))
    return out


def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"  # isolated content: a fresh namespace downloads every blob again


@pytest.mark.parametrize("name,repo", [("dist", "team/app"), ("hub", "library/app")])
def test_ctr_pulls_an_upstreams_name_through_its_prefix_and_the_second_pull_asks_the_upstream_nothing(
        request, images, cache, containerd, name, repo):
    upstream = request.getfixturevalue(name)
    ref = f"{upstream.host}/{repo}:v1"  # the upstream's own name: hosts.toml alone routes it
    creds = ["--user", ":".join(cache.node)]
    before, seen = len(requests_of(upstream)), len(cache_requests(cache))

    started = time.monotonic()
    cold_ns = namespace()
    containerd.pull(ref, cold_ns, *creds)
    cold = time.monotonic() - started
    assert containerd.images(cold_ns) == {ref: images["app"]["digest"]}
    for compressed, _ in images["layers"]:
        assert containerd.blob(cold_ns, sha256(compressed)) == compressed
    asked = cache_requests(cache)[seen:]
    assert ("HEAD", f"/v2/{name}/{repo}/manifests/v1", upstream.host, 200) in asked  # resolved through the prefix
    blobs = [json.loads(images["app_manifest"])["config"]["digest"], *(sha256(c) for c, _ in images["layers"])]
    assert sorted(p for m, p, _, s in asked if m == "GET" and "/blobs/" in p and s in ANSWERED) == sorted(
        f"/v2/{name}/{repo}/blobs/{digest}" for digest in blobs)
    first = requests_of(upstream)[before:]
    # One manifest request; the config and three layers asked once each: fetched (GET), or, where the other
    # upstream's pull cached the same blob already, confirmed (HEAD) and linked without moving a byte.
    assert len(manifest_requests(first)) == 1
    fetched = [p for m, p, s in first if "/blobs/" in p and s in (200, 307)]
    assert len(fetched) == len(set(fetched)) == 4

    seen = len(cache_requests(cache))
    started = time.monotonic()
    warm_ns = namespace()
    containerd.pull(ref, warm_ns, *creds)
    warm = time.monotonic() - started
    assert containerd.images(warm_ns) == {ref: images["app"]["digest"]}
    again = [p for m, p, _, s in cache_requests(cache)[seen:] if m == "GET" and "/blobs/" in p and s in ANSWERED]
    assert len(again) == 4  # containerd downloaded every blob again, from the cache
    second = requests_of(upstream)[before + len(first):]
    assert blob_gets(second) == [] and manifest_requests(second) == []  # within the TTL: nothing at all
    print(f"\nctr via {name}: cold {cold:.2f} s ({len(first)} upstream requests), warm {warm:.2f} s "
          f"({len(second)})")


def test_the_cri_plugin_pulls_an_index_through_config_path_with_the_nodes_key(images, cache, dist, containerd):
    ref = f"{dist.host}/team/app:multi"
    amd64 = images["platforms"][0]["digest"]
    before, seen = len(dist.requests()), len(cache_requests(cache))
    containerd.forget(CRI_NAMESPACE)

    started = time.monotonic()
    containerd.cri_pull(ref)  # no pull secret: containerd's registry config holds the node's key for the cache
    cold = time.monotonic() - started
    assert containerd.images(CRI_NAMESPACE)[ref] == images["multi"]["digest"]
    first = dist.requests()[before:]
    assert manifest_requests(first) == ["/v2/team/app/manifests/multi", f"/v2/team/app/manifests/{amd64}"]
    assert len(blob_gets(first)) == 2  # the amd64 config and layer; nothing of arm64
    asked = [(m, p) for m, p, _, s in cache_requests(cache)[seen:] if s < 400]
    assert ("GET", f"/v2/dist/team/app/manifests/{amd64}") in asked

    containerd.forget(CRI_NAMESPACE)
    started = time.monotonic()
    containerd.cri_pull(ref)
    warm = time.monotonic() - started
    assert containerd.images(CRI_NAMESPACE)[ref] == images["multi"]["digest"]
    second = dist.requests()[before + len(first):]
    assert second == []
    print(f"\nCRI via dist (index): cold {cold:.2f} s ({len(first)} upstream requests), warm {warm:.2f} s (0)")


def test_a_key_without_pull_on_the_prefix_gets_nothing_through_containerd(cache, dist, containerd):
    other = key(cache, "elsewhere", "team/*=pull")
    before, seen = len(dist.requests()), len(cache_requests(cache))
    result = containerd.pull(f"{dist.host}/team/app:v1", namespace(), "--user", ":".join(other), check=False)
    assert result.returncode != 0
    refused = {s for m, p, _, s in cache_requests(cache)[seen:] if p.startswith("/v2/dist/")}
    assert refused and refused <= {401, 403}
    assert dist.requests()[before:] == []


def test_a_pods_pull_secret_is_not_sent_to_the_mirror_and_an_anonymous_rule_opens_the_prefix(
        images, cache, dist, containerd):
    """The kubelet passes a pod's pull secret with the registry it is for (here the upstream's host), and
    containerd sends it to that host only, never to a mirror; the node's own key is not used either, as
    the pull has credentials of its own. The cache answers 401, and containerd falls back to `server`
    (dead here). An anonymous rule on the prefix lets such pulls through."""
    ref = f"{dist.host}/team/app:v1"
    secret = (*cache.node, f"https://{dist.host}")  # the server address a pod's secret names
    admin = ["--registry", cache.url, "--creds", ":".join(ADMIN)]
    containerd.forget(CRI_NAMESPACE)
    seen = len(cache_requests(cache))
    with pytest.raises(grpc.RpcError) as refused:
        containerd.cri_pull(ref, auth=secret)
    assert "authorization failed" in refused.value.details()  # the cache's refusal, not an upstream's
    assert {s for _, p, _, s in cache_requests(cache)[seen:] if p.startswith("/v2/dist/")} == {401}

    dockyard("anonymous", "set", "dist/*", *admin)
    try:
        containerd.cri_pull(ref, auth=secret)
        assert containerd.images(CRI_NAMESPACE)[ref] == images["app"]["digest"]
    finally:
        dockyard("anonymous", "set", *admin)
