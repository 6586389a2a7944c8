"""Write leases on upload sessions: take one, keep it through a long stream, give it back.

Sessions live in the table, so an upload started on one process can continue on another. A request that
writes to a session first takes its lease: one conditional update that also checks the session's kind,
repository, expiry and, for a chunk, its offset. Why a lease could not be taken is told here, once.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import replace
from typing import Generic

from dockyard.domain.ranges import range_header
from dockyard.errors import Err, RegistryError
from dockyard.storage.interfaces import S, UploadSessions
from dockyard.storage.types import ChunkedSession, ConditionFailed, Lease

UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def unknown(upload_id: str) -> RegistryError:
    return RegistryError(Err.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id[:64]!r} is unknown or expired")


def taken_over() -> RegistryError:
    return RegistryError(Err.UPLOAD_BUSY, "the upload was taken over by another request")


class Held(Generic[S]):
    """A session whose lease this request holds."""

    def __init__(self, sessions: UploadSessions, session: S, lease: Lease, seconds: int):
        self.sessions, self.session, self.lease, self.seconds = sessions, session, lease, seconds
        self.renewed = time.time()

    def keep(self) -> None:
        """Renew the lease once a third of it has passed (call it often while streaming)."""
        now = time.time()
        if now - self.renewed > self.seconds / 3:
            lease = replace(self.lease, until=int(now) + self.seconds)
            try:
                self.sessions.renew_lease(lease)
            except ConditionFailed:
                raise taken_over() from None
            self.lease, self.renewed = lease, now

    def give_back(self) -> None:
        """Free the session for the next request, leaving its state as it was."""
        self.sessions.release_lease(self.lease)


class Leases:
    def __init__(self, sessions: UploadSessions, seconds: int):
        self.sessions, self.seconds = sessions, seconds

    def find(self, kind: type[S], repo: str, upload_id: str) -> S:
        """A live session of `kind` in `repo` (one consistent read), whether or not someone writes to it."""
        session = self.sessions.get_session(upload_id) if UPLOAD_ID.match(upload_id) else None
        if not isinstance(session, kind) or session.repo != repo or session.expires_at <= time.time():
            raise unknown(upload_id)
        return session

    def take(self, kind: type[S], repo: str, upload_id: str, offset: int | None = None) -> Held[S]:
        """Take the lease of a live session of `kind` in `repo` (at `offset`, for a chunk)."""
        if not UPLOAD_ID.match(upload_id):
            raise unknown(upload_id)
        now = int(time.time())
        lease = Lease(upload_id, secrets.token_hex(8), now + self.seconds)
        try:
            session = self.sessions.take_lease(kind, upload_id, repo, lease, now, offset)
        except ConditionFailed as failed:
            raise self._refusal(kind, repo, upload_id, failed.current, offset, now) from None
        return Held(self.sessions, session, lease, self.seconds)

    @staticmethod
    def _refusal(kind: type, repo: str, upload_id: str, current, offset: int | None, now: int) -> RegistryError:
        if not isinstance(current, kind) or current.repo != repo or current.expires_at <= now:
            return unknown(upload_id)
        chunked = isinstance(current, ChunkedSession)
        if current.lease and current.lease.until >= now:
            return RegistryError(Err.UPLOAD_BUSY, "another request is writing to this upload",
                                 {"Range": range_header(current.offset)} if chunked else None)
        if chunked and offset is not None and offset != current.offset:
            return RegistryError(Err.RANGE_NOT_SATISFIABLE,
                                 f"chunk starts at {offset}; the upload has {current.offset} bytes",
                                 {"Range": range_header(current.offset), "Docker-Upload-UUID": upload_id})
        return RegistryError(Err.TOOMANYREQUESTS, "the upload changed meanwhile; retry")
