"""Garbage collection races pushes, deletes and mounts: a property test over interleavings of their AWS calls.

Each example runs, in threads, the registry's own code: two pushes (skopeo's order: HEAD each blob, upload
or mount the missing ones, PUT the manifest) reusing blobs of an image that a third worker deletes meanwhile,
a user's blob DELETE, and a whole real GC run with a grace of 0 (so it collects whatever it may, as early as
it may). Hypothesis picks which worker makes the next DynamoDB or S3 call, each of which is atomic. Whatever
the order: every tag resolves and pulls byte for byte, every link's record lives at the link's location, and
after a final GC, S3 holds exactly the objects of the live records (nothing referenced lost, nothing
unreferenced left).
"""

from __future__ import annotations

import io
import json
import os
import random
import uuid
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.domain import mediatypes as mt
from dockyard.domain.digest import Digest
from dockyard.domain.manifest import parse_manifest
from dockyard.errors import Err, RegistryError
from dockyard.storage import keys
from tests.support.gc import s3_keys
from tests.support.interleave import Interleaving
from tests.support.registry import image_manifest

# Why a worker may fail, whatever the order: a push whose blob was collected between its HEAD and its PUT
# (the client pushes again), a blob DELETE that a manifest refuses, one real GC run at a time.
ALLOWED = {Err.MANIFEST_BLOB_UNKNOWN, Err.REFERENCED, Err.BLOB_UNKNOWN}


def upload(registry, repo: str, data: bytes) -> None:
    registry.uploads.upload(repo, str(Digest.of(data)), io.BytesIO(data))


def push(registry, repo: str, tag: str, config: bytes, layers: list[bytes], mount_from: str | None):
    """What a client does: HEAD each blob, mount or upload what is missing, then PUT the manifest."""
    for blob in [config, *layers]:
        digest = str(Digest.of(blob))
        try:
            registry.blobs.stat(repo, digest)
            continue
        except RegistryError as missing:
            assert missing.err is Err.BLOB_UNKNOWN
        if mount_from is None or registry.blobs.mount(repo, digest, mount_from) is None:
            upload(registry, repo, blob)
    return registry.manifests.put(repo, tag, image_manifest(config, layers), mt.OCI_MANIFEST)[0]


def table_items(registry) -> list[dict]:
    client, table = registry.storage.blobs.table.client, registry.storage.blobs.table.name
    return [item for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
            for item in page["Items"]]


def check_pulls(registry, repos: list[str]) -> int:
    """Every tag of `repos` resolves, and every blob of its manifest is linked and reads back byte for byte."""
    pulled = 0
    for repo in repos:
        for tag in registry.storage.manifests.list_tags(repo, 1000, None).items:
            record = registry.manifests.get(repo, tag)
            manifest = parse_manifest(record.body, record.media_type)
            for digest in manifest.blobs:
                link = registry.storage.blobs.get_link(repo, digest)
                assert link is not None and not link.doomed, f"{repo}:{tag} lost {digest}"
                assert Digest.of(registry.storage.objects.read_blob(link.location)) == digest
            pulled += 1
    return pulled


def check_records(registry) -> set[str]:
    """Every link's record exists, is not doomed and names the link's location; returns the live records'."""
    items = table_items(registry)
    records = {item["pk"]["S"]: item for item in items if item["sk"]["S"] == keys.BLOB_RECORD_SK}
    for item in items:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk.startswith(keys.REPO_PREFIX) and sk.startswith("blob#") and "location" in item:
            record = records.get(keys.blob_record_pk(Digest.parse(sk[len("blob#"):])))
            assert record is not None and "doomed" not in record, f"{pk} {sk}: no live record"
            assert record["location"] == item["location"]
    return {record["location"]["S"] for record in records.values()}


def gc(registry) -> dict:
    runner = registry.maintenance.runner
    run = runner.work(runner.start(dry_run=False, grace=0).id)
    assert run.state == "done", run.error
    return run.counts


def instances(settings, registry, name: str, count: int) -> list:
    """`count` instances of a registry of its own (bucket and table `name`) on `registry`'s clients: each
    worker is an instance of its own (with its own link cache), as Lambda runs them."""
    from dockyard.factory import build_registry
    from dockyard.storage.aws import ensure_bucket, ensure_table

    s3, dynamodb = registry.storage.objects.client, registry.storage.blobs.table.client
    settings = replace(settings, bucket=name, table=name)
    ensure_bucket(s3, settings)
    ensure_table(dynamodb, settings)
    return [build_registry(settings, s3, dynamodb) for _ in range(count)]


def interleave(registry, workers, seed: int, allowed: set) -> list:
    """Run the workers, one AWS call at a time, in the order `seed` makes; each fails only with an `allowed`
    error. Returns what each returned (or raised)."""
    interleaving = Interleaving([registry.storage.blobs.table.client, registry.storage.objects.client])
    try:
        # The schedule comes from a seed, not from draws: how many choices a run makes depends on timing.
        schedule = random.Random(seed)
        starts = [schedule.randrange(80) for _ in workers]
        results = interleaving.run(workers, schedule.randrange, starts)
    finally:
        interleaving.close()
    for result in results:
        if isinstance(result, RegistryError):
            assert result.err in allowed, result
        else:
            assert not isinstance(result, BaseException), repr(result)
    return results


@settings(max_examples=int(os.environ.get("DOCKYARD_RACE_EXAMPLES", 30)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), mount=st.booleans(), shared=st.integers(1, 3))
def test_no_interleaving_of_pushes_deletes_and_gc_loses_a_referenced_blob(settings, registry, seed, mount, shared):
    run = uuid.uuid4().hex[:8]
    registry, a, b, deleter, gc_instance = instances(settings, registry, f"race-{run}", 5)
    repos = [f"race-{run}/a", f"race-{run}/b"]
    base = [os.urandom(64) for _ in range(3)]
    config = json.dumps({"os": "linux", "run": run}).encode()
    old_digest = push(registry, repos[0], "old", config, base, None).digest
    registry.manifests.delete(repos[0], "old")  # untagged, then deleted by the worker below
    reused = base[:shared]
    workers = [
        lambda: push(a, repos[0], "new", config, [*reused, os.urandom(32)], None),
        lambda: push(b, repos[1], "new", config, reused, repos[0] if mount else None),
        lambda: deleter.manifests.delete(repos[0], str(old_digest)),
        lambda: deleter.blobs.unlink(repos[0], str(Digest.of(base[-1]))),
        lambda: gc(gc_instance),
    ]
    results = interleave(registry, workers, seed, ALLOWED)
    pushed = [repo for repo, result in zip(repos, results[:2]) if not isinstance(result, BaseException)]
    assert check_pulls(registry, repos) == len(pushed)
    check_records(registry)
    gc(registry)  # a final run, alone
    assert check_pulls(registry, repos) == len(pushed)
    assert s3_keys(registry) == check_records(registry)

