"""Writing an upload's bytes to S3 while they stream in, with bounded memory.

Whole parts (`part_size`, 6 MiB by default) go to an S3 multipart upload as soon as they fill, in the
background, while the next part fills: one part in flight at most, so memory is two part buffers. What is left
at the end of a request, if smaller than S3's 5 MiB part minimum, waits in a tail object and is prepended
to the next chunk. A running SHA-256 covers every byte received; its state is saved with the session so
that any process can continue it. Memory use is one part buffer, whatever the blob's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

from dockyard.domain.digest import Digest
from dockyard.domain.hashing import ResumableSha256
from dockyard.storage.interfaces import ByteStore
from dockyard.storage.s3_limits import MAX_PARTS, MIN_PART_SIZE
from dockyard.storage.types import BlobRef, ChunkedSession

# Bytes taken from the request per read: small enough that the reader's copies stay cheap.
READ_BLOCK = 1024 * 1024
# Part uploads overlap the receiving of the next part (shared by all uploads of the process).
_PARTS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="dockyard-part")


class BodyReader(Protocol):
    def read(self, size: int) -> bytes:
        """Up to `size` bytes (exactly `size` unless the body ends); b"" at the end."""


class Assembly:
    """The bytes of one chunked upload session, as they are being appended to; once sealed, the commit's
    candidate blob."""

    def __init__(self, store: ByteStore, session: ChunkedSession, part_size: int,
                 keep_lease: Callable[[], None] = lambda: None):
        self.store = store
        self.session = session
        self.target = store.assembly_location(session.id)
        self.part_size = part_size
        self.keep_lease = keep_lease
        self.multipart_id = session.multipart_id
        self.parts = session.parts
        self.offset = session.offset
        self.hasher = self._resume_hash(session)
        self.buffer = bytearray(store.read_tail(session.id, session.tail)) if session.tail else bytearray()
        self.tail_changed = False
        self.wrote_tail = False
        self._pending: Future | None = None
        self.location: str | None = None  # set once a multipart upload is assembled
        self.written: str | None = None  # where a small blob was written whole, once verified

    @staticmethod
    def _resume_hash(session: ChunkedSession) -> ResumableSha256 | None:
        if session.offset == 0 and not session.hash_state:
            return ResumableSha256() if ResumableSha256.available() else None
        return ResumableSha256(session.hash_state) if ResumableSha256.can_resume(session.hash_state) else None

    @property
    def has_tails(self) -> bool:
        """Whether tail objects of this upload may exist in S3."""
        return bool(self.session.tail or self.wrote_tail)

    def write(self, body: BodyReader, limit: int | None = None) -> int:
        """Append the body (at most `limit` + 1 bytes are read); returns the number of bytes received."""
        received = 0
        while True:
            want = min(READ_BLOCK, self.part_size - len(self.buffer))
            if limit is not None:
                want = min(want, limit + 1 - received)
            chunk = body.read(want) if want > 0 else b""
            if not chunk:
                break
            self.buffer += chunk
            if self.hasher:
                self.hasher.update(chunk)
            received += len(chunk)
            if len(self.buffer) >= self.part_size:
                self._send_part()
        self.offset += received
        self.tail_changed = self.tail_changed or received > 0
        return received

    def _send_part(self) -> None:
        """Start sending the buffer as the next part; first wait for the part before it (one in flight)."""
        if self.parts + 1 > MAX_PARTS:
            raise OverflowError("upload exceeds the maximum number of parts")
        self.flush()
        self.keep_lease()
        if self.multipart_id is None:
            self.multipart_id = self.store.start_multipart(self.target)
        self._pending = _PARTS.submit(self.store.upload_part, self.target, self.multipart_id, self.parts + 1,
                                      self.buffer)
        self.parts += 1
        self.buffer = bytearray()

    def flush(self) -> None:
        """Wait until the part in flight has landed (raising its error, if it failed)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def drain(self) -> None:
        """After a failure: let the part in flight finish, so that nothing writes to this upload once its
        lease is given back."""
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - the failure being handled matters, not this one
            pass

    def suspend(self) -> ChunkedSession:
        """End of a chunk: keep what is left for the next request. Returns the session's new state."""
        tail, tail_size = self.session.tail, self.session.tail_size
        if len(self.buffer) >= MIN_PART_SIZE:
            self._send_part()
            tail, tail_size = None, 0
        elif self.tail_changed:
            tail = self.store.put_tail(self.session.id, bytes(self.buffer)) if self.buffer else None
            tail_size, self.wrote_tail = len(self.buffer), tail is not None
        self.flush()
        return replace(self.session, offset=self.offset, parts=self.parts, multipart_id=self.multipart_id,
                       tail=tail, tail_size=tail_size, hash_state=self.hasher.state() if self.hasher else None)

    def digest(self, algorithm: str) -> Digest:
        """The digest of everything received. Small blobs are hashed in memory; large ones in stream, or by
        reading the assembled object back where no resumable state exists (call `seal` first)."""
        if self.location is None:
            return Digest.of(bytes(self.buffer), algorithm)
        if self.hasher and algorithm == "sha256":
            return Digest("sha256", self.hasher.hexdigest())
        hasher = hashlib.new(algorithm)
        for chunk in self.store.iter_blob(self.location):
            hasher.update(chunk)
        return Digest(algorithm, hasher.hexdigest())

    def seal(self) -> None:
        """Final chunk received: send the last part and assemble the multipart upload in place."""
        if self.multipart_id is not None:
            if self.buffer:
                self._send_part()
            self.flush()
            self.keep_lease()
            self._assemble()

    def _assemble(self) -> None:
        """Assemble parts 1..parts in place (later numbers are leftovers of failed requests and are
        dropped): the blob stays there once verified, with no copy."""
        landed = self.store.list_parts(self.target, self.multipart_id)
        missing = [n for n in range(1, self.parts + 1) if n not in landed]
        if missing:
            raise RuntimeError(f"upload {self.session.id}: parts {missing[:5]} are missing from S3")
        self.store.complete_multipart(self.target, self.multipart_id, [landed[n].etag for n in range(1, self.parts + 1)])
        self.location = self.target

    # --- the commit's candidate (see `dockyard.registry.commit.Candidate`) ---------------------------

    @property
    def tagged(self) -> bool:
        """An assembled multipart upload is marked unverified; a small blob is written only once verified."""
        return self.location is not None

    @property
    def stored(self) -> str | None:
        return self.location or self.written

    def mismatch(self, claimed: Digest) -> str | None:
        actual = self.digest(claimed.algorithm)
        return None if actual == claimed else f"digest of the uploaded content is {actual}"

    def keep(self, digest: Digest) -> BlobRef:
        if self.location is None and self.written is None:
            self.written = self.store.put_blob(digest, bytes(self.buffer))
        return BlobRef(self.offset, self.stored)

    def discard(self) -> None:
        """Release the multipart upload and tails of bytes that will not be linked (the object, if one was
        assembled or written, is the commit's to give up)."""
        self.drain()
        if self.multipart_id and self.location is None:
            self.store.abort_multipart(self.target, self.multipart_id)
        if self.has_tails:
            self.store.delete_tails(self.session.id)
