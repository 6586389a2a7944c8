"""The per-process link cache: entries expire, reads never extend them, drops are immediate."""

import time

from dockyard.domain.digest import Digest
from dockyard.registry.cache import LinkCache
from dockyard.storage.types import BlobRef

D = Digest.of(b"x")
REF = BlobRef(1, "blobs/sha256/aa/x")


def test_an_entry_expires_however_often_it_is_read():
    cache = LinkCache(ttl=0.3)
    cache.put("r", D, REF)
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        cache.get("r", D)
        time.sleep(0.02)
    assert cache.get("r", D) is None


def test_repositories_do_not_share_entries():
    cache = LinkCache(ttl=60)
    cache.put("a", D, REF)
    assert cache.get("a", D) == REF and cache.get("b", D) is None


def test_drop_size_and_off():
    cache = LinkCache(ttl=60, size=2)
    for repo in ("a", "b", "c"):
        cache.put(repo, D, REF)
    assert cache.get("a", D) is None and cache.get("c", D) == REF
    cache.drop("c", D)
    assert cache.get("c", D) is None
    off = LinkCache(ttl=0)
    off.put("a", D, REF)
    assert off.get("a", D) is None
