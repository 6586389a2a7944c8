"""Verify, then link: how every upload path turns stored bytes into a blob a repository can see.

An upload keeps its bytes first (a `Candidate`), unlinked. Only once they match the claimed digest are
they linked, in one transaction that also counts the link on the blob's record (or records the blob, unless
the registry holds a live copy already), closes the upload session and counts the blob into the storage
quotas of the repository's namespaces (a link over one is refused, and nothing is written). The
`unverified` mark comes off first, and this instance's link cache learns the link.

The serving path never deletes blob bytes: bytes it does not link (a duplicate of the registry's copy, a
mismatch) are handed to garbage collection (`BlobIndex.drop_bytes`), and only after the link to the
registry's copy committed, so that a copy collected meanwhile makes the upload keep its own instead.
"""

from __future__ import annotations

from typing import Protocol

from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError
from dockyard.registry.cache import LinkCache
from dockyard.registry.quotas import Quotas, refusal
from dockyard.storage.interfaces import BlobIndex, ByteStore
from dockyard.storage.types import BlobDoomed, BlobRecorded, BlobRef, ConditionFailed, Contended, Lease, QuotaExceeded

# Attempts at linking while the blob's record changes underneath (recorded by a concurrent upload, or
# collected); each attempt reads the record again.
ATTEMPTS = 5


class Mismatch(RegistryError):
    """The bytes are not the claimed blob (the candidate was given up)."""

    def __init__(self, detail: str):
        super().__init__(Err.DIGEST_INVALID, detail)


class Candidate(Protocol):
    """Bytes an upload kept, not linked anywhere yet."""

    @property
    def tagged(self) -> bool:
        """Whether the bytes carry the `unverified` mark, which lifecycle rules expire."""

    @property
    def stored(self) -> str | None:
        """Where the bytes are stored (None: nowhere yet, they are only in memory)."""

    def mismatch(self, claimed: Digest) -> str | None:
        """Why the bytes are not the blob `claimed` (None: they are)."""

    def keep(self, digest: Digest) -> BlobRef:
        """The verified bytes where they will stay (written there now if they were only in memory)."""

    def discard(self) -> None:
        """Release what the bytes hold besides their object (a multipart upload, tails): they will not be linked."""


class InMemory:
    """Bytes a request holds whole (a manifest body kept as a blob), as a commit's candidate."""

    tagged = False

    def __init__(self, store: ByteStore, data: bytes):
        self.store, self.data, self.stored = store, data, None

    def mismatch(self, claimed: Digest) -> str | None:
        actual = Digest.of(self.data, claimed.algorithm)
        return None if actual == claimed else f"digest of the content is {actual}"

    def keep(self, digest: Digest) -> BlobRef:
        if self.stored is None:
            self.stored = self.store.put_blob(digest, self.data)
        return BlobRef(len(self.data), self.stored)

    def discard(self) -> None:
        pass


