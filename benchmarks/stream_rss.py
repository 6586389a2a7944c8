"""Peak RSS of `dockyard serve` while a large layer streams through it (budget: < 100 MiB at 1 GiB).

    python benchmarks/stream_rss.py [--size-mib 1024]

One PATCH with a chunked-encoded body (no Content-Length, as docker and skopeo send), then PUT ?digest=.
moto runs in its own process, so only the registry's memory is measured.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

import httpx

from common import MotoServer, RssSampler, environment, rss_kib, start_server

MIB = 1024 * 1024


def stream(server, size: int) -> tuple[float, float, str]:
    block = os.urandom(MIB)
    digest = hashlib.sha256()

    def body():
        for i in range(size // MIB):
            chunk = block[i % 7:] + block[:i % 7]  # varied content, no per-chunk random cost
            digest.update(chunk)
            yield chunk

    start = time.perf_counter()
    with httpx.Client(timeout=600) as client:
        location = client.post(f"{server.url}/v2/bench/big/blobs/uploads/").headers["Location"]
        response = client.patch(server.url + location, content=body())
        assert response.status_code == 202, response.text
        streamed = time.perf_counter() - start
        response = client.put(server.url + response.headers["Location"],
                              params={"digest": "sha256:" + digest.hexdigest()})
        assert response.status_code == 201, response.text
    return streamed, time.perf_counter() - start - streamed, "sha256:" + digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    moto = MotoServer()
    server = start_server(moto, "bench-rss")
    try:
        idle = rss_kib(server.process.pid)
        with RssSampler(server.process.pid) as sampler:
            streamed, finalized, digest = stream(server, args.size_mib * MIB)
        print(f"# Streaming a {args.size_mib} MiB layer through `dockyard serve`\n")
        print(f"{environment()}\n")
        print("| layer | PATCH (stream) | PUT (finalize) | stream rate | registry RSS idle | registry peak RSS "
              "| budget |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        print(f"| {args.size_mib} MiB | {streamed:.1f} s | {finalized:.1f} s | {args.size_mib / streamed:.0f} MiB/s | "
              f"{idle / 1024:.1f} MiB | {sampler.peak / 1024:.1f} MiB | < 100 MiB |")
        print(f"\nblob {digest} verified and linked")
    finally:
        server.stop()
        moto.stop()


if __name__ == "__main__":
    main()
