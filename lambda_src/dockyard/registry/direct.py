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

from dockyard.config import MIN_PART_SIZE, Settings
from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError
from dockyard.registry.blobs import BlobInfo
from dockyard.registry.uploads import Lease, Uploads
from dockyard.storage.base import BlobRef, ConditionFailed, UploadSession
from dockyard.storage.dynamo_meta import DynamoMeta
from dockyard.storage.s3_blobs import S3Blobs

MIB = 1024 * 1024
SINGLE_PUT_MAX = 5 * 1024 * MIB  # S3's largest single PUT
MAX_SIZE = 5 * 1024 * 1024 * MIB  # S3's largest object
DEFAULT_PART_SIZE = 64 * MIB
MAX_PARTS = 10_000


def direct_id(repo: str, digest: Digest) -> str:
    return str(uuid.UUID(hashlib.sha256(f"{repo}\0{digest}".encode()).hexdigest()[:32]))


class _DirectObject:
    """The uploaded object, as `Uploads.link_verified` handles a candidate blob."""

    def __init__(self, store: S3Blobs, session: UploadSession):
        self.store, self.session = store, session

    def store_blob(self, digest: Digest, existing: BlobRef | None) -> BlobRef:
        if existing is not None:
            self.store.delete_blob(self.session.location)
            return existing
        return BlobRef(self.session.size, self.session.location)

    def discard(self) -> None:
        self.store.abort_direct(self.session.location, self.session.multipart_id)


