"""The blob upload lifecycle: start, append chunks, finish (verify, store, link), cancel.

Sessions live in DynamoDB, so an upload started on one process can continue on another. A request that
writes to a session first takes its lease with one conditional update (which also checks the chunk's
offset), and gives it back when it saves the new state. Nothing is linked into a repository until the
digest of what arrived matches the digest the client claimed.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass, replace

from dockyard.config import Settings
from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError
from dockyard.registry.assembly import Assembly, BodyReader
from dockyard.registry.blobs import BlobInfo
from dockyard.registry.cache import LinkCache
from dockyard.storage.base import BlobRecorded, BlobRef, ConditionFailed, UploadSession
from dockyard.storage.dynamo_meta import DynamoMeta
from dockyard.storage.s3_blobs import S3Blobs

UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:/(?:\d{1,15}|\*))?\Z")


@dataclass(frozen=True)
class Chunk:
    """The inclusive byte range a chunk claims (from `Content-Range`)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @classmethod
    def parse(cls, content_range: str | None, content_length: int | None) -> Chunk | None:
        if content_range is None:
            return None
        match = _CONTENT_RANGE.match(content_range.strip())
        if not match or int(match[2]) < int(match[1]):
            raise RegistryError(Err.BLOB_UPLOAD_INVALID, f"invalid Content-Range: {content_range[:100]!r}")
        chunk = cls(int(match[1]), int(match[2]))
        if content_length is not None and content_length != chunk.length:
            raise RegistryError(Err.SIZE_INVALID,
                                f"Content-Length {content_length} does not match Content-Range {content_range}")
        return chunk


def range_header(offset: int) -> str:
    """The `Range` an upload reports: the inclusive range stored so far (`0-0` when empty, as distribution)."""
    return f"0-{max(offset - 1, 0)}"


class Lease:
    """Keeps a session's write lease alive through a long stream."""

    def __init__(self, meta: DynamoMeta, session: UploadSession, seconds: int):
        self.meta, self.session, self.seconds, self.renewed = meta, session, seconds, time.time()

    def keep(self) -> None:
        now = time.time()
        if now - self.renewed > self.seconds / 3:
            try:
                self.meta.renew_lock(self.session.id, self.session.lock or "", int(now) + self.seconds)
            except ConditionFailed:
                raise RegistryError(Err.UPLOAD_BUSY, "the upload was taken over by another request") from None
            self.renewed = now


