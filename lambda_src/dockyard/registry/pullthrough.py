"""The pull-through cache: what a pull of a cache repository does when the registry's own storage cannot
answer it alone. It reads the upstream through `UpstreamSource` (the read side of the storage contracts)
and writes through the normal write side, so that cached content is ordinary content: the same items, the
same objects, the same redirects; garbage collection and retention treat it like any other.

- A manifest not cached yet is fetched, checked (it must parse; by digest, it must hash to it) and stored;
  for an index, only the platform manifest a client then asks for (by digest) is fetched with it.
- A cached tag is served as is for `upstream_ttl` seconds after the upstream last confirmed it; then one
  upstream HEAD revalidates it. A digest never changes, and is never revalidated.
- A blob not cached yet is streamed from the upstream into S3 (parts of `part_size`, one in flight: bounded
  memory), verified against its digest and linked (`Commit`), then answered with the usual redirect. One
  request fetches it; concurrent ones wait for its link (a claim in DynamoDB; see `UpstreamStore`).
- A blob larger than one request can fetch (`fetch_max_bytes`) is not cached: the client is redirected
  to where the upstream serves it, when that needs none of our credentials; otherwise it gets a clear error.
- When the upstream is down or rate limits us, cached content is served, stale, with a log line; only
  what was never cached fails (503, or 429).

AWS calls: a cached tag within its TTL costs what any tag costs (1 read); a revalidation adds 1 UpdateItem.
A first manifest pull: 1 BatchGetItem and 1 TransactWriteItems. A first blob pull: the claim (1 PutItem), a
read of the blob record (a fetch that ended just before the claim has recorded it),
the upload (1 PutObject, or a multipart upload), the commit's reads and transaction, the release
(1 DeleteItem).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace

from dockyard.config import Settings
from dockyard.domain.digest import Digest
from dockyard.errors import Err, RegistryError
from dockyard.registry.assembly import Assembly
from dockyard.registry.cache import LinkCache
from dockyard.registry.commit import Commit, Mismatch
from dockyard.registry.manifests import kept_body
from dockyard.registry.upstreams import Route, Upstreams
from dockyard.storage.interfaces import BlobIndex, ByteStore, ManifestIndex, UpstreamStore
from dockyard.domain.manifest import parse_manifest
from dockyard.storage.types import BlobRef, ChunkedSession, ConditionFailed, ManifestRecord, Uses
from dockyard.upstream.client import Unavailable, UpstreamError

log = logging.getLogger("dockyard.cache")
RETRIES = 10
POLL_FIRST, POLL_MOST = 0.05, 1.0  # seconds between looks at a blob another request is fetching


class Remote(Exception):
    """A blob served from elsewhere, not cached: `url` is where a client GETs it (None for a HEAD)."""

    def __init__(self, size: int, url: str | None):
        super().__init__(url)
        self.size, self.url = size, url


class PullThrough:
    def __init__(self, upstreams: Upstreams, manifests: ManifestIndex, blobs: BlobIndex, objects: ByteStore,
                 claims: UpstreamStore, commit: Commit, links: LinkCache, settings: Settings):
        self.upstreams, self.manifests, self.blobs, self.objects = upstreams, manifests, blobs, objects
        self.claims, self.commit, self.links, self.settings = claims, commit, links, settings

    # --- manifests ----------------------------------------------------------------------------------------

    def manifest(self, repo: str, ref: str | Digest, found: ManifestRecord | None) -> ManifestRecord | None:
        """What a manifest GET of `repo` answers, given what the registry's own storage `found` there."""
        now = int(time.time())
        if found is not None and (found.checked_at is None or now - found.checked_at < self.settings.upstream_ttl):
            return found  # ordinary content, a digest, or a tag within its TTL: no upstream, no configuration
        route = self._route(repo, found)
        if route is None:
            return found
        if route.local != repo:
            found = self._read(route.local, ref)
            if found is not None and (found.checked_at is None or now - found.checked_at < self.settings.upstream_ttl):
                return found
        source = route.upstream.source
        try:
            if found is not None:
                return self._revalidate(route, ref, found, now)
            fetched = source.get_manifest(route.remote, ref) if isinstance(ref, Digest) \
                else source.get_tag(route.remote, ref)
        except Unavailable as exc:
            raise _unavailable(route, exc) from None
        except UpstreamError as exc:
            raise _failed(route, exc) from None
        if fetched is None:
            return None
        self._store(route.local, fetched, None if isinstance(ref, Digest) else ref, now)
        return fetched

    def _revalidate(self, route: Route, tag: str, cached: ManifestRecord, now: int) -> ManifestRecord:
        """A tag past its TTL: one HEAD; the cached manifest stays when the upstream is down or forgot it."""
        try:
            current = route.upstream.source.tag_digest(route.remote, tag)
            if current is not None and current != cached.digest:
                fetched = route.upstream.source.get_tag(route.remote, tag)
                if fetched is not None:
                    self._store(route.local, fetched, tag, now)
                    return fetched
        except UpstreamError as exc:
            log.warning("upstream %s: %s; serving cached %s:%s (%s), last confirmed %d s ago", route.upstream.record.name,
                        exc, route.local, tag, cached.digest, now - cached.checked_at)
            self.manifests.mark_checked(route.local, tag, cached.digest, now)  # ask again after the TTL
            return cached
        if current is None:
            log.warning("upstream %s no longer has %s:%s; serving the cached %s", route.upstream.record.name,
                        route.remote, tag, cached.digest)
        self.manifests.mark_checked(route.local, tag, cached.digest, now)
        return cached

    def _store(self, repo: str, record: ManifestRecord, tag: str | None, now: int) -> None:
        """Write a fetched manifest as any pushed one is written. Its blobs come when they are pulled, so it
        is counted on them lazily: on placeholder links where they are not fetched yet (garbage collection
        keeps what a cached manifest references, fetched or not); an index is not counted on its children."""
        stored = replace(kept_body(self.commit, self.objects, repo, record), checked_at=now if tag else None)
        blobs = parse_manifest(record.body, record.media_type, record.digest.algorithm).blobs
        uses = Uses(blobs, body=stored.body_location is not None)
        tags = (tag,) if tag else ()
        for attempt in range(RETRIES):
            refs = self.manifests.check_references(repo, [], [], tags, record.digest)
            try:
                self.manifests.put_manifest(repo, stored, tags, refs, uses, lazy=True)
                return
            except ConditionFailed:
                time.sleep(0.01 * (attempt + 1))  # the tag moved meanwhile (a concurrent first pull): again
        raise RegistryError(Err.TOOMANYREQUESTS, f"tag {tag} is changing too fast; retry")

    def _read(self, repo: str, ref: str | Digest) -> ManifestRecord | None:
        record = self.manifests.get_manifest(repo, ref) if isinstance(ref, Digest) else self.manifests.get_tag(repo, ref)
        if record is not None and record.body is None:
            record = replace(record, body=self.objects.read_blob(record.body_location))
        return record

    def _route(self, repo: str, found) -> Route | None:
        route = self.upstreams.route(repo)
        if route is not None and route.mirrored and (found is not None or self.manifests.repository_exists(repo)):
            return None  # a local repository holds this name: no mirror
        return route

    # --- blobs --------------------------------------------------------------------------------------------

    def blob(self, repo: str, digest: Digest, fetch: bool) -> BlobRef | None:
        """A blob `repo` does not link: the cached copy (fetching it first, if `fetch`); None when neither
        the cache nor the upstream has it. `Remote` when it is served from elsewhere."""
        route = self._route(repo, None)
        if route is None:
            return None
        if route.local != repo:
            ref = self.links.get(route.local, digest) or self.blobs.get_link(route.local, digest)
            if ref is not None:
                return ref
        source = route.upstream.source
        try:
            if not fetch:
                remote = source.get_link(route.remote, digest)
                if remote is None:
                    return None
                raise Remote(remote.size, None)
            return self._fetch(route, digest)
        except Unavailable as exc:
            raise _unavailable(route, exc) from None
        except UpstreamError as exc:
            raise _failed(route, exc) from None

    def _fetch(self, route: Route, digest: Digest) -> BlobRef | None:
        """One request fetches the blob; the others wait for its link. A blob another repository holds
        already is linked (no bytes move) once the upstream confirms this repository has it."""
        source, deadline = route.upstream.source, time.monotonic() + self.settings.fetch_deadline
        token, pause, first = secrets.token_hex(8), POLL_FIRST, True
        while True:
            linked = None if first else self.blobs.get_link(route.local, digest)
            if linked is not None:
                return linked  # the request that fetched it linked it
            first = False
            existing = self.blobs.get_blob(digest)
            if existing is not None and not existing.doomed:
                if source.get_link(route.remote, digest) is None:
                    return None
                linked = self.commit.mount(route.local, digest, existing)
                if linked is not None:
                    return linked  # else it is being collected: fetched again below
            now = int(time.time())
            if self.claims.claim_fetch(digest, token, now + self.settings.fetch_deadline + 30, now):
                try:
                    # A fetch that ended between our reads and this claim recorded the blob before it let
                    # go of its claim: read once more, so that it is not fetched twice.
                    if self.blobs.get_blob(digest) is None:
                        return self._stream(route, digest, deadline)
                finally:
                    self.claims.release_fetch(digest, token)
                continue  # the reads above find it now
            if time.monotonic() + pause > deadline:
                raise RegistryError(Err.UPSTREAM_UNAVAILABLE, f"blob {digest} is still being fetched; retry")
            time.sleep(pause)  # another request is fetching it
            pause = min(pause * 2, POLL_MOST)

    def _stream(self, route: Route, digest: Digest, deadline: float) -> BlobRef | None:
        """One upstream GET, streamed into S3 and verified; a blob over the limit is not read."""
        source, limit = route.upstream.source, self.settings.fetch_max_bytes
        response = source.open_blob(route.remote, digest)
        if response is None:
            return None
        try:
            length = response.headers.get("content-length")
            size = int(length) if length and length.isdigit() else -1
            if limit is not None and size > limit:
                response.release_conn()
                return self._too_large(route, digest, size, limit)
            started = time.monotonic()
            assembly = Assembly(self.objects, ChunkedSession(id=f"fetch-{secrets.token_hex(12)}", repo=route.local),
                                self.settings.part_size)
            try:
                received = assembly.write(_Timed(response, deadline), limit)
                if (size >= 0 and received != size) or (limit is not None and received > limit):
                    raise UpstreamError(502, f"the upstream sent {received} bytes, not {size}")
                assembly.seal()
                ref = self.commit.commit(route.local, digest, assembly, None)
            except Mismatch:
                raise RegistryError(Err.UPSTREAM_INVALID, f"the upstream's blob {digest} does not match its "
                                                          "digest") from None
            except BaseException:
                self.commit.abandon(assembly)
                raise
        finally:
            response.release_conn()
        log.info("cached %s of %s from upstream %s: %d bytes in %.2f s", digest, route.local,
                 route.upstream.record.name, received, time.monotonic() - started)
        return ref

    def _too_large(self, route: Route, digest: Digest, size: int, limit: int):
        url = route.upstream.source.presign_get(route.remote, digest)
        log.warning("blob %s of %s is %d bytes, above the %d one request can cache: %s", digest, route.local,
                    size, limit, "redirected to the upstream" if url else "refused")
        if url is None:
            raise RegistryError(Err.BLOB_TOO_LARGE, {"size": size, "limit": limit})
        raise Remote(size, url)


class _Timed:
    """An upstream body that fails once the request's fetch deadline has passed."""

    def __init__(self, response, deadline: float):
        self.response, self.deadline = response, deadline

    def read(self, size: int) -> bytes:
        if time.monotonic() > self.deadline:
            raise Unavailable(0, "the fetch ran past this request's deadline")
        import urllib3

        try:
            return self.response.read(size)
        except urllib3.exceptions.HTTPError as exc:
            raise Unavailable(0, f"upstream connection failed: {type(exc).__name__}") from None


def _unavailable(route: Route, exc: UpstreamError) -> RegistryError:
    log.warning("upstream %s unavailable (%s), and this is not cached", route.upstream.record.name, exc)
    err = Err.TOOMANYREQUESTS if exc.status == 429 else Err.UPSTREAM_UNAVAILABLE
    return RegistryError(err, f"upstream {route.upstream.record.name}: {exc}")


def _failed(route: Route, exc: UpstreamError) -> RegistryError:
    log.warning("upstream %s failed: %s", route.upstream.record.name, exc)
    err = Err.DENIED if exc.status in (401, 403) else Err.UPSTREAM_INVALID
    return RegistryError(err, f"upstream {route.upstream.record.name}: {exc}")
