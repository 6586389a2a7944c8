"""Verify, then link: how every upload path turns stored bytes into a blob a repository can see.

An upload keeps its bytes first (a `Candidate`), unlinked. Only once they match the claimed digest are
they linked, in one transaction that also records the blob (unless the registry holds it already) and
closes the upload session. The `unverified` mark comes off first, and this instance's link cache learns the
link.
"""

from __future__ import annotations

from typing import Protocol

from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError
from dockyard.registry.cache import LinkCache
from dockyard.storage.interfaces import BlobIndex, ByteStore
from dockyard.storage.types import BlobRecorded, BlobRef, ConditionFailed, Lease


class Mismatch(RegistryError):
    """The bytes are not the claimed blob (the candidate was discarded)."""

    def __init__(self, detail: str):
        super().__init__(Err.DIGEST_INVALID, detail)


class Candidate(Protocol):
    """Bytes an upload kept, not linked anywhere yet."""

    @property
    def tagged(self) -> bool:
        """Whether the bytes carry the `unverified` mark, which lifecycle rules expire."""

    def mismatch(self, claimed: Digest) -> str | None:
        """Why the bytes are not the blob `claimed` (None: they are)."""

    def keep(self, digest: Digest, existing: BlobRef | None) -> BlobRef:
        """The verified bytes where they will stay, or `existing` (then ours are dropped)."""

    def discard(self) -> None:
        """Delete the bytes: they will not be linked."""


class Commit:
    def __init__(self, blobs: BlobIndex, objects: ByteStore, links: LinkCache):
        self.blobs, self.objects, self.links = blobs, objects, links

    def commit(self, repo: str, claimed: Digest, candidate: Candidate, closing: Lease | None) -> BlobRef:
        """Verify the candidate against `claimed` (`Mismatch` if it is not), then link it into `repo`,
        closing the session `closing` holds."""
        reason = candidate.mismatch(claimed)
        if reason is not None:
            candidate.discard()
            raise Mismatch(reason)
        return self._link(repo, claimed, candidate, closing)

    def _link(self, repo: str, digest: Digest, candidate: Candidate, closing: Lease | None) -> BlobRef:
        """Keep verified bytes (or reuse the registry's copy of the same blob, unless its object is gone)
        and link them. If the write fails, our bytes are deleted only when no record points at them: a
        transaction that committed but whose answer was lost must not leave a link to a deleted object.

        The `unverified` mark comes off before the link, never after: a crash between the two then leaves
        verified bytes that nothing links (a leak), never a linked blob that a lifecycle rule expires."""
        existing = self.blobs.get_blob(digest)
        stale = existing if existing is not None and self.objects.stat(existing.location) is None else None
        ref = candidate.keep(digest, None if stale else existing)
        ours = existing is None or stale is not None  # these bytes become the registry's copy
        if ours and candidate.tagged:
            self.objects.mark_verified(ref.location)
        try:
            try:
                self.blobs.link_blob(repo, digest, ref, record=ours, replaces=stale.location if stale else None,
                                     closing=closing)
            except BlobRecorded:
                # A concurrent upload of the same blob recorded its copy first: use it, drop ours.
                ref, ours = candidate.keep(digest, self.blobs.get_blob(digest)), False
                self.blobs.link_blob(repo, digest, ref, closing=closing)
        except BaseException as exc:
            linked = self.blobs.get_link(repo, digest)
            if linked is None or linked.location != ref.location:
                self._failed(digest, ref, candidate, exc)
        self.links.put(repo, digest, ref)
        return ref

    def _failed(self, digest: Digest, ref: BlobRef, candidate: Candidate, exc: BaseException):
        if isinstance(exc, ConditionFailed):
            # The session was cancelled, or taken over after our lease ran out: its bytes are not ours to
            # delete any more (the new holder may link them; a cancel deletes them itself).
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, "the upload was cancelled or taken over") from None
        recorded = self.blobs.get_blob(digest)
        if recorded is None or recorded.location != ref.location:
            candidate.discard()
        raise exc

    def mount(self, repo: str, digest: Digest, ref: BlobRef) -> None:
        """Link a blob the registry holds already into `repo` (no bytes move)."""
        self.blobs.link_blob(repo, digest, ref)
        self.links.put(repo, digest, ref)

    def unlink(self, repo: str, digest: Digest) -> bool:
        """Take a blob's link out of `repo` and out of this instance's cache; False if it was not linked."""
        self.links.drop(repo, digest)
        unlinked = self.blobs.unlink_blob(repo, digest)
        self.links.drop(repo, digest)  # again: a read racing the delete may have cached it meanwhile
        return unlinked
