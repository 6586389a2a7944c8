"""Write leases on upload sessions: take one, keep it through a long stream, give it back.

Sessions live in the table, so an upload started on one process can continue on another. A request that
writes to a session first takes its lease: one conditional update that also checks the session's kind,
repository, expiry and, for a chunk, its offset. Why a lease could not be taken is told here, once.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from dataclasses import replace
from typing import Generic

from dockyard.domain.ranges import range_header
from dockyard.errors import Err, RegistryError
from dockyard.storage.interfaces import S, UploadSessions
from dockyard.storage.types import ChunkedSession, ConditionFailed, Lease

log = logging.getLogger("dockyard")
UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def unknown(upload_id: str) -> RegistryError:
    return RegistryError(Err.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id[:64]!r} is unknown or expired")


def taken_over() -> RegistryError:
    return RegistryError(Err.UPLOAD_BUSY, "the upload was taken over by another request")


class Held(Generic[S]):
    """A session whose lease this request holds, for as long as the `with` block runs.

    The lease is short (`Settings.upload_lease`, 30 s by default) and a heartbeat thread renews it every
    third of that while the request runs. A writer that dies (a crash, a killed process, a Lambda timeout)
    stops renewing, so its session is free again within one lease, and the client's retry goes through.
    """

    def __init__(self, sessions: UploadSessions, session: S, lease: Lease, seconds: int):
        self.sessions, self.session, self.lease, self.seconds = sessions, session, lease, seconds
        self._done, self._lost = threading.Event(), False
        self._beat = threading.Thread(target=self._heartbeat, name=f"lease-{lease.upload_id[:8]}", daemon=True)

    def __enter__(self) -> Held[S]:
        self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()  # the lease itself is given back, saved or deleted by the request

    def _heartbeat(self) -> None:
        while not self._done.wait(self.seconds / 3):
            lease = replace(self.lease, until=int(time.time()) + self.seconds)
            try:
                self.sessions.renew_lease(lease)
            except ConditionFailed:
                self._lost = True  # taken over after it lapsed: `keep` stops the request
                return
            except Exception as exc:  # noqa: BLE001 - a backend hiccup: try again at the next beat
                log.warning("could not renew the lease of upload %s: %s", lease.upload_id, exc)
            else:
                self.lease = lease

    def keep(self) -> None:
        """Before writing more bytes: go on only while the lease is ours, with half of it still ahead, so
        that no write starts that could land after someone else took the session over."""
        if self._lost or self.lease.until - time.time() < self.seconds / 2 - 1:  # `until` is in whole seconds
            raise taken_over()

    def give_back(self) -> None:
        """Free the session for the next request, leaving its state as it was."""
        self._done.set()
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
        """Take the lease of a live session of `kind` in `repo` (at `offset`, for a chunk); use the result
        in a `with` block, which keeps the lease renewed."""
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
            wait = {"Retry-After": str(current.lease.until - now + 1)}
            return RegistryError(Err.UPLOAD_BUSY, "another request is writing to this upload",
                                 {**wait, "Range": range_header(current.offset)} if chunked else wait)
        if chunked and offset is not None and offset != current.offset:
            return RegistryError(Err.RANGE_NOT_SATISFIABLE,
                                 f"chunk starts at {offset}; the upload has {current.offset} bytes",
                                 {"Range": range_header(current.offset), "Docker-Upload-UUID": upload_id})
        return RegistryError(Err.TOOMANYREQUESTS, "the upload changed meanwhile; retry")
