"""Blob reads and cross-repository mounts. A blob is visible only in repositories it is linked into."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dockyard.config import Settings
from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError
from dockyard.registry.cache import LinkCache, SmallBlobs
from dockyard.registry.commit import Commit
from dockyard.registry.hints import config_of
from dockyard.registry.meter import Meter
from dockyard.registry.pullthrough import PullThrough, Remote
from dockyard.storage.interfaces import BlobIndex, ByteReader
from dockyard.storage.types import BlobRef, PullHints, StillReferenced


@dataclass(frozen=True)
class BlobInfo:
    """A blob as a route reports it; `size` is None where it is not known (a mount through the gateway)."""

    digest: Digest
    size: int | None


@dataclass(frozen=True)
class Located:
    """Where a GET finds a blob: a short-lived `url` to redirect to, or (a small blob this instance keeps)
    its bytes, answered at once."""

    info: BlobInfo
    url: str | None = None
    data: bytes | None = None


log = logging.getLogger("dockyard")

# Small blobs a warm instance answers itself: up to 64 KiB each (an image config is a few KiB), 8 MiB in all.
SMALL_BLOB = 64 * 1024
SMALL_BLOBS_TOTAL = 8 * 1024 * 1024


class Blobs:
    def __init__(self, index: BlobIndex, store: ByteReader, commit: Commit, settings: Settings, links: LinkCache,
                 meter: Meter, cache: PullThrough | None = None, referencing=lambda repo, digest: None):
        """`referencing(repo, digest)` names a manifest of `repo` that references blob `digest` (or None)."""
        self.index, self.store, self.commit, self.settings, self.links = index, store, commit, settings, links
        self.meter, self.cache, self.referencing = meter, cache, referencing
        self.small = SmallBlobs(SMALL_BLOB, SMALL_BLOBS_TOTAL)

    def stat(self, repo: str, digest: str) -> BlobInfo:
        """HEAD: at most one DynamoDB read (none when this instance knows the link), no S3 call."""
        try:
            parsed, ref = self._linked(repo, digest, fetch=False)
        except Remote as remote:  # an upstream's blob, not cached yet
            return BlobInfo(Digest.parse(digest), remote.size)
        return BlobInfo(parsed, ref.size)

    def locate(self, repo: str, digest: str, whole: bool = True) -> Located:
        """GET: a short-lived presigned URL for the blob, after at most one DynamoDB read (presigning is
        local). A small blob (`SMALL_BLOB`) that this instance is asked for a second time is read from S3
        once and then answered from memory (with no call at all when the link is known too): the client's S3
        GET is saved. Only for a `whole` blob; a range goes to S3."""
        try:
            parsed, ref = self._linked(repo, digest, fetch=True)
        except Remote as remote:  # too large to cache: served by the upstream
            return Located(BlobInfo(Digest.parse(digest), remote.size), url=remote.url)
        info = BlobInfo(parsed, ref.size)
        small = whole and ref.size <= SMALL_BLOB
        if small and (data := self._small(parsed, ref)) is not None:
            located = Located(info, data=data)
        else:
            located = Located(info, url=self.store.presign_get(ref.location, self.settings.presign_ttl))
            if small:
                self.small.ask(parsed)  # after every call that may block (`offload` may run this twice)
        # counted last: on the event loop, `offload` may run this again
        self.meter.downloaded(repo, ref.size, served=located.data is not None)
        return located

    def prime(self, repo: str, hints: PullHints) -> None:
        """Remember what a manifest of `repo` just read from the table says of its blobs (`registry.hints`):
        where each is linked (unless a read of the link itself is remembered: it may be the later), and its
        config's bytes."""
        for digest, ref in hints.links:
            if self.links.get(repo, digest) is None:
                self.links.put(repo, digest, ref)
        if (config := config_of(hints)) is not None:
            self.small.put(*config)

    def _small(self, digest: Digest, ref: BlobRef) -> bytes | None:
        data = self.small.get(digest)
        if data is None and self.small.asked(digest):  # asked again: worth one read of the bytes
            data = self.store.read_blob(ref.location)
            if len(data) != ref.size or Digest.of(data, digest.algorithm) != digest:
                log.error("blob %s at %s does not match its digest; redirecting to it", digest, ref.location)
                return None
            self.small.put(digest, data)
        return data

    def _linked(self, repo: str, digest: str, fetch: bool) -> tuple[Digest, BlobRef]:
        parsed = Digest.parse(digest)
        ref = self.links.get(repo, parsed)
        if ref is None:  # only a read from the table starts (or restarts) an entry's time to live
            ref = self.index.get_link(repo, parsed)
            if ref is None and self.cache is not None:
                ref = self.cache.blob(repo, parsed, fetch)  # a pull-through cache's blob (fetched, if asked)
            if ref is None:
                raise RegistryError(Err.BLOB_UNKNOWN, f"blob {parsed} is not in repository {repo}")
            self.links.put(repo, parsed, ref)
        return parsed, ref

    def mount(self, repo: str, digest: str, source: str | None) -> BlobInfo | None:
        """Link a blob of `source` into `repo`; None when `source` does not have it (the caller uploads).
        With no source, any copy the registry holds is used (the route allows this only where knowing a
        digest may not reveal a blob: with access control off, or for an admin)."""
        parsed = Digest.parse(digest)
        ref = self.index.get_link(source, parsed) if source is not None else self.index.get_blob(parsed)
        if ref is None or ref.doomed:
            return None
        if source != repo and self.commit.mount(repo, parsed, ref) is None:
            return None  # being collected: the client uploads it
        return BlobInfo(parsed, ref.size)

    def unlink(self, repo: str, digest: str) -> None:
        """DELETE: the blob leaves this repository (garbage collection deletes its bytes once no repository
        links it). Refused while a manifest of the repository references it: that would leave a tag that
        resolves but does not pull."""
        if not self.settings.delete_enabled:
            raise RegistryError(Err.UNSUPPORTED, "deletion is disabled on this registry")
        parsed = Digest.parse(digest)
        try:
            unlinked = self.commit.unlink(repo, parsed)
        except StillReferenced as refused:
            detail = {"digest": str(parsed), "references": refused.count}
            by = self.referencing(repo, parsed)
            if by is not None:
                detail["referenced_by"] = str(by)
            raise RegistryError(Err.REFERENCED, detail) from None
        if not unlinked:
            raise RegistryError(Err.BLOB_UNKNOWN, f"blob {parsed} is not in repository {repo}")
