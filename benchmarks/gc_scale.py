"""What a garbage collection run costs on a large registry: wall time and AWS calls by kind, and dollars.

    python benchmarks/gc_scale.py [--repos 100] [--tags 100] [--layers 10]

The registry (moto, in a process of its own) gets `repos` x `tags` tags, each on a manifest of its own with
`layers` blobs of its own: by default 10,000 tags and 100,000 links (and as many blob records). It is filled
through the storage and registry layers (links as an upload commits them, manifests through the registry's
PUT), with no blob bytes but the configs' and those of the garbage. Then four runs, each measured alone:
1. a real run with nothing to collect and no retention rule;
2. a real run after one manifest per repository was deleted (1% of the registry is garbage);
3. a dry run, then a real run, of a rule `*` that keeps the newest `tags - 1` tags of each repository.

Dollars (us-east-1 list prices, as of 2025-12; DynamoDB on-demand): read units per 4 KB read (1 strongly
consistent, 0.5 eventually: the queue's index is read eventually consistent), write units per KB written (2
per item of a transaction), S3 LIST $0.005 per 1,000 (DELETE is free), Lambda arm64 at 1024 MB for the
measured wall time (an upper bound: moto answers slower than DynamoDB).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from common import FAKE_ENV, MotoServer, environment

PRICES = {"read_unit": 0.125 / 1e6, "write_unit": 0.625 / 1e6, "s3_list": 0.005 / 1e3,
          "lambda_gb_second": 0.0000133334}
MEMORY_GB = 1.0
EVENTUAL = {"Query"}  # the GC queue is a global secondary index: eventually consistent reads only


class Meter:
    """AWS calls by kind, and the DynamoDB units they consume (estimated from what they send and get)."""

    def __init__(self, *clients):
        self.calls: Counter = Counter()
        self.read_units = self.write_units = 0.0
        for client in clients:
            service = client.meta.service_model.service_name
            client.meta.events.register("before-call.*.*", self._count(service))
            client.meta.events.register("before-parameter-build.dynamodb.*", self._written)
            client.meta.events.register("after-call.dynamodb.*", self._after)

    def _count(self, service: str):
        def count(model, **_):
            self.calls[(service, model.name)] += 1
        return count

    def _written(self, model, params, **_):
        if model.name == "TransactWriteItems":
            self.write_units += 2 * sum(max(1, math.ceil(len(json.dumps(i, default=len)) / 1024))
                                        for i in params["TransactItems"])
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.write_units += max(1, math.ceil(len(json.dumps(params, default=len)) / 1024))

    def _after(self, model, parsed, **_):
        if model.name in ("GetItem", "Query", "BatchGetItem"):
            items = parsed.get("Items") or ([parsed["Item"]] if "Item" in parsed else []) or \
                [i for found in parsed.get("Responses", {}).values() for i in found]
            size = sum(len(json.dumps(i, default=len)) for i in items)
            units = max(1, math.ceil(size / 4096)) if model.name != "BatchGetItem" else max(1, len(items))
            self.read_units += units * (0.5 if model.name in EVENTUAL else 1)

    def reset(self) -> None:
        self.calls.clear()
        self.read_units = self.write_units = 0.0

    def dollars(self, seconds: float) -> float:
        lists = self.calls[("s3", "ListObjectsV2")]
        return (self.read_units * PRICES["read_unit"] + self.write_units * PRICES["write_unit"]
                + lists * PRICES["s3_list"] + seconds * MEMORY_GB * PRICES["lambda_gb_second"])


def fill(registry, repos: int, tags: int, layers: int) -> list[tuple[str, str]]:
    """The registry's content; returns (repository, manifest digest) of one image per repository (the oldest)."""
    from dockyard.domain import mediatypes as mt
    from dockyard.domain.digest import Digest
    from tests.support.registry import image_manifest
    from dockyard.storage import keys
    from dockyard.storage.types import BlobRef

    def image(r: int, t: int) -> tuple[str, str]:
        repo = f"team{r:03d}/app"
        blobs = [f"{repo}:{t}:{n}".encode() for n in range(layers)]
        for n, blob in enumerate(blobs):
            digest = Digest.of(blob)
            # The config's bytes are in S3 (the push reads them for the pull hints); the layers' are not needed.
            location = registry.storage.objects.put_blob(digest, blob) if n == 0 else keys.blob_key(digest)
            registry.storage.blobs.link_blob(repo, digest, BlobRef(len(blob), location), record=True)
        body = image_manifest(blobs[0], blobs[1:])
        return repo, str(registry.manifests.put(repo, f"v{t:04d}", body, mt.OCI_MANIFEST)[0].digest)

    started, done = time.monotonic(), 0
    oldest = []
    with ThreadPoolExecutor(4) as pool:
        for t in range(tags):  # one tag per repository at a time: tags pushed in order, the oldest first
            found = list(pool.map(lambda r: image(r, t), range(repos)))
            if t == 0:
                oldest = found
            done += repos
            if done % 1000 == 0:
                print(f"  {done} tags, {done * layers} links in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        time.sleep(1.1)  # pushes are stamped in seconds: the runs below come after all of them
    return oldest


def run(registry, meter: Meter, dry_run: bool = False) -> dict:
    meter.reset()
    runner = registry.maintenance.runner
    started = time.monotonic()
    result = runner.work(runner.start(dry_run=dry_run, grace=0).id)
    seconds = time.monotonic() - started
    assert result.state == "done", result.error
    counts = {k: v for k, v in result.counts.items() if v}
    measured = {"seconds": seconds, "calls": dict(meter.calls), "read_units": meter.read_units,
                "write_units": meter.write_units, "dollars": meter.dollars(seconds), "counts": counts}
    shown = {**measured, "calls": {f"{s} {op}": n for (s, op), n in measured["calls"].items()}}
    print(f"  run{' (dry)' if dry_run else ''}: {json.dumps(shown)}", file=sys.stderr, flush=True)
    return measured


def main() -> None:
    import os

    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--tags", type=int, default=100)
    parser.add_argument("--layers", type=int, default=10)
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    import logging

    logging.getLogger("dockyard.audit").disabled = True  # a line per deletion, on stdout: not this report's
    from dockyard.config import Settings
    from dockyard.factory import build_registry
    from dockyard.storage.aws import ensure_bucket, ensure_table, make_clients
    from dockyard.storage.types import RetentionRule

    moto = MotoServer(serialized=True)
    try:
        name = f"gc-{uuid.uuid4().hex[:8]}"
        # moto serializes DynamoDB requests: with 4 writers on a loaded machine an answer can take more than
        # the default 10 s, which is a property of moto here, not of the registry.
        settings = Settings(bucket=name, table=name, endpoint_url=moto.endpoint, backend_timeout=60)
        s3, dynamodb = make_clients(settings)
        ensure_bucket(s3, settings)
        ensure_table(dynamodb, settings)
        registry = build_registry(settings, s3, dynamodb)
        started = time.monotonic()
        oldest = fill(registry, args.repos, args.tags, args.layers)
        filled = time.monotonic() - started
        meter = Meter(s3, dynamodb)
        results = {"nothing to collect": run(registry, meter)}
        for repo, digest in oldest:  # 1% garbage: one image per repository, with its objects in S3
            record = registry.manifests.get(repo, digest)
            for blob in registry.manifests.uses(record.digest, record.media_type, record.body, None).blobs:
                s3.put_object(Bucket=name, Key=registry.storage.blobs.get_link(repo, blob).location, Body=b"x")
            registry.manifests.delete(repo, digest)
        results["1% garbage (a manifest per repository deleted)"] = run(registry, meter)
        registry.maintenance.set_rule(RetentionRule("*", keep_last=args.tags - 2))
        results["retention keep-last, dry run"] = run(registry, meter, dry_run=True)
        results["retention keep-last"] = run(registry, meter)
    finally:
        moto.stop()

    tags, links = args.repos * args.tags, args.repos * args.tags * args.layers
    print(f"# Garbage collection at scale: {tags:,} tags, {links:,} links\n")
    print(f"{environment()}; moto (DynamoDB requests serialized; transactions and queries at the cost of the items "
          f"they touch, `dockyard.local`) in its own process. Filled in {filled:.0f} s.\n")
    kinds = sorted({k for r in results.values() for k in r["calls"]})
    print("| run | wall s | " + " | ".join(f"{s} {op}" for s, op in kinds) + " | read units | write units | $ per run | deleted |")
    print("| --- | --- | " + " | ".join("---" for _ in kinds) + " | --- | --- | --- | --- |")
    for label, r in results.items():
        print(f"| {label} | {r['seconds']:.1f} | " + " | ".join(str(r["calls"].get(k, 0)) for k in kinds)
              + f" | {r['read_units']:.0f} | {r['write_units']:.0f} | {r['dollars']:.5f} | "
              + ", ".join(f"{k}={v}" for k, v in r["counts"].items()) + " |")
    print("\nA run with nothing to collect reads the 16 shards of the queue and writes its own run record, "
          "whatever the registry's size; with garbage, its cost follows the garbage. Retention reads every "
          "tag and manifest of the repositories a rule covers (one query per 1,000 tags, per 100 manifests).")


if __name__ == "__main__":
    main()
