"""The pull-through cache: cold and warm pulls through it beside a direct pull from the upstream, upstream
requests per pull, and the rate at which one request fetches a large blob into S3 (hence the largest blob
one Lambda invocation can cache). The upstream is CNCF distribution (Debian `docker-registry`, filesystem
storage) on loopback; the cache is `dockyard serve` over moto. The clients are skopeo, and containerd
(`ctr images pull`, routed to the cache's prefix by a `hosts.toml` alone, unpacked with the native
snapshotter, each pull in a fresh namespace). Runs interleave."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import MotoServer, environment, start_server
from compare import skopeo

from tests.support.containerd import SNAPSHOTTER, Containerd
from tests.support.oci import Layout, random_layer
from tests.support.upstreams import Distribution, blob_gets, manifest_requests

MB = 1000 * 1000
FETCH_DEADLINE = 240  # seconds a deployed function spends on one fetch (infra/constructs/registry_function.py)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blob-mb", type=int, default=200, help="size of the blob whose fetch rate is measured")
    parser.add_argument("--clients", default="skopeo,ctr", help="comma-separated: skopeo, ctr")
    args = parser.parse_args()
    clients = args.clients.split(",")
    work = Path(tempfile.mkdtemp(prefix="bench-pullthrough-"))
    moto = MotoServer()
    upstream = Distribution(work / "upstream")
    cache = start_server(moto, "pullthrough")
    subprocess.run([sys.executable, "-m", "dockyard.cli", "upstream", "add", "up", upstream.url, "--registry",
                    cache.url], check=True, capture_output=True)
    containerd = Containerd(work / "containerd") if "ctr" in clients else None
    if containerd:
        containerd.mirror(upstream.host, f"{cache.url}/v2/up")
    rows = {(client, kind): [] for client in clients for kind in ("direct", "cold", "warm")}
    counts = {}
    try:
        for run in range(args.repeat):
            for client in clients:
                repo = f"bench/{client}{run}"
                layout = Layout(work / f"src-{client}{run}")
                desc, _ = layout.image([random_layer(n) for n in (30 * MB, 5 * MB, 1 * MB, 100_000, 10_000)])
                layout.tag(desc, "v1")
                skopeo("copy", "--dest-tls-verify=false", f"oci:{work / f'src-{client}{run}'}:v1",
                       f"docker://{upstream.host}/{repo}:v1")
                for kind in ("direct", "cold", "warm"):
                    before = len(upstream.requests())
                    rows[client, kind].append(pull(client, kind, upstream, cache, repo, work, containerd))
                    made = upstream.requests()[before:]
                    if kind != "direct":
                        counts[client, kind] = (len(manifest_requests(made)), len(blob_gets(made)), len(made))
        layout = Layout(work / "big")
        big = random_layer(args.blob_mb * MB)[0]
        digest = layout.blob(big)
        desc, _ = layout.image([(big, b"")])
        layout.tag(desc, "big")
        skopeo("copy", "--dest-tls-verify=false", f"oci:{work / 'big'}:big", f"docker://{upstream.host}/bench/big:v1")
        import httpx

        started = time.monotonic()
        answer = httpx.get(f"{cache.url}/v2/up/bench/big/blobs/{digest}", timeout=600)
        fetch = time.monotonic() - started
        assert answer.status_code == 307, answer.text
    finally:
        if containerd:
            containerd.stop()
        cache.stop()
        upstream.stop()
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    rate = len(big) / fetch
    print(f"{environment()}; {args.repeat} interleaved runs, medians; image of 5 layers, 36 MB\n")
    print("| client | pull | wall time | vs direct | upstream requests (manifest, blob GETs, all) |")
    print("| --- | --- | --- | --- | --- |")
    for client in clients:
        direct = statistics.median(rows[client, "direct"])
        for kind in ("direct", "cold", "warm"):
            median = statistics.median(rows[client, kind])
            made = counts.get((client, kind))
            print(f"| {CLIENTS[client]} | {kind}{' from distribution' if kind == 'direct' else ' through the cache'} | "
                  f"{median:.2f} s | {median / direct:.2f} | {'%d, %d, %d' % made if made else '-'} |")
    print(f"\nOne request fetching a {args.blob_mb} MB blob from the upstream into S3: {fetch:.2f} s, "
          f"{rate / MB:.0f} MB/s; within a {FETCH_DEADLINE} s fetch deadline that is "
          f"{rate * FETCH_DEADLINE / 1e9:.1f} GB here. The stack assumes 20 MB/s (4.8 GB).")


CLIENTS = {"skopeo": "skopeo copy (to an OCI layout)", "ctr": "containerd: ctr images pull (unpacked)"}


def pull(client: str, kind: str, upstream, cache, repo: str, work: Path, containerd) -> float:
    """One pull's wall time: `direct` from the upstream, else through the cache's prefix."""
    if client == "skopeo":
        source = f"{upstream.host}/{repo}" if kind == "direct" else f"{cache.host}/up/{repo}"
        return skopeo("copy", "--src-tls-verify=false", f"docker://{source}:v1",
                      f"oci:{work / f'{kind}-{uuid.uuid4().hex[:8]}'}:v1")
    namespace = f"bench-{uuid.uuid4().hex[:8]}"  # isolated content: every blob is downloaded again
    ref = f"{upstream.host}/{repo}:v1"  # the upstream's own name; only the hosts directory routes it
    started = time.monotonic()
    if kind == "direct":  # no hosts directory: straight to the upstream
        containerd.ctr("images", "pull", "--plain-http", "--snapshotter", SNAPSHOTTER, ref, namespace=namespace)
    else:
        containerd.pull(ref, namespace)
    return time.monotonic() - started

if __name__ == "__main__":
    main()
