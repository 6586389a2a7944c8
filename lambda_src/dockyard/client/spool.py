"""The gateway's upload backend: the same upload routes as the registry's, over local spool files.

A blob sent in PATCHes (docker, skopeo, podman, crane) is hashed as it arrives and spooled to a local file,
since its digest comes only at the end; then it goes to S3 through the direct-upload API, in one checked
PUT or parallel parts (the push client's sequence). A blob that arrives whole with its digest and length
(containerd, oras, BuildKit: a PUT or POST with `?digest=`) streams straight to S3 in one PUT that S3 checks
against the SHA-256, spooling nothing. Either way no layer byte passes through the registry's function.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.client.http import RegistryClient
from dockyard.client.http import RegistryError as ClientError
from dockyard.client.progress import Progress
from dockyard.client.push import Pusher
from dockyard.client.source import Blob
from dockyard.domain.digest import Digest
from dockyard.domain.ranges import Chunk, check_received, range_header
from dockyard.errors import Err, RegistryError
from dockyard.registry.blobs import BlobInfo
from dockyard.registry.uploads import UploadState, claimed_digest

BLOCK = 1024 * 1024
SPOOL_IDLE_SECONDS = 3600  # an upload untouched this long is abandoned (clients seldom send DELETE)


@dataclass
class Spool:
    """An upload being received: bytes on disk, SHA-256 as they came."""

    name: str
    path: Path
    size: int = 0
    hasher: object = field(default_factory=hashlib.sha256)
    touched: float = field(default_factory=time.monotonic)
    writing: threading.Lock = field(default_factory=threading.Lock)

    def append(self, body, chunk: Chunk | None) -> None:
        """Append a request body (a chunk must start at the current end); on failure nothing is kept."""
        if chunk and chunk.start != self.size:
            raise RegistryError(Err.RANGE_NOT_SATISFIABLE,
                                f"chunk starts at {chunk.start}; the upload has {self.size} bytes",
                                {"Range": range_header(self.size)})
        size, hasher = self.size, self.hasher.copy()
        limit = chunk.length + 1 if chunk else None
        try:
            with self.path.open("ab") as out:
                while limit is None or self.size - size < limit:
                    data = body.read(BLOCK if limit is None else min(BLOCK, limit - (self.size - size)))
                    if not data:
                        break
                    out.write(data)
                    self.hasher.update(data)
                    self.size += len(data)
            check_received(chunk, self.size - size)
        except BaseException:
            with self.path.open("r+b") as out:
                out.truncate(size)
            self.size, self.hasher = size, hasher
            raise

    @property
    def digest(self) -> Digest:
        return Digest("sha256", self.hasher.hexdigest())


class Spools:
    """The uploads this gateway is receiving, shared by every request."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._spools: dict[str, Spool] = {}
        self._lock = threading.Lock()

    def open(self, name: str) -> str:
        self._sweep()
        upload_id = str(uuid.uuid4())
        spool = Spool(name, self.directory / upload_id)
        spool.path.touch()
        with self._lock:
            self._spools[upload_id] = spool
        return upload_id

    def get(self, name: str, upload_id: str) -> Spool:
        spool = self._spools.get(upload_id)
        if spool is None or spool.name != name:
            raise RegistryError(Err.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id[:64]!r} is unknown or expired")
        spool.touched = time.monotonic()
        return spool

    def drop(self, upload_id: str) -> None:
        with self._lock:
            spool = self._spools.pop(upload_id, None)
        if spool is not None:
            spool.path.unlink(missing_ok=True)

    def _sweep(self) -> None:
        idle = time.monotonic() - SPOOL_IDLE_SECONDS
        for upload_id in [i for i, spool in list(self._spools.items()) if spool.touched < idle]:
            self.drop(upload_id)