class Commit:
    def __init__(self, blobs: BlobIndex, objects: ByteStore, links: LinkCache, quotas: Quotas):
        self.blobs, self.objects, self.links, self.quotas = blobs, objects, links, quotas

    def commit(self, repo: str, claimed: Digest, candidate: Candidate, closing: Lease | None) -> BlobRef:
        """Verify the candidate against `claimed` (`Mismatch` if it is not), then link it into `repo`,
        closing the session `closing` holds; a link over a quota is refused (`QUOTA_EXCEEDED`) and its bytes
        are discarded."""
        reason = candidate.mismatch(claimed)
        if reason is not None:
            self.abandon(candidate, claimed)
            raise Mismatch(reason)
        try:
            return self._link(repo, claimed, candidate, closing)
        except QuotaExceeded as exc:
            raise refusal(exc, repo, claimed) from None

    def abandon(self, candidate: Candidate, digest: Digest | None = None) -> None:
        """Give the candidate's bytes up: garbage collection deletes them."""
        candidate.discard()
        if candidate.stored is not None:
            self.blobs.drop_bytes(digest, candidate.stored)

    def _link(self, repo: str, digest: Digest, candidate: Candidate, closing: Lease | None) -> BlobRef:
        """Link the registry's live copy of the blob if it has one (then ours is given up), else record ours.
        If the write fails, our bytes are given up only when no record points at them: a transaction that
        committed but whose answer was lost must not leave a link to a collected object.

        The `unverified` mark comes off our bytes before they are recorded, never after: a crash between the
        two then leaves verified bytes that nothing links (a leak), never a linked blob that a lifecycle rule
        expires."""
        quotas = self.quotas.applying(repo)
        for _ in range(ATTEMPTS):
            existing = self.blobs.get_blob(digest)
            usable = existing is not None and not existing.doomed and self.objects.stat(existing.location) is not None
            stale = existing.location if existing is not None and not existing.doomed and not usable else None
            ref = existing if usable else candidate.keep(digest)
            if not usable and candidate.tagged:
                self.objects.mark_verified(ref.location)
            try:
                linked = self.blobs.link_blob(repo, digest, BlobRef(ref.size, ref.location), record=not usable,
                                              replaces=stale, closing=closing, quotas=quotas)
            except (BlobRecorded, BlobDoomed):
                continue  # recorded by a concurrent upload, or being collected: read the record again
            except BaseException as exc:
                self._failed(repo, digest, ref, candidate, exc)
                linked = ref
            if candidate.stored is not None and candidate.stored != linked.location:
                self.blobs.drop_bytes(digest, candidate.stored)  # the registry's copy is linked: ours goes
            self.links.put(repo, digest, linked)
            return linked
        raise RegistryError(Err.TOOMANYREQUESTS, f"blob {digest} is changing too fast; retry")

    def _failed(self, repo: str, digest: Digest, ref: BlobRef, candidate: Candidate, exc: BaseException) -> None:
        """Returns if the link committed after all; else gives our bytes up (unless recorded) and raises."""
        if isinstance(exc, ConditionFailed):
            # The session was cancelled, or taken over after our lease ran out: its bytes are not ours to give
            # up any more (the new holder may link them; a cancel gives them up itself).
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, "the upload was cancelled or taken over") from None
        linked = self.blobs.get_link(repo, digest)
        if linked is not None and linked.location == ref.location:
            return
        recorded = self.blobs.get_blob(digest)
        if candidate.stored is not None and (recorded is None or recorded.location != candidate.stored):
            self.abandon(candidate, digest)
        if isinstance(exc, Contended):
            raise _contended(repo, digest) from None
        raise exc

    def mount(self, repo: str, digest: Digest, ref: BlobRef) -> BlobRef | None:
        """Link a blob the registry holds already into `repo` (no bytes move); None if it is being collected;
        `QUOTA_EXCEEDED` over a quota."""
        for _ in range(2):
            try:
                linked = self.blobs.link_blob(repo, digest, ref, quotas=self.quotas.applying(repo))
            except BlobDoomed:
                ref = self.blobs.get_blob(digest)  # the record moved (or went): link it where it is now
                if ref is None or ref.doomed:
                    return None
                continue
            except QuotaExceeded as exc:
                raise refusal(exc, repo, digest) from None
            except Contended:
                raise _contended(repo, digest) from None
            self.links.put(repo, digest, linked)
            return linked
        return None

    def forget(self, repo: str, digests) -> None:
        """Drop links found missing from this instance's memory (collected elsewhere since it read them), so
        that the client's next HEAD reads the table and it uploads them again."""
        for digest in digests:
            self.links.drop(repo, digest)

    def unlink(self, repo: str, digest: Digest) -> bool:
        """Take a blob's link out of `repo` and out of this instance's cache; False if it was not linked."""
        self.links.drop(repo, digest)
        try:
            unlinked = self.blobs.unlink_blob(repo, digest)
        except Contended:
            raise _contended(repo, digest) from None
        self.links.drop(repo, digest)  # again: a read racing the delete may have cached it meanwhile
        return unlinked


def _contended(repo: str, digest: Digest) -> RegistryError:
    """What the counts of a link (its manifests, its quotas) changing under every attempt answers."""
    return RegistryError(Err.TOOMANYREQUESTS, f"the counts of blob {digest} in {repo} are changing too fast; retry")
