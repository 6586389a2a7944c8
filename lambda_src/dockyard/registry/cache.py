"""A small per-process cache of what never changes while it exists: blob links, (repository, digest) ->
where the bytes are, and manifests by digest, (repository, digest) -> the stored manifest.

So a warm instance can answer a blob HEAD or GET it has seen (or linked itself, or read of in a manifest's
pull hints: `registry.hints`), and a manifest GET or HEAD by digest it has read (by digest or through a tag),
without a DynamoDB read, as distribution's in-memory descriptor cache does. A
deletion drops the entry here at once; other instances may keep serving it for at most `ttl` seconds, well
inside the lifetime of a presigned URL they may already have handed out. Tags move, and are never cached.

`SmallBlobs` keeps the bytes of small blobs (an image's config, tiny layers) by digest: content-addressed,
they never change, and a repository sees them only through its link, checked as for any blob GET.
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


class SmallBlobs:
    """The bytes of blobs of at most `each` bytes, by digest, least recently used out past `total` bytes; and
    which small blobs were asked for once (so that a blob asked for once only is never read here)."""

    def __init__(self, each: int, total: int, asked: int = 4096):
        self.each, self.total, self.asked_size = each, total, asked
        self._entries: OrderedDict[Digest, bytes] = OrderedDict()
        self._asked: OrderedDict[Digest, None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, digest: Digest) -> bytes | None:
        with self._lock:
            data = self._entries.get(digest)
            if data is not None:
                self._entries.move_to_end(digest)
            return data

    def asked(self, digest: Digest) -> bool:
        with self._lock:
            return digest in self._asked

    def ask(self, digest: Digest) -> None:
        """Count `digest` as asked for."""
        with self._lock:
            self._asked[digest] = None
            while len(self._asked) > self.asked_size:
                self._asked.popitem(last=False)

    def put(self, digest: Digest, data: bytes) -> None:
        if len(data) > self.each:
            return
        with self._lock:
            if digest in self._entries:
                return
            self._entries[digest] = data
            self._bytes += len(data)
            while self._bytes > self.total:
                self._bytes -= len(self._entries.popitem(last=False)[1])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._asked.clear()
            self._bytes = 0
