"""The pull-through cache: cold and warm pulls through it beside a direct pull from the upstream, upstream
requests per pull, and the rate at which one request fetches a large blob into S3 (hence the largest blob
one Lambda invocation can cache). The upstream is CNCF distribution (Debian `docker-registry`, filesystem
storage) on loopback; the cache is `dockyard serve` over moto; skopeo is the client. Runs interleave."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import MotoServer, environment, start_server
from compare import skopeo

from tests.support.oci import Layout, random_layer
from tests.support.upstreams import Distribution, blob_gets, manifest_requests

MB = 1000 * 1000
FETCH_DEADLINE = 240  # seconds a deployed function spends on one fetch (infra/constructs/registry_function.py)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blob-mb", type=int, default=200, help="size of the blob whose fetch rate is measured")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pullthrough-"))
    moto = MotoServer()
    upstream = Distribution(work / "upstream")
    cache = start_server(moto, "pullthrough")
    subprocess.run([sys.executable, "-m", "dockyard.cli", "upstream", "add", "up", upstream.url, "--registry",
                    cache.url], check=True, capture_output=True)
    rows = {"direct": [], "cold": [], "warm": []}
    counts = {}
    try:
        for run in range(args.repeat):
            layout = Layout(work / f"src{run}")
            desc, _ = layout.image([random_layer(n) for n in (30 * MB, 5 * MB, 1 * MB, 100_000, 10_000)])
            layout.tag(desc, "v1")
            skopeo("copy", "--dest-tls-verify=false", f"oci:{work / f'src{run}'}:v1",
                   f"docker://{upstream.host}/bench/app{run}:v1")
            rows["direct"].append(skopeo("copy", "--src-tls-verify=false", f"docker://{upstream.host}/bench/app{run}:v1",
                                         f"oci:{work / f'direct{run}'}:v1"))
            for kind in ("cold", "warm"):
                before = len(upstream.requests())
                rows[kind].append(skopeo("copy", "--src-tls-verify=false",
                                         f"docker://{cache.host}/up/bench/app{run}:v1", f"oci:{work / f'{kind}{run}'}:v1"))
                made = upstream.requests()[before:]
                counts[kind] = (len(manifest_requests(made)), len(blob_gets(made)), len(made))
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
        cache.stop()
        upstream.stop()
        moto.stop()
    rate = len(big) / fetch
    print(f"{environment()}; {args.repeat} interleaved runs, medians; image of 5 layers, 36 MB\n")
    print("| pull | wall time | vs direct | upstream requests (manifest, blob GETs, all) |")
    print("| --- | --- | --- | --- |")
    direct = statistics.median(rows["direct"])
    for kind in ("direct", "cold", "warm"):
        median = statistics.median(rows[kind])
        made = counts.get(kind)
        print(f"| {kind}{' (skopeo from distribution)' if kind == 'direct' else ' (through the cache)'} | "
              f"{median:.2f} s | {median / direct:.2f} | {'%d, %d, %d' % made if made else '-'} |")
    print(f"\nOne request fetching a {args.blob_mb} MB blob from the upstream into S3: {fetch:.2f} s, "
          f"{rate / MB:.0f} MB/s; within a {FETCH_DEADLINE} s fetch deadline that is "
          f"{rate * FETCH_DEADLINE / 1e9:.1f} GB here. The stack assumes 20 MB/s (4.8 GB).")


if __name__ == "__main__":
    main()
