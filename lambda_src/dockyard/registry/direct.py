"""Direct uploads (a Dockyard extension): the client sends blob bytes straight to S3 with presigned URLs,
so no layer byte passes through the registry, and no request hits Lambda's payload cap.

- A blob up to 5 GiB goes in one PUT whose URL is bound to its size and SHA-256: S3 itself refuses other
  bytes, and the checksum S3 stored is compared with the claimed digest at completion, with no read.
- A larger blob (or one whose client asks for it) goes in parts, in parallel; completion assembles them
  and re-hashes the object, streaming it, because a multipart object has no whole-content SHA-256.

A session's id derives from (repository, digest): a push that was interrupted, or the same push from two
processes, finds the same session; parts that landed are not sent again. The object key is fresh per
session and nothing points at it until it is verified, so half-written bytes are never visible.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
import uuid
from collections.abc import Callable

from dockyard.config import Settings
from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError
from dockyard.registry.blobs import BlobInfo
from dockyard.registry.commit import Commit, Mismatch
from dockyard.registry.lease import Leases, taken_over
from dockyard.storage.interfaces import BlobIndex, ByteStore, UploadSessions
from dockyard.storage.s3_limits import MAX_OBJECT_SIZE, MAX_PARTS, MAX_PUT_SIZE, MIB, MIN_PART_SIZE
from dockyard.storage.types import BlobRef, ConditionFailed, DirectSession, ObjectStat, Part

DEFAULT_PART_SIZE = 64 * MIB


def direct_id(repo: str, digest: Digest) -> str:
    return str(uuid.UUID(hashlib.sha256(f"{repo}\0{digest}".encode()).hexdigest()[:32]))


class DirectObject:
    """The object a client uploaded, as the commit's candidate blob."""

    tagged = True  # presigned PUTs and multipart uploads both mark it unverified

    def __init__(self, store: ByteStore, session: DirectSession, stat: ObjectStat,
                 keep_lease: Callable[[], None] = lambda: None):
        self.store, self.session, self.stat, self.keep_lease = store, session, stat, keep_lease

    def mismatch(self, claimed: Digest) -> str | None:
        if self.stat.size != self.session.size or self._sha256() != claimed.encoded:
            return "the uploaded bytes do not match the claimed digest and size"
        return None

    def _sha256(self) -> str:
        """S3's own SHA-256 when it has one (a single PUT on AWS), else a streamed re-hash (renewing the
        session's lease as it goes, so that no one else takes the session meanwhile)."""
        if self.stat.sha256 is not None:
            return base64.b64decode(self.stat.sha256).hex()
        hasher = hashlib.sha256()
        for chunk in self.store.iter_blob(self.session.location):
            hasher.update(chunk)
            self.keep_lease()
        return hasher.hexdigest()

    @property
    def stored(self) -> str:
        return self.session.location

    def keep(self, digest: Digest) -> BlobRef:
        return BlobRef(self.session.size, self.session.location)

    def discard(self) -> None:
        _release(self.store, self.session)