class DirectUploads:
    def __init__(self, meta: DynamoMeta, store: S3Blobs, uploads: Uploads, settings: Settings):
        self.meta, self.store, self.uploads, self.settings = meta, store, uploads, settings

    def begin(self, repo: str, digest: str, size: int, multipart: bool | None = None,
              part_size: int | None = None, may_mount: bool = False) -> dict:
        """Where to send a blob's bytes, or that there is nothing to send (`exists`, `mounted`)."""
        claimed = Digest.parse(digest)
        if claimed.algorithm != "sha256":
            raise RegistryError(Err.DIGEST_INVALID, "direct uploads take sha256 digests")
        if not _integer(size) or not 0 <= size <= MAX_SIZE:
            raise RegistryError(Err.SIZE_INVALID, f"size must be an integer from 0 to {MAX_SIZE}")
        if part_size is not None and (not _integer(part_size) or not MIN_PART_SIZE <= part_size <= SINGLE_PUT_MAX):
            raise RegistryError(Err.INVALID_PARAMETER, f"part_size must be an integer from {MIN_PART_SIZE} to "
                                                       f"{SINGLE_PUT_MAX}")
        if multipart is not None and not isinstance(multipart, bool):
            raise RegistryError(Err.INVALID_PARAMETER, "multipart must be true or false")
        if self.meta.get_link(repo, claimed) is not None:
            return {"status": "exists"}
        if may_mount:
            recorded = self.meta.get_blob(claimed)
            if recorded is not None and recorded.size == size and self.store.blob_exists(recorded.location):
                self.meta.link_blob(repo, claimed, recorded, record=False)
                return {"status": "mounted"}
        session = self._session(repo, claimed, size, multipart, part_size)
        if not self.meta.create_direct(session):
            if session.multipart_id:
                self.store.abort_direct(session.location, session.multipart_id)
            session = self._resumed(repo, claimed, size)
        return self._plan(session)

    def part_urls(self, repo: str, upload_id: str, numbers: list[int]) -> dict:
        """Fresh URLs for some parts (after the first ones expired)."""
        session = self._direct(repo, upload_id)
        if not session.part_size:
            return self._plan(session)
        count = _part_count(session)
        if not isinstance(numbers, list) or len(numbers) > MAX_PARTS or \
                not all(_integer(n) and 1 <= n <= count for n in numbers):
            raise RegistryError(Err.INVALID_PARAMETER, f"numbers must be a list of part numbers from 1 to {count}")
        return {"parts": [self._part(session, n) for n in numbers]}

    def complete(self, repo: str, upload_id: str) -> BlobInfo:
        """Verify the uploaded object against the claimed digest, then link it. Idempotent: a blob that a
        concurrent push of the same image completed first is simply there."""
        session = self._lock(repo, upload_id)
        if not session.digest:
            self.meta.unlock_upload(session.id, session.lock or "")
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, "not a direct upload")
        claimed = Digest.parse(session.digest)
        try:
            stat = self.store.stored_checksum(session.location)
            if stat is None and session.multipart_id:
                self._assemble(session)
                stat = self.store.stored_checksum(session.location)
            if stat is None:
                raise RegistryError(Err.BLOB_UPLOAD_INVALID, "nothing was uploaded yet")
        except BaseException:
            self.meta.unlock_upload(session.id, session.lock or "")
            raise
        candidate = _DirectObject(self.store, session)
        size, checksum = stat
        lease = Lease(self.meta, session, self.settings.upload_lease)
        if size != session.size or not self._verified(session, claimed, checksum, lease.keep):
            candidate.discard()
            self.meta.delete_upload(session.id)
            raise RegistryError(Err.DIGEST_INVALID, "the uploaded bytes do not match the claimed digest and size")
        ref = self.uploads.link_verified(candidate, claimed)
        return BlobInfo(claimed, ref.size)

    def abort(self, repo: str, upload_id: str) -> None:
        """Cancel: take the session's lease, delete the session (so that no completion can link its bytes
        any more), then the bytes."""
        session = self._lock(repo, upload_id)
        try:
            self.meta.delete_upload(session.id, lock=session.lock)
        except ConditionFailed:
            raise RegistryError(Err.UPLOAD_BUSY, "the upload was taken over by another request") from None
        self.store.abort_direct(session.location, session.multipart_id)

    def _lock(self, repo: str, upload_id: str) -> UploadSession:
        try:
            return self.uploads.take_lease(repo, upload_id)
        except ConditionFailed as failed:
            return self._completed_elsewhere(repo, upload_id, failed.current)

    # --- helpers ----------------------------------------------------------------------------------------

    def _session(self, repo: str, digest: Digest, size: int, multipart: bool | None,
                 part_size: int | None) -> UploadSession:
        upload_id = direct_id(repo, digest)
        location = self.store.direct_location(upload_id)
        use_parts = size > SINGLE_PUT_MAX or (bool(multipart) and size > 0)
        chosen = 0
        if use_parts:
            chosen = min(max(part_size or DEFAULT_PART_SIZE, math.ceil(size / MAX_PARTS)), SINGLE_PUT_MAX)
        return UploadSession(
            id=upload_id, repo=repo, digest=str(digest), size=size, location=location, part_size=chosen,
            multipart_id=self.store.start_direct_multipart(location) if use_parts else None,
            expires_at=int(time.time()) + self.settings.upload_ttl)

    def _resumed(self, repo: str, digest: Digest, size: int) -> UploadSession:
        session = self.meta.get_upload(direct_id(repo, digest))
        if session is None or not session.digest:
            raise RegistryError(Err.TOOMANYREQUESTS, "the upload session changed meanwhile; retry")
        if session.size != size:
            raise RegistryError(Err.SIZE_INVALID, f"an upload of {digest} with {session.size} bytes is open")
        return session

    def _direct(self, repo: str, upload_id: str) -> UploadSession:
        session = self.uploads.status(repo, upload_id)
        if not session.digest:
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, "not a direct upload")
        return session

    def _plan(self, session: UploadSession) -> dict:
        plan = {"status": "upload", "upload": session.id, "size": session.size}
        if not session.part_size:
            sha = base64.b64encode(bytes.fromhex(Digest.parse(session.digest).encoded)).decode()
            url, headers = self.store.presign_put(session.location, session.size, sha, self.settings.upload_url_ttl)
            return {**plan, "method": "single", "url": url, "headers": headers}
        count = _part_count(session)
        if self.store.stored_checksum(session.location) is not None:
            # Assembled already (a completion was interrupted after that step): nothing left to send.
            return {**plan, "method": "multipart", "part_size": session.part_size,
                    "landed": list(range(1, count + 1)), "parts": []}
        landed = self.store.list_parts(session.location, session.multipart_id)
        missing = [n for n in range(1, count + 1) if landed.get(n, (None, -1))[1] != _length(session, n)]
        return {**plan, "method": "multipart", "part_size": session.part_size,
                "landed": sorted(set(landed) - set(missing)), "parts": [self._part(session, n) for n in missing]}

    def _part(self, session: UploadSession, number: int) -> dict:
        return {"number": number, "offset": (number - 1) * session.part_size, "size": _length(session, number),
                "url": self.store.presign_part(session.location, session.multipart_id, number,
                                               self.settings.upload_url_ttl)}

    def _assemble(self, session: UploadSession) -> None:
        landed = self.store.list_parts(session.location, session.multipart_id)
        count = _part_count(session)
        missing = [n for n in range(1, count + 1) if landed.get(n, (None, -1))[1] != _length(session, n)]
        if missing:
            raise RegistryError(Err.BLOB_UPLOAD_INVALID, {"missing_parts": missing[:100]})
        self.store.complete_direct(session.location, session.multipart_id, [landed[n][0] for n in range(1, count + 1)])

    def _verified(self, session: UploadSession, claimed: Digest, checksum: str | None, keep=lambda: None) -> bool:
        """S3's own SHA-256 when it has one (a single PUT on AWS), else a streamed re-hash (renewing the
        session's lease as it goes, so that no one else takes the session meanwhile)."""
        if checksum is not None:
            return base64.b64decode(checksum).hex() == claimed.encoded
        hasher = hashlib.sha256()
        for chunk in self.store.iter_blob(session.location):
            hasher.update(chunk)
            keep()
        return hasher.hexdigest() == claimed.encoded

    def _completed_elsewhere(self, repo: str, upload_id: str, current: UploadSession | None):
        if current is not None and current.repo == repo and current.lock:
            raise RegistryError(Err.UPLOAD_BUSY, "this upload is being completed by another request")
        if current is not None and current.repo == repo and current.digest:
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, "the upload session expired")
        raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id[:64]!r} is unknown or already complete")


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _part_count(session: UploadSession) -> int:
    return max(1, math.ceil(session.size / session.part_size))


def _length(session: UploadSession, number: int) -> int:
    return min(session.part_size, session.size - (number - 1) * session.part_size)