class Uploads:
    def __init__(self, meta: DynamoMeta, store: S3Blobs, settings: Settings, links: LinkCache | None = None):
        self.meta, self.store, self.settings = meta, store, settings
        self.links = links or LinkCache(0)

    @property
    def max_chunk(self) -> int | None:
        """The largest chunk a client can send this host in one request (None: no limit)."""
        return self.settings.max_body

    def start(self, repo: str) -> UploadSession:
        session = UploadSession(id=str(uuid.uuid4()), repo=repo, expires_at=self._expiry())
        self.meta.create_upload(session)
        return session

    def status(self, repo: str, upload_id: str) -> UploadSession:
        session = self.meta.get_upload(upload_id) if UPLOAD_ID.match(upload_id) else None
        if session is None or session.repo != repo or session.expires_at <= time.time():
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id[:64]!r} is unknown or expired")
        return session

    def append(self, repo: str, upload_id: str, body: BodyReader, content_range: str | None,
               content_length: int | None) -> UploadSession:
        """PATCH: append a streamed body, or a `Content-Range` chunk that must start at the current offset."""
        chunk = Chunk.parse(content_range, content_length)
        session = self._lock(repo, upload_id, chunk.start if chunk else None)
        lease = Lease(self.meta, session, self.settings.upload_lease)
        assembly = None
        try:
            assembly = Assembly(self.store, session, self.settings.part_size, lease.keep)
            self._receive(assembly, body, chunk)
            saved = replace(assembly.suspend(), expires_at=self._expiry())
            self.meta.save_upload(saved)
        except ConditionFailed:
            raise RegistryError(Err.UPLOAD_BUSY, "the upload was taken over by another request") from None
        except BaseException:
            if assembly is not None:
                assembly.drain()
            self.meta.unlock_upload(session.id, session.lock or "")
            raise
        if session.tail and saved.tail != session.tail:
            self.store.delete_tail(session.id, session.tail)
        return saved

    def finish(self, repo: str, upload_id: str, digest: str | None, body: BodyReader,
               content_range: str | None, content_length: int | None) -> BlobInfo:
        """PUT ?digest=: take an optional last chunk, verify the whole blob, store and link it."""
        claimed = _claimed(digest)
        chunk = Chunk.parse(content_range, content_length)
        session = self._lock(repo, upload_id, chunk.start if chunk else None)
        assembly = Assembly(self.store, session, self.settings.part_size,
                            Lease(self.meta, session, self.settings.upload_lease).keep)
        try:
            self._receive(assembly, body, chunk)
            assembly.seal()
        except BaseException:
            # Nothing is lost: the session keeps what it had, and a retried PUT starts from there.
            assembly.drain()
            self.meta.unlock_upload(session.id, session.lock or "")
            raise
        try:
            return self._complete(assembly, claimed)
        except BaseException:
            # Sealed: the session cannot take more bytes. What `_complete` linked (if anything) stays.
            self.meta.delete_upload(session.id)
            raise

    def upload(self, repo: str, digest: str | None, body: BodyReader) -> BlobInfo:
        """POST ?digest=: a whole blob in one request, with no session left behind."""
        claimed = _claimed(digest)
        assembly = Assembly(self.store, UploadSession(id=str(uuid.uuid4()), repo=repo), self.settings.part_size)
        try:
            assembly.write(body)
            assembly.seal()
        except BaseException:
            assembly.discard()
            raise
        return self._complete(assembly, claimed)

    def cancel(self, repo: str, upload_id: str) -> None:
        session = self.status(repo, upload_id)
        self.store.discard_upload(session.id, session.multipart_id)
        self.meta.delete_upload(session.id)

    # --- helpers ----------------------------------------------------------------------------------------

    def _expiry(self) -> int:
        return int(time.time()) + self.settings.upload_ttl

    def take_lease(self, repo: str, upload_id: str, offset: int | None = None) -> UploadSession:
        """Take a session's write lease (one conditional update); `ConditionFailed.current` says why not."""
        if not UPLOAD_ID.match(upload_id):
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id[:64]!r} is unknown")
        now = int(time.time())
        return self.meta.lock_upload(upload_id, repo, secrets.token_hex(8), now, now + self.settings.upload_lease,
                                     offset)

    def _lock(self, repo: str, upload_id: str, offset: int | None) -> UploadSession:
        try:
            return self.take_lease(repo, upload_id, offset)
        except ConditionFailed as failed:
            current, now = failed.current, int(time.time())
        if current is None or current.repo != repo or current.expires_at <= now:
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id!r} is unknown or expired")
        if current.lock and current.lock_until >= now:
            raise RegistryError(Err.UPLOAD_BUSY, "another request is writing to this upload",
                                {"Range": range_header(current.offset)})
        raise RegistryError(Err.RANGE_NOT_SATISFIABLE,
                            f"chunk starts at {offset}; the upload has {current.offset} bytes",
                            {"Range": range_header(current.offset), "Docker-Upload-UUID": upload_id})

    @staticmethod
    def _receive(assembly: Assembly, body: BodyReader, chunk: Chunk | None) -> None:
        received = assembly.write(body, chunk.length if chunk else None)
        if chunk and received != chunk.length:
            raise RegistryError(Err.SIZE_INVALID,
                                f"Content-Range announced {chunk.length} bytes; {received} arrived")

    def _complete(self, assembly: Assembly, claimed: Digest) -> BlobInfo:
        """Verify the sealed bytes against the claimed digest, keep and link them, then clean up."""
        actual = assembly.digest(claimed.algorithm)
        if actual != claimed:
            assembly.discard()
            raise RegistryError(Err.DIGEST_INVALID, f"digest of the uploaded content is {actual}")
        ref = self.link_verified(assembly, claimed)
        if assembly.has_tails:
            self.store.discard_upload(assembly.session.id, None)
        return BlobInfo(claimed, ref.size)

    def link_verified(self, assembly, digest: Digest) -> BlobRef:
        """Keep verified bytes (or reuse the registry's copy of the same blob) and link them, in one
        transaction that also closes the session. `assembly` is the candidate blob: an `Assembly`, or a
        direct upload's object (anything with `session`, `store_blob` and `discard`).

        If the write fails, our bytes are deleted only when no record points at them: a transaction that
        committed but whose answer was lost must not leave a link to a deleted object.
        """
        session = assembly.session
        upload = session if session.lock else None
        existing = self.meta.get_blob(digest)
        stale = existing if existing is not None and not self.store.blob_exists(existing.location) else None
        ref = assembly.store_blob(digest, None if stale else existing)
        ours = existing is None or stale is not None  # these bytes become the registry's copy
        try:
            try:
                self.meta.link_blob(session.repo, digest, ref, upload, record=existing is None or bool(stale),
                                    replaces=stale.location if stale else None)
            except BlobRecorded:
                # A concurrent upload of the same blob recorded its copy first: use it, drop ours.
                ref, ours = assembly.store_blob(digest, self.meta.get_blob(digest)), False
                self.meta.link_blob(session.repo, digest, ref, upload, record=False)
        except BaseException as exc:
            linked = self.meta.get_link(session.repo, digest)
            if linked is not None and linked.location == ref.location:
                return ref  # it did commit
            if isinstance(exc, ConditionFailed):
                # The session was cancelled, or taken over after our lease ran out: its bytes are not ours
                # to delete any more (the new holder may link them; a cancel deletes them itself).
                raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, "the upload was cancelled or taken over") from None
            recorded = self.meta.get_blob(digest)
            if recorded is None or recorded.location != ref.location:
                assembly.discard()
            raise
        if ours and getattr(assembly, "tagged", True):
            self.store.mark_verified(ref.location)
        self.links.put(session.repo, digest, ref)
        return ref


def _claimed(digest: str | None) -> Digest:
    if not digest:
        raise RegistryError(Err.DIGEST_INVALID, "the digest query parameter is required")
    return Digest.parse(digest)
