"""A small per-process cache of what never changes while it exists: blob links, (repository, digest) ->
where the bytes are, and manifests by digest, (repository, digest) -> the stored manifest.

So a warm instance can answer a blob HEAD or GET it has seen (or linked itself), and a manifest GET or HEAD
by digest it has read, without a DynamoDB read, as distribution's in-memory descriptor cache does. A
deletion drops the entry here at once; other instances may keep serving it for at most `ttl` seconds, well
inside the lifetime of a presigned URL they may already have handed out. Tags move, and are never cached.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from typing import Any

from dockyard.domain.digest import Digest


class LinkCache:
    def __init__(self, ttl: float, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self._entries: OrderedDict[tuple[str, Digest], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, repo: str, digest: Digest) -> Any:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get((repo, digest))
            if entry is None or entry[0] < time.monotonic():
                return None
            self._entries.move_to_end((repo, digest))
            return entry[1]

    def put(self, repo: str, digest: Digest, ref: Any) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[(repo, digest)] = (time.monotonic() + self.ttl, ref)
            self._entries.move_to_end((repo, digest))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, repo: str, digest: Digest) -> None:
        with self._lock:
            self._entries.pop((repo, digest), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
