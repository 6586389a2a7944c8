"""Chunked blob uploads through the registry: start, append chunks, finish, cancel; and monolithic ones.

A request that writes to a session holds its lease (see `dockyard.registry.lease`) and gives it back when it
saves the new state. Nothing is linked into a repository until the digest of what arrived matches the
digest the client claimed (see `dockyard.registry.commit`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace

from dockyard.config import Settings
from dockyard.domain.digest import Digest
from dockyard.domain.ranges import Chunk, check_received
from dockyard.errors import Err, RegistryError
from dockyard.registry.assembly import Assembly, BodyReader
from dockyard.registry.blobs import BlobInfo
from dockyard.registry.commit import Commit
from dockyard.registry.lease import Leases, taken_over
from dockyard.storage.interfaces import ByteStore, UploadSessions
from dockyard.storage.types import ChunkedSession, ConditionFailed, Lease


@dataclass(frozen=True)
class UploadState:
    """What a client learns of an open upload: its id, and how many bytes are stored."""

    id: str
    offset: int


class Uploads:
    def __init__(self, sessions: UploadSessions, store: ByteStore, commit: Commit, leases: Leases,
                 settings: Settings):
        self.sessions, self.store, self.commit, self.leases, self.settings = sessions, store, commit, leases, settings

    @property
    def max_chunk(self) -> int | None:
        """The largest chunk a client can send this host in one request (None: no limit)."""
        return self.settings.max_body

    def start(self, repo: str) -> UploadState:
        session = ChunkedSession(id=str(uuid.uuid4()), repo=repo, expires_at=self._expiry())
        self.sessions.create_chunked(session)
        return UploadState(session.id, 0)

    def status(self, repo: str, upload_id: str) -> UploadState:
        session = self.leases.find(ChunkedSession, repo, upload_id)
        return UploadState(session.id, session.offset)

    def append(self, repo: str, upload_id: str, body: BodyReader, chunk: Chunk | None) -> UploadState:
        """PATCH: append a streamed body, or a `Content-Range` chunk that must start at the current offset."""
        with self.leases.take(ChunkedSession, repo, upload_id, chunk.start if chunk else None) as held:
            session, assembly = held.session, None
            try:
                assembly = Assembly(self.store, session, self.settings.part_size, held.keep)
                check_received(chunk, assembly.write(body, chunk.length if chunk else None))
                saved = replace(assembly.suspend(), expires_at=self._expiry())
                self.sessions.save_chunked(saved, held.lease)
            except ConditionFailed:
                raise taken_over() from None
            except BaseException:
                if assembly is not None:
                    assembly.drain()
                held.give_back()
                raise
        if session.tail and saved.tail != session.tail:
            self.store.delete_tail(session.id, session.tail)
        return UploadState(saved.id, saved.offset)

    def finish(self, repo: str, upload_id: str, digest: str | None, body: BodyReader,
               chunk: Chunk | None) -> BlobInfo:
        """PUT ?digest=: take an optional last chunk, verify the whole blob, store and link it."""
        claimed = claimed_digest(digest)
        with self.leases.take(ChunkedSession, repo, upload_id, chunk.start if chunk else None) as held:
            assembly = Assembly(self.store, held.session, self.settings.part_size, held.keep)
            try:
                check_received(chunk, assembly.write(body, chunk.length if chunk else None))
                assembly.seal()
            except BaseException:
                # Nothing is lost: the session keeps what it had, and a retried PUT starts from there.
                assembly.drain()
                held.give_back()
                raise
            try:
                return self._complete(repo, assembly, claimed, held.lease)
            except BaseException:
                # Sealed: the session cannot take more bytes. What the commit linked (if anything) stays.
                self.sessions.delete_session(upload_id)
                raise

    def upload(self, repo: str, digest: str | None, body: BodyReader) -> BlobInfo:
        """POST ?digest=: a whole blob in one request, with no session left behind."""
        claimed = claimed_digest(digest)
        assembly = Assembly(self.store, ChunkedSession(id=str(uuid.uuid4()), repo=repo), self.settings.part_size)
        try:
            assembly.write(body)
            assembly.seal()
        except BaseException:
            self.commit.abandon(assembly)
            raise
        return self._complete(repo, assembly, claimed, None)

    def cancel(self, repo: str, upload_id: str) -> None:
        session = self.leases.find(ChunkedSession, repo, upload_id)
        if session.multipart_id:
            self.store.abort_multipart(self.store.assembly_location(session.id), session.multipart_id)
        self.store.delete_tails(session.id)
        self.sessions.delete_session(session.id)

    def _expiry(self) -> int:
        return int(time.time()) + self.settings.upload_ttl

    def _complete(self, repo: str, assembly: Assembly, claimed: Digest, closing: Lease | None) -> BlobInfo:
        ref = self.commit.commit(repo, claimed, assembly, closing)
        if assembly.has_tails:
            self.store.delete_tails(assembly.session.id)
        return BlobInfo(claimed, ref.size)


def claimed_digest(digest: str | None) -> Digest:
    """The digest a client claims for an upload (`?digest=`): required, and well formed."""
    if not digest:
        raise RegistryError(Err.DIGEST_INVALID, "the digest query parameter is required")
    return Digest.parse(digest)
