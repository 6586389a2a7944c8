"""Storage quotas race pushes, deletes, mounts and garbage collection: a property test over interleavings of
their AWS calls (as `test_gc_races`), under a quota that not every push fits in.

Whatever the order, the quota's counts are exact: its `used` is the size of the distinct blobs linked in its
namespace, as a scan of the table counts them, and each blob's membership counts its links there, so that
nothing is counted twice (a link counted in and out by two writers) or left counted (a link GC removed). A
push the quota refuses leaves nothing linked; one that fits after GC freed the space is taken.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from fnmatch import fnmatchcase

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError
from dockyard.storage import keys
from tests.api.test_gc_races import ALLOWED, check_pulls, check_records, gc, instances, interleave, push, table_items


def check_counts(registry, pattern: str, within_limit: bool = True) -> int:
    """The quota's `used` and memberships against the links the table holds; returns `used`."""
    items = table_items(registry)
    [rule] = [i for i in items if i["pk"]["S"] == keys.QUOTA_PK and i["sk"]["S"] == keys.rule_sk(pattern)]
    quota_id = rule["id"]["S"]
    links, sizes = Counter(), {}
    for item in items:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        repo = pk[len(keys.REPO_PREFIX):]
        if pk.startswith(keys.REPO_PREFIX) and sk.startswith(keys.LINK_PREFIX) and fnmatchcase(repo, pattern) \
                and "location" in item:  # a link (a placeholder holds no bytes)
            assert quota_id in item["quotas"]["SS"], f"{pk} {sk} is not counted"
            links[sk] += 1
            sizes[sk] = int(item["size"]["N"])
    members = {i["sk"]["S"]: int(i["links"]["N"]) for i in items if i["pk"]["S"] == keys.quota_pk(quota_id)}
    assert members == dict(links), (members, dict(links))
    assert int(rule["used"]["N"]) == sum(sizes.values())
    assert int(rule["used"]["N"]) <= int(rule["limit"]["N"]) or not within_limit
    return int(rule["used"]["N"])


def counted_in(instance, pattern: str) -> None:
    """Count in what the namespace held before its quota, to the end (as `quota set` does)."""
    for _ in range(50):
        if instance.quotas.count(pattern)["state"] != "counting":
            return
    raise AssertionError("counting in did not finish")


@settings(max_examples=int(os.environ.get("DOCKYARD_RACE_EXAMPLES", 20)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), mount=st.booleans(), shared=st.integers(1, 3), later=st.booleans())
def test_no_interleaving_of_pushes_deletes_and_gc_miscounts_a_quota(settings, registry, seed, mount, shared, later):
    """With `later`, the quota comes after the first image, and counting it in races the rest too."""
    run = uuid.uuid4().hex[:8]
    registry, a, b, c, deleter, gc_instance, counter = instances(settings, registry, f"quota-{run}", 7)
    counter.quotas.clock = lambda: time.time() + 3600  # every instance knows the quota by then
    pattern, repos = f"quota-{run}/*", [f"quota-{run}/a", f"quota-{run}/b"]
    base = [os.urandom(64) for _ in range(3)]
    config = json.dumps({"os": "linux", "run": run}).encode()
    big = os.urandom(200)
    # Room for the base image and the first push's new layer; the big one fits only once GC freed base[-1]
    # (which the old image's deletion and the blob DELETE make garbage).
    limit = len(config) + 64 * 3 + 32 + len(big) - 64 + 16
    if not later:
        registry.quotas.set(pattern, limit)
    old_digest = push(registry, repos[0], "old", config, base, None).digest
    registry.manifests.delete(repos[0], "old")  # untagged, then deleted by the worker below
    if later:
        registry.quotas.set(pattern, limit)  # counting: what the namespace holds is not counted yet
    reused = base[:shared]
    workers = [
        lambda: push(a, repos[0], "new", config, [*reused, os.urandom(32)], None),
        lambda: push(b, repos[1], "new", config, reused, repos[0] if mount else None),
        lambda: push(c, repos[1], "big", config, [big], None),
        lambda: deleter.manifests.delete(repos[0], str(old_digest)),
        lambda: deleter.blobs.unlink(repos[0], str(Digest.of(base[-1]))),
        lambda: gc(gc_instance),
        lambda: counter.quotas.count(pattern) if later else None,
    ]
    results = interleave(registry, workers, seed, {*ALLOWED, Err.QUOTA_EXCEEDED})
    assert check_pulls(registry, repos) == sum(1 for r in results[:3] if not isinstance(r, BaseException))
    if later:
        counted_in(counter, pattern)
    # Counting in is not refused (what is stored stays): only a quota set first holds its limit throughout.
    check_counts(registry, pattern, within_limit=not later)
    if isinstance(results[2], RegistryError) and results[2].err is Err.QUOTA_EXCEEDED:
        assert registry.storage.blobs.get_link(repos[1], Digest.of(big)) is None  # nothing half-linked
    gc(registry)  # a final run, alone
    check_counts(registry, pattern, within_limit=not later)
    check_records(registry)