def relayed(response) -> RegistryError:
    """The registry's own error answer, as this gateway's (with the challenge a client needs to log in)."""
    try:
        entry = response.json()["errors"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        entry = {}
    err = Err.matching(entry.get("code"), response.status_code) or Err.BAD_GATEWAY
    challenge = response.headers.get("www-authenticate")
    return RegistryError(err, entry.get("detail", entry.get("message")),
                         {"WWW-Authenticate": challenge} if challenge else None)


def _failed(exc: ClientError, relay: tuple[int, ...] = (401, 403)) -> RegistryError:
    if exc.response is not None and exc.response.status_code in relay:
        return relayed(exc.response)
    return RegistryError(Err.BAD_GATEWAY, f"the registry refused the blob: {exc}")


class SpoolUploads:
    """The registry layer's upload interface (see `dockyard.registry.uploads.Uploads`), for one request."""

    max_chunk = None

    def __init__(self, gateway, authorization: str | None, content_length: str | None):
        self.gateway, self.spools = gateway, gateway.spools
        self.client = RegistryClient(gateway.registry, http=gateway.sync, authorization=authorization)
        self.length = int(content_length) if content_length and content_length.isdigit() else 0

    def start(self, repo: str) -> UploadState:
        return UploadState(self.spools.open(repo), 0)

    def status(self, repo: str, upload_id: str) -> UploadState:
        return UploadState(upload_id, self.spools.get(repo, upload_id).size)

    def append(self, repo: str, upload_id: str, body, chunk: Chunk | None) -> UploadState:
        spool = self.spools.get(repo, upload_id)
        with self._writing(spool):
            spool.append(body, chunk)
        return UploadState(upload_id, spool.size)

    def finish(self, repo: str, upload_id: str, digest: str | None, body, chunk: Chunk | None) -> BlobInfo:
        claimed = claimed_digest(digest)
        spool = self.spools.get(repo, upload_id)
        with self._writing(spool):
            streamed = self._stream(repo, claimed, body) if spool.size == 0 and chunk is None else None
            if streamed is not None:
                self.spools.drop(upload_id)
                return streamed
            spool.append(body, chunk)
            return self._send(repo, upload_id, spool, claimed)

    def upload(self, repo: str, digest: str | None, body) -> BlobInfo:
        claimed = claimed_digest(digest)
        streamed = self._stream(repo, claimed, body)
        if streamed is not None:
            return streamed
        upload_id = self.spools.open(repo)
        spool = self.spools.get(repo, upload_id)
        try:
            spool.append(body, None)
        except BaseException:
            self.spools.drop(upload_id)
            raise
        return self._send(repo, upload_id, spool, claimed)

    def cancel(self, repo: str, upload_id: str) -> None:
        self.spools.get(repo, upload_id)
        self.spools.drop(upload_id)

    @staticmethod
    @contextlib.contextmanager
    def _writing(spool: Spool):
        """One request writes to a spool at a time, as one holds a session's lease on the registry."""
        if not spool.writing.acquire(blocking=False):
            raise RegistryError(Err.UPLOAD_BUSY, "another request is writing to this upload",
                                {"Range": range_header(spool.size)})
        try:
            yield
        finally:
            spool.writing.release()

    def _pusher(self, repo: str, size: int) -> Pusher:
        return Pusher(self.client, repo, Progress(size, tty=False, stream=_Quiet()),
                      multipart_above=self.gateway.multipart_above, part_size=self.gateway.part_size)

    def _send(self, repo: str, upload_id: str, spool: Spool, claimed: Digest) -> BlobInfo:
        """Verify the spooled blob, then send it straight to S3 through the direct-upload API."""
        if spool.digest != claimed:
            self.spools.drop(upload_id)
            raise RegistryError(Err.DIGEST_INVALID, f"digest of the uploaded content is {spool.digest}")
        pusher = self._pusher(repo, spool.size)
        try:
            pusher.push_blob(Blob(str(claimed), spool.size, lambda: spool.path.open("rb")))
        except ClientError as exc:
            failed = _failed(exc)
            if failed.err is Err.BAD_GATEWAY:
                self.spools.drop(upload_id)
            raise failed from None  # on 401 or 403 the client authenticates and sends the PUT again
        except Exception as exc:  # noqa: BLE001 - whatever broke, the spool must not outlive the request
            self.spools.drop(upload_id)
            raise RegistryError(Err.BAD_GATEWAY, f"sending the blob to the registry failed: {exc}") from None
        finally:
            pusher.close()
        self.spools.drop(upload_id)
        return BlobInfo(claimed, spool.size)

    def _stream(self, repo: str, claimed: Digest, body) -> BlobInfo | None:
        """Send a whole blob whose length is known now straight to S3, spooling nothing. None when that
        cannot be done (no length, or a blob for parts): the caller spools instead."""
        if not self.length:
            return None
        pusher = self._pusher(repo, self.length)
        try:
            plan = pusher.begin(Blob(str(claimed), self.length, None), parts=False)
            if plan["status"] == "upload" and plan["method"] == "multipart":
                return None
            if plan["status"] == "upload":
                if not pusher.put_once(plan["url"], iter(lambda: body.read(BLOCK), b""), plan["headers"]):
                    raise RegistryError(Err.DIGEST_INVALID, "storage refused the bytes")
                pusher.complete(plan["upload"])
            else:
                while body.read(BLOCK):  # already there: read the body the client sends anyway
                    pass
        except ClientError as exc:
            raise _failed(exc, (400, 401, 403)) from None
        finally:
            pusher.close()
        return BlobInfo(claimed, self.length)


class _Quiet:
    def write(self, _):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False
