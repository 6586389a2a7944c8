"""`dockyard push`: blobs straight to S3 through the direct-upload API, then the manifests.

Blobs go in parallel, and a multipart blob's parts go in parallel too. Each read streams from disk, so
memory stays at a few buffers whatever the layer size. Blobs already in the repository are skipped, and an
interrupted push run again sends only what had not landed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from dockyard.client.http import RegistryClient, RegistryError, backoff
from dockyard.client.progress import Progress
from dockyard.client.source import Blob, Image

CHUNK = 1024 * 1024
ROUNDS = 6  # begin/upload/complete rounds for one blob, before giving up
# How long a completion is polled: behind a front door that gives up first (API Gateway at 30 s, CloudFront
# at 60 s), the function goes on verifying for up to its own timeout (5 minutes) and lease.
COMPLETION_WAIT = 8 * 60
POLL_SECONDS = 5


def complete_direct(client: RegistryClient, repository: str, upload: str, scope: str,
                    wait: float = COMPLETION_WAIT) -> None:
    """POST .../complete, and ask again while the registry is still verifying (409) or the front door timed
    out (502, 503, 504) until `wait` runs out; any other refusal raises for the caller to handle."""
    deadline = time.monotonic() + wait
    while True:
        try:
            client.request("POST", f"/dockyard/v1/direct/{repository}/blobs/{upload}/complete", scope=scope,
                           ok=(201,))
            return
        except RegistryError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status not in (409, 502, 503, 504, None) or time.monotonic() + POLL_SECONDS > deadline:
                raise
        time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Destination:
    host: str
    repository: str
    reference: str  # a tag, or a digest

    @classmethod
    def parse(cls, text: str) -> Destination:
        host, sep, path = text.partition("/")
        if not sep or not path:
            raise ValueError("the destination must be HOST[:PORT]/REPOSITORY[:TAG]")
        if "@" in path:
            repository, _, reference = path.partition("@")
        else:
            repository, _, reference = path.rpartition(":") if ":" in path else (path, "", "latest")
        return cls(host, repository, reference)


class Pusher:
    def __init__(self, client: RegistryClient, repository: str, progress: Progress, parallel: int = 4,
                 part_parallel: int = 4, multipart_above: int | None = None, part_size: int | None = None):
        self.client, self.repository, self.progress = client, repository, progress
        self.parallel, self.part_parallel = parallel, part_parallel
        self.multipart_above, self.part_size = multipart_above, part_size
        self.scope = f"repository:{repository}:pull,push"
        self._parts_pool = ThreadPoolExecutor(part_parallel)
        self._transfer = httpx.Client(timeout=httpx.Timeout(600, connect=30))
        self.sent = 0
        self._sent_lock = threading.Lock()
        self.outcomes: dict[str, str] = {}  # blob digest -> exists, mounted, pushed

    def push(self, image: Image, reference: str) -> str:
        """Push every blob, then every manifest; returns the digest of the top manifest."""
        try:
            with ThreadPoolExecutor(self.parallel) as pool:
                list(pool.map(self.push_blob, image.blobs.values()))
            for manifest in image.manifests:
                is_top = manifest is image.top
                self.client.request("PUT", f"/v2/{self.repository}/manifests/{reference if is_top else manifest.digest}",
                                    scope=self.scope, ok=(201,), body=lambda m=manifest: m.body,
                                    headers={"Content-Type": manifest.media_type})
                self.progress.log(f"manifest {manifest.digest[:19]}  {manifest.media_type}"
                                  + (f"  -> {self.repository}:{reference}" if is_top else ""))
            return image.top.digest
        finally:
            self.close()

    def close(self) -> None:
        self._parts_pool.shutdown()
        self._transfer.close()

    def push_blob(self, blob: Blob) -> str:
        self.outcomes[blob.digest] = outcome = self._push_blob(blob)
        return outcome

    def _push_blob(self, blob: Blob) -> str:
        head = self.client.request("HEAD", f"/v2/{self.repository}/blobs/{blob.digest}", scope=self.scope,
                                   allow=(404,))
        if head.status_code == 200:
            self.progress.finish(blob.digest, "exists", blob.size)
            return "exists"
        self.progress.start(blob.digest, blob.size)
        for round_ in range(ROUNDS):
            plan = self.begin(blob)
            if plan["status"] in ("exists", "mounted"):
                self.progress.finish(blob.digest, plan["status"], blob.size)
                return plan["status"]
            try:
                self._send(blob, plan)
            except RegistryError as exc:
                if round_ == ROUNDS - 1:
                    raise
                # e.g. a concurrent push of the same blob completed it: ask again
                self.progress.log(f"retrying {blob.digest[:19]}: {str(exc)[:120]}")
                continue
            try:
                self.complete(plan["upload"])
            except RegistryError as exc:
                if exc.code in ("BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN") and round_ < ROUNDS - 1:
                    # parts missing, completed by a concurrent push, or (409) being completed by one
                    backoff(round_ + (2 if exc.response is not None and exc.response.status_code == 409 else 0))
                    continue
                raise
            self.progress.finish(blob.digest, f"pushed ({plan['method']})", blob.size)
            return "pushed"
        raise RegistryError(f"blob {blob.digest}: could not complete after {ROUNDS} rounds")

    def begin(self, blob: Blob, parts: bool = True) -> dict:
        """Where the blob's bytes go (or that they are there already); with `parts`, in parts of this
        pusher's choice (else in one PUT, where the registry allows it)."""
        request = {"digest": blob.digest, "size": blob.size}
        if parts and self.multipart_above is not None and blob.size > self.multipart_above:
            request["multipart"] = True
        if parts and self.part_size:
            request["part_size"] = self.part_size
        return self.client.request("POST", f"/dockyard/v1/direct/{self.repository}/blobs", scope=self.scope,
                                   json=request).json()

    def complete(self, upload_id: str) -> None:
        """Have the registry verify and link what was sent (polled past a front door's timeout)."""
        complete_direct(self.client, self.repository, upload_id, self.scope)

    def put_once(self, url: str, chunks: Iterator[bytes], headers: dict) -> bool:
        """One PUT of bytes that can be read only once (a request body passed on): no retry. Whether
        storage took them."""
        return self._transfer.put(url, content=chunks, headers=headers).status_code == 200

    def _send(self, blob: Blob, plan: dict) -> None:
        if plan["method"] == "single":
            self._put(blob, plan["url"], 0, blob.size, plan["headers"])
            return
        if plan.get("landed"):
            landed = sum(min(plan["part_size"], blob.size - (n - 1) * plan["part_size"]) for n in plan["landed"])
            self.progress.log(f"resuming {blob.digest[:19]}: {len(plan['landed'])} parts already landed")
            self.progress.advance(blob.digest, landed)
        parts, count = plan["parts"], -(-blob.size // plan["part_size"])
        rest = sorted(set(range(1, count + 1)) - set(plan["landed"]) - {part["number"] for part in parts})
        futures = []
        while True:  # the plan holds the first URLs; the others come in batches, as the parts go
            futures += [self._parts_pool.submit(self._put, blob, part["url"], part["offset"], part["size"], {})
                        for part in parts]
            if not rest:
                break
            batch, rest = rest[:plan["max_urls"]], rest[plan["max_urls"]:]
            parts = self.client.request("POST", f"/dockyard/v1/direct/{self.repository}/blobs/{plan['upload']}/parts",
                                        scope=self.scope, json={"numbers": batch}).json()["parts"]
        errors = [future.exception() for future in futures]  # waits for every part, failed or not
        if any(errors):
            raise next(e for e in errors if e)

    def _put(self, blob: Blob, url: str, offset: int, size: int, headers: dict) -> None:
        """One PUT of a byte range, streamed from disk, retried with backoff."""
        for attempt in range(5):
            counted = [0]
            try:
                response = self._transfer.put(url, content=self._read(blob, offset, size, counted),
                                              headers={**headers, "Content-Length": str(size)})
                if response.status_code == 200:
                    with self._sent_lock:
                        self.sent += size
                    return
                error = f"{response.status_code} {response.text[:200]}"
                if response.status_code < 500 and response.status_code != 429:
                    raise RegistryError(f"upload of {blob.digest} refused by storage: {error}", response)
            except httpx.TransportError as exc:
                error = str(exc)
            self.progress.advance(blob.digest, -counted[0])
            if attempt == 4:
                raise RegistryError(f"upload of {blob.digest} failed: {error}")
            backoff(attempt)

    def _read(self, blob: Blob, offset: int, size: int, counted: list[int]) -> Iterator[bytes]:
        with blob.open() as f:
            f.seek(offset)
            left = size
            while left:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise RegistryError(f"{blob.digest}: the source ended early")
                left -= len(chunk)
                counted[0] += len(chunk)
                self.progress.advance(blob.digest, len(chunk))
                yield chunk


def push(image: Image, destination: Destination, client: RegistryClient, progress: Progress, **options) -> dict:
    """Push the image; returns what `dockyard push --json` prints."""
    started = time.monotonic()
    pusher = Pusher(client, destination.repository, progress, **options)
    digest = pusher.push(image, destination.reference)
    seconds = time.monotonic() - started
    separator = "@" if destination.reference.startswith("sha256:") else ":"
    where = f"{destination.host}/{destination.repository}{separator}{destination.reference}"
    progress.close(f"pushed {where} ({digest}) in {seconds:.1f} s")
    outcomes = list(pusher.outcomes.values())
    return {"digest": digest, "mediaType": image.top.media_type, "destination": where,
            "repository": destination.repository, "reference": destination.reference,
            "blobs": {"pushed": outcomes.count("pushed"), "existed": outcomes.count("exists"),
                      "mounted": outcomes.count("mounted")},
            "bytesSent": pusher.sent, "seconds": round(seconds, 3)}
