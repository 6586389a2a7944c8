"""Chunked uploads: keep a resumable SHA-256 with the session, or re-hash the blob at finalize?

    python benchmarks/resumable_hash.py [--sizes-mib 64 256] [--chunk-mib 4]

Each blob is sent in Lambda-sized chunks (4 MiB: what fits a Lambda request), through the registry layer,
over a moto server in its own process. The two strategies run side by side in one run:
- resumable: every chunk updates the saved SHA-256 state; finalize only reads the digest out of it;
- re-hash: as on a host without OpenSSL's SHA256_CTX: finalize streams the assembled object back from S3.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import time
import uuid

from common import FAKE_ENV, MotoServer, environment
from dockyard.domain.digest import Digest
from dockyard.domain.ranges import Chunk

MIB = 1024 * 1024


READ_BACK = [0]


def count_reads(parsed, **_):
    READ_BACK[0] += parsed.get("ContentLength", 0)


def run(registry, data: bytes, chunk: int) -> tuple[float, float, int]:
    session = registry.uploads.start("bench/hash")
    start = time.perf_counter()
    for offset in range(0, len(data), chunk):
        piece = data[offset:offset + chunk]
        registry.uploads.append("bench/hash", session.id, io.BytesIO(piece), Chunk(offset, offset + len(piece) - 1))
    appended = time.perf_counter() - start
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    READ_BACK[0] = 0
    start = time.perf_counter()
    registry.uploads.finish("bench/hash", session.id, digest, io.BytesIO(b""), None)
    return appended, time.perf_counter() - start, READ_BACK[0]


def rehash_alone(registry, data: bytes) -> float:
    """Stream a stored blob of this size back from S3 and hash it: the cost a resumable state avoids."""
    location = registry.uploads.store.put_blob(Digest.of(data), data)
    start = time.perf_counter()
    h = hashlib.sha256()
    for chunk in registry.uploads.store.iter_blob(location):
        h.update(chunk)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--chunk-mib", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from dockyard.config import Settings
    from dockyard.domain import hashing
    from dockyard.factory import build_registry
    from dockyard.storage.aws import ensure_bucket, ensure_table, make_clients

    os.environ.update(FAKE_ENV)
    moto = MotoServer()
    name = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(bucket=name, table=name, endpoint_url=moto.endpoint)
    s3, dynamodb = make_clients(settings)
    ensure_bucket(s3, settings)
    ensure_table(dynamodb, settings)
    registry = build_registry(settings)
    s3.meta.events.register("after-call.s3.GetObject", count_reads)
    original = hashing._libcrypto
    rows = []
    try:
        for size in args.sizes_mib:
            data = os.urandom(size * MIB)
            results = {"resumable": [], "re-hash": []}
            for _ in range(args.repeat):  # interleaved: A, B, A, B
                for strategy in results:
                    # re-hash: behave as a host without OpenSSL's SHA256_CTX
                    hashing._libcrypto = original if strategy == "resumable" else (lambda: None)
                    results[strategy].append(run(registry, data, args.chunk_mib * MIB))
                hashing._libcrypto = original
            alone = statistics.median(rehash_alone(registry, data) for _ in range(args.repeat))
            for strategy, samples in results.items():
                rows.append((size, strategy, statistics.median(a for a, _, _ in samples),
                             statistics.median(f for _, f, _ in samples), samples[0][2], alone))
    finally:
        moto.stop()
    print(f"# Resumable SHA-256 vs re-hash at finalize ({args.chunk_mib} MiB chunks)\n")
    print("The re-hash column is measured alone too: streaming the assembled object back from S3 and hashing"
          " it, which is the work the resumable state saves at finalize.\n")
    print(f"{environment()}; medians of {args.repeat} interleaved runs\n")
    print("| blob | strategy | all chunks (PATCH) | finalize (PUT) | S3 bytes read at finalize | "
          "read back + hash, alone |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in args.sizes_mib:
        resumable, rehash = [r for r in rows if r[0] == size]
        for row in (resumable, rehash):
            alone = f"{row[5]:.2f} s ({size / row[5]:.0f} MiB/s)" if row is rehash else "0"
            print(f"| {size} MiB | {row[1]} | {row[2]:.2f} s | {row[3]:.2f} s | {row[4] / MIB:.0f} MiB | {alone} |")


if __name__ == "__main__":
    main()