class DirectUploads:
    def __init__(self, blobs: BlobIndex, sessions: UploadSessions, store: ByteStore, commit: Commit,
                 leases: Leases, settings: Settings):
        self.blobs, self.sessions, self.store = blobs, sessions, store
        self.commit, self.leases, self.settings = commit, leases, settings

    def begin(self, repo: str, digest: str, size: int, multipart: bool | None = None,
              part_size: int | None = None, may_mount: bool = False) -> dict:
        """Where to send a blob's bytes, or that there is nothing to send (`exists`, `mounted`)."""
        claimed = Digest.parse(digest)
        if claimed.algorithm != "sha256":
            raise RegistryError(Err.DIGEST_INVALID, "direct uploads take sha256 digests")
        if not _integer(size) or not 0 <= size <= MAX_OBJECT_SIZE:
            raise RegistryError(Err.SIZE_INVALID, f"size must be an integer from 0 to {MAX_OBJECT_SIZE}")
        if part_size is not None and (not _integer(part_size) or not MIN_PART_SIZE <= part_size <= MAX_PUT_SIZE):
            raise RegistryError(Err.INVALID_PARAMETER, f"part_size must be an integer from {MIN_PART_SIZE} to "
                                                       f"{MAX_PUT_SIZE}")
        if multipart is not None and not isinstance(multipart, bool):
            raise RegistryError(Err.INVALID_PARAMETER, "multipart must be true or false")
        limit = self.settings.verify_max
        if limit is not None and size > limit and (size > MAX_PUT_SIZE or multipart):
            # Parts are re-hashed at completion, within one request: refuse what the host could not finish.
            whole = "; send it in one PUT" if size <= MAX_PUT_SIZE else ""
            raise RegistryError(Err.SIZE_INVALID, f"a blob sent in parts may have at most {limit} bytes here: its "
                                                  f"completion re-hashes it within one request{whole}")
        if self.blobs.get_link(repo, claimed) is not None:
            return {"status": "exists"}
        if may_mount:
            recorded = self.blobs.get_blob(claimed)
            if recorded is not None and not recorded.doomed and recorded.size == size and \
                    self.store.stat(recorded.location) is not None and self.commit.mount(repo, claimed, recorded):
                return {"status": "mounted"}
        session = self._session(repo, claimed, size, multipart, part_size)
        if not self.sessions.create_direct(session, int(time.time())):
            _release(self.store, session)  # nothing was sent to it yet
            session = self._resumed(repo, claimed, size)
        return self._plan(session)

    def part_urls(self, repo: str, upload_id: str, numbers: list[int]) -> dict:
        """Fresh URLs for some parts (after the first ones expired)."""
        session = self.leases.find(DirectSession, repo, upload_id)
        if not session.part_size:
            return self._plan(session)
        count = _part_count(session)
        if not isinstance(numbers, list) or not all(_integer(n) and 1 <= n <= count for n in numbers):
            raise RegistryError(Err.INVALID_PARAMETER, f"numbers must be a list of part numbers from 1 to {count}")
        if len(numbers) > self.settings.part_urls:
            raise RegistryError(Err.INVALID_PARAMETER, f"at most {self.settings.part_urls} part URLs per request")
        return {"parts": [self._part(session, n) for n in numbers]}

    def complete(self, repo: str, upload_id: str) -> BlobInfo:
        """Verify the uploaded object against the claimed digest, then link it. Idempotent: a blob that a
        concurrent push of the same image completed first is simply there."""
        with self.leases.take(DirectSession, repo, upload_id) as held:
            session = held.session
            try:
                stat = self.store.stat(session.location)
                if stat is None and session.multipart_id:
                    self._assemble(session)
                    stat = self.store.stat(session.location)
                if stat is None:
                    raise RegistryError(Err.BLOB_UPLOAD_INVALID, "nothing was uploaded yet")
            except BaseException:
                held.give_back()
                raise
            try:
                ref = self.commit.commit(repo, session.digest, DirectObject(self.store, session, stat, held.keep),
                                         held.lease)
            except Mismatch:
                self.sessions.delete_session(session.id)
                raise
        return BlobInfo(session.digest, ref.size)

    def abort(self, repo: str, upload_id: str) -> None:
        """Cancel: take the session's lease, delete the session (so that no completion can link its bytes
        any more), then give the bytes up."""
        with self.leases.take(DirectSession, repo, upload_id) as held:
            try:
                self.sessions.delete_session(upload_id, held.lease)
            except ConditionFailed:
                raise taken_over() from None
        self.commit.abandon(DirectObject(self.store, held.session, ObjectStat(0)), held.session.digest)

    # --- helpers ----------------------------------------------------------------------------------------

    def _session(self, repo: str, digest: Digest, size: int, multipart: bool | None,
                 part_size: int | None) -> DirectSession:
        upload_id = direct_id(repo, digest)
        location = self.store.direct_location(upload_id)
        use_parts = size > MAX_PUT_SIZE or (bool(multipart) and size > 0)
        chosen = 0
        if use_parts:
            chosen = min(max(part_size or DEFAULT_PART_SIZE, math.ceil(size / MAX_PARTS)), MAX_PUT_SIZE)
        return DirectSession(
            id=upload_id, repo=repo, digest=digest, size=size, location=location, part_size=chosen,
            multipart_id=self.store.start_multipart(location) if use_parts else None,
            expires_at=int(time.time()) + self.settings.upload_ttl)

    def _resumed(self, repo: str, digest: Digest, size: int) -> DirectSession:
        session = self.sessions.get_session(direct_id(repo, digest))
        if not isinstance(session, DirectSession):
            raise RegistryError(Err.TOOMANYREQUESTS, "the upload session changed meanwhile; retry")
        if session.size != size:
            raise RegistryError(Err.SIZE_INVALID, f"an upload of {digest} with {session.size} bytes is open")
        return session

    def _plan(self, session: DirectSession) -> dict:
        plan = {"status": "upload", "upload": session.id, "size": session.size}
        if not session.part_size:
            sha = base64.b64encode(bytes.fromhex(session.digest.encoded)).decode()
            url, headers = self.store.presign_put(session.location, session.size, sha, self.settings.upload_url_ttl)
            return {**plan, "method": "single", "url": url, "headers": headers}
        count = _part_count(session)
        if self.store.stat(session.location) is not None:
            # Assembled already (a completion was interrupted after that step): nothing left to send.
            return {**plan, "method": "multipart", "part_size": session.part_size,
                    "landed": list(range(1, count + 1)), "parts": []}
        landed = self.store.list_parts(session.location, session.multipart_id)
        missing = _missing(session, landed)
        # The first parts' URLs; the client asks for the others (`part_urls`) as it goes.
        return {**plan, "method": "multipart", "part_size": session.part_size, "max_urls": self.settings.part_urls,
                "landed": sorted(set(landed) - set(missing)),
                "parts": [self._part(session, n) for n in missing[:self.settings.part_urls]]}

    def _part(self, session: DirectSession, number: int) -> dict:
        return {"number": number, "offset": (number - 1) * session.part_size, "size": _length(session, number),
                "url": self.store.presign_part(session.location, session.multipart_id, number,
                                               self.settings.upload_url_ttl)}

    def _assemble(self, session: DirectSession) -> None:
        landed = self.store.list_parts(session.location, session.multipart_id)
        missing = _missing(session, landed)
        if missing:
            raise RegistryError(Err.BLOB_UPLOAD_INVALID, {"missing_parts": missing[:100]})
        self.store.complete_multipart(session.location, session.multipart_id,
                                      [landed[n].etag for n in range(1, _part_count(session) + 1)])


def _release(store: ByteStore, session: DirectSession) -> None:
    """Drop a direct session's multipart upload, if it has one (its object, if any, is given up apart)."""
    if session.multipart_id:
        store.abort_multipart(session.location, session.multipart_id)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _part_count(session: DirectSession) -> int:
    return max(1, math.ceil(session.size / session.part_size))


def _length(session: DirectSession, number: int) -> int:
    return min(session.part_size, session.size - (number - 1) * session.part_size)


def _missing(session: DirectSession, landed: dict[int, Part]) -> list[int]:
    """Part numbers not landed, or landed with the wrong size."""
    return [n for n in range(1, _part_count(session) + 1)
            if n not in landed or landed[n].size != _length(session, n)]
