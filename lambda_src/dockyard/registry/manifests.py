"""Manifest push and pull, tag and catalog listings."""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from dockyard.config import Settings
from dockyard.domain.digest import CANONICAL, Digest
from dockyard.domain.manifest import Manifest, parse_manifest
from dockyard.domain.pages import MAX_PAGE_BYTES, page_size, within_bytes
from dockyard.domain.names import is_tag, parse_reference, validate_name, validate_tag
from dockyard.errors import Err, RegistryError
from dockyard.domain.mediatypes import OCI_INDEX
from dockyard.registry.cache import LinkCache
from dockyard.registry.hints import pull_hints
from dockyard.registry.immutability import Immutability, refusal
from dockyard.registry.commit import Commit, InMemory
from dockyard.registry.meter import Meter
from dockyard.storage.interfaces import MAX_INLINE_BODY_BYTES, MAX_TAGS_PER_PUT, ByteStore, ManifestIndex
from dockyard.storage.types import (ConditionFailed, ItemTooLarge, ManifestRecord, ManifestTags, Page, PullHints,
                                    StillReferenced, Uses)

log = logging.getLogger("dockyard")

# A manifest item and its tag item each stay under DynamoDB's 400 KB item limit; larger bodies go to S3.
INLINE_BODY_LIMIT = 256 * 1024
# The referrers API keeps a manifest's annotations in its referrer item, within DynamoDB's item limit.
MAX_REFERRER_ANNOTATIONS = 256 * 1024
# Referrer descriptors per page (each carries its annotations).
MAX_REFERRERS_PAGE = 500
# A conditional write that lost a race is retried this many times, after a short random pause.
RETRIES = 10
# Tags removed together with their manifest in one transaction (DynamoDB allows 100 items).
MAX_TAGS_PER_DELETE = 90
# A refused DELETE names a manifest that references the content, found among this many of the repository's.
REFERENCING_SEARCH = 1000
# A pull stamps the tag or manifest it read with its time only when the stamp there is older than this: at
# most one write per item per hour, whatever the pull rate (retention's "not pulled for D days" needs no more).
PULL_STAMP_INTERVAL = 3600
# A warm instance answers a manifest by digest it read lately from memory (docker's GET after its HEAD by
# tag): at most this many, of at most SEEN_BODY_LIMIT bytes each (16 MiB in all at worst).
SEEN_MANIFESTS = 1_000
SEEN_BODY_LIMIT = 16 * 1024


class Manifests:
    def __init__(self, index: ManifestIndex, store: ByteStore, settings: Settings, commit: Commit,
                 immutability: Immutability, meter: Meter, cache=None,
                 prime: Callable[[str, PullHints], None] = lambda repo, hints: None):
        """`prime(repo, hints)` hands what a manifest read from the table says of its blobs to the blob reads."""
        self.index, self.store, self.settings, self.commit = index, store, settings, commit
        self.immutability, self.meter, self.prime = immutability, meter, prime
        self.cache = cache  # the pull-through cache (`PullThrough`), if any
        # Manifests by digest this instance has read (bodies kept inline, up to SEEN_BODY_LIMIT bytes each).
        self.seen = LinkCache(settings.link_cache_ttl, size=SEEN_MANIFESTS)

    def get(self, repo: str, reference: str, with_body: bool = True, pull: bool = True) -> ManifestRecord:
        """By tag or digest: one DynamoDB read (plus one S3 read for a body too large to keep inline); none
        for a manifest by digest this instance read lately, by digest or through a tag (see `registry.cache`:
        docker's GET by digest after its HEAD by tag). What the read says of the image's blobs goes to the
        blob reads (`registry.hints`). A miss, or a cached tag past its TTL, goes to the pull-through cache.
        Not a `pull` (a person looking at the web page): what is stored, with no stamp and no upstream."""
        ref = parse_reference(reference)
        by_digest = isinstance(ref, Digest)
        known = self.seen.get(repo, ref) if by_digest else None
        record = known or (self.index.get_manifest(repo, ref) if by_digest else self.index.get_tag(repo, ref))
        if pull and self.cache is not None and (record is None or record.checked_at is not None):
            record = self.cache.manifest(repo, ref, record)  # a pull-through cache's: fetched or revalidated
        if record is None:
            raise RegistryError(Err.MANIFEST_UNKNOWN, f"manifest {reference} is not in repository {repo}")
        if pull:
            record = self._stamp_pull(repo, ref, record)
            if with_body:
                self.meter.pulled(repo)
        if record is not known and record.checked_at is None:
            if pull and record.hints is not None:
                self.prime(repo, record.hints)
            if record.body is not None and record.size <= SEEN_BODY_LIMIT:
                # Only a read from the table (or a new stamp) restarts its time. Read through a tag, it has
                # the tag's pull stamp: retention counts a tag's pulls for its manifest too.
                self.seen.put(repo, record.digest, replace(record, hints=None))
        if with_body and record.body is None:
            return replace(record, body=self.store.read_blob(record.body_location))
        return record

    def _stamp_pull(self, repo: str, ref: Digest | str, record: ManifestRecord) -> ManifestRecord:
        """Record the pull (HEAD too: a client checking a tag is using it), if the item's stamp is stale.
        Returns the record as stamped now, if it was stale (whether this write or another's won)."""
        now = int(time.time())
        if record.last_pulled is not None and record.last_pulled > now - PULL_STAMP_INTERVAL:
            return record
        try:
            self.index.record_pull(repo, ref, record.digest, now, now - PULL_STAMP_INTERVAL)
        except Exception:  # noqa: BLE001 - a pull never fails for its bookkeeping
            log.warning("could not record a pull of %s in %s", ref, repo, exc_info=True)
        return replace(record, last_pulled=now)

    def put(self, repo: str, reference: str, body: bytes, content_type: str | None,
            tags: Sequence[str] = ()) -> tuple[Manifest, tuple[str, ...]]:
        """Validate, check that everything it references is in the repository, then store in one write.
        A push by digest may name `tags` (the `tag` query parameters) to point at it in that same write.
        Returns the manifest and the tags now pointing to it."""
        ref = parse_reference(reference)
        tagged = _tags(ref, tags)
        manifest = parse_manifest(body, content_type, ref.algorithm if isinstance(ref, Digest) else CANONICAL)
        if isinstance(ref, Digest) and manifest.digest != ref:
            raise RegistryError(Err.DIGEST_INVALID, f"the manifest's digest is {manifest.digest}, not {ref}")
        if manifest.subject and len(json.dumps(manifest.annotations)) > MAX_REFERRER_ANNOTATIONS:
            raise RegistryError(Err.MANIFEST_INVALID, "a referrer's annotations are limited to "
                                                      f"{MAX_REFERRER_ANNOTATIONS} bytes of JSON")
        record = record_of(manifest, body)
        # Each tag item holds a copy of an inline body: many tags push a mid-sized body out (a blob).
        out = manifest.size > INLINE_BODY_LIMIT or manifest.size * (1 + len(tagged)) > MAX_INLINE_BODY_BYTES
        stored, kept = record, False
        read = functools.cache(self._config)  # the config, for the hints: once, whatever the attempts
        for attempt in range(RETRIES):
            blobs = [*manifest.blobs, *([manifest.digest] if out else [])]
            refs = self.index.check_references(repo, blobs, manifest.children, tagged, manifest.digest)
            missing = [d for d in refs.missing if d != manifest.digest]
            if missing:
                self.commit.forget(repo, missing)  # a HEAD answered from memory may have told the client so
                raise RegistryError(Err.MANIFEST_BLOB_UNKNOWN, {"missing": [str(d) for d in missing[:50]]})
            moved = {tag: refs.tags[tag] for tag in tagged if refs.tags[tag] not in (None, manifest.digest)}
            if moved:
                self.immutability.guard(repo, moved, "moved")  # the write is conditioned on where they point
            if refs.exists and (refs.body_location or not out):
                # Stored already: its body stays where it is, and its references stay counted.
                stored = replace(record, body=None, body_location=refs.body_location) if refs.body_location \
                    else record
            elif out and (not kept or manifest.digest in refs.missing):
                # The body is a blob of the repository (linked again if it was collected meanwhile).
                stored, kept = kept_body(self.commit, self.store, repo, record, out=True), True
                continue
            uses = Uses(manifest.blobs, manifest.children, body=stored.body_location is not None)
            config = read if refs.config is None else lambda _: refs.config  # stored: its hints kept the config
            hints = None if stored.body_location else pull_hints(manifest, refs.links, 1 + len(tagged), config)
            try:
                self.index.put_manifest(repo, replace(stored, hints=hints), tagged, refs, uses)
                self.meter.pushed(repo)
                return manifest, tagged
            except ConditionFailed:
                _pause(attempt)  # a tag moved, a reference or the manifest came or went: read again
            except ItemTooLarge:
                # The manifest's item also holds the set of its tags: with very many, move the body out.
                if out:
                    raise RegistryError(Err.TAG_LIMIT, f"manifest {manifest.digest} has as many tags as it can "
                                                       "hold; delete some first") from None
                out = True
        raise RegistryError(Err.TOOMANYREQUESTS, f"tags {', '.join(tagged)} are changing too fast; retry")

    def _config(self, location: str) -> bytes | None:
        """A config's bytes for the pull hints: a push never fails for them."""
        try:
            return self.store.read_blob(location)
        except Exception:  # noqa: BLE001 - the hints then carry no config; its pulls are redirected
            log.warning("could not read the config at %s for the pull hints", location, exc_info=True)
            return None

    def uses(self, digest: Digest, media_type: str, body: bytes | None, body_location: str | None,
             lazy: bool = False) -> Uses:
        """What a stored manifest references, as its push counted it (a pull-through cache's `lazy` manifest
        counted its blobs only)."""
        stored = body if body is not None else self.store.read_blob(body_location)
        manifest = parse_manifest(stored, media_type, digest.algorithm)
        return Uses(manifest.blobs, () if lazy else manifest.children, body=body is None)

    def referencing(self, repo: str, digest: Digest, children: bool = False) -> Digest | None:
        """A manifest of `repo` that references blob `digest` (or, with `children`, lists manifest `digest`),
        among the first `REFERENCING_SEARCH` of the repository (None if none is found there)."""
        last, seen = None, 0
        while seen < REFERENCING_SEARCH:
            page = self.index.list_manifests(repo, 100, last)
            for info in page.items:
                if info.body is None and info.body_location is None:
                    continue
                uses = self.uses(info.digest, info.media_type, info.body, info.body_location)
                if digest in (uses.children if children else uses.blobs) or (
                        not children and uses.body and info.digest == digest):
                    return info.digest
            seen += len(page.items)
            if page.last is None:
                return None
            last = page.last
        return None

    def delete(self, repo: str, reference: str) -> None:
        """DELETE by digest: the manifest, every tag pointing to it and its referrer entry, atomically
        (refused while an index of the repository lists it). DELETE by tag: that tag only. Concurrent pushes
        never leave a tag pointing at nothing."""
        self._deletion_enabled()
        ref = parse_reference(reference)
        for attempt in range(RETRIES):
            try:
                if not isinstance(ref, Digest):
                    self._guard_tag(repo, ref)
                    if not self.index.delete_tag(repo, ref):
                        raise RegistryError(Err.MANIFEST_UNKNOWN, f"tag {ref} is not in repository {repo}")
                    return
                state = self.index.manifest_tags(repo, ref)
                if state is None:
                    raise RegistryError(Err.MANIFEST_UNKNOWN, f"manifest {ref} is not in repository {repo}")
                self.immutability.guard(repo, dict.fromkeys(state.tags, ref), "deleted")
                if len(state.tags) > MAX_TAGS_PER_DELETE:
                    for tag in state.tags[:MAX_TAGS_PER_DELETE]:
                        self.index.delete_tag(repo, tag)
                    continue
                self.index.delete_manifest(repo, ref, state, self._state_uses(ref, state))
                self.seen.drop(repo, ref)
                return
            except StillReferenced as refused:
                detail = {"digest": str(ref), "indexes": refused.count}
                if (by := self.referencing(repo, ref, children=True)) is not None:
                    detail["listed_by"] = str(by)
                raise RegistryError(Err.REFERENCED, detail) from None
            except ConditionFailed:
                _pause(attempt)  # a tag moved meanwhile: read again
        raise RegistryError(Err.TOOMANYREQUESTS, f"{reference} is changing too fast; retry")

    def _guard_tag(self, repo: str, tag: str) -> None:
        """Refuse to delete an immutable tag (a missing one is left to the deletion to report)."""
        found = self.immutability.protecting(repo, [tag])
        if found is not None and (record := self.index.get_tag(repo, tag)) is not None:
            raise refusal(repo, tag, found[1], record.digest, "deleted")

    def _state_uses(self, digest: Digest, state: ManifestTags) -> Uses:
        return self.uses(digest, state.media_type, state.body, state.body_location, state.lazy)

    def referrers(self, repo: str, digest: str, artifact_type: str | None, n: int | None,
                  last: str | None) -> tuple[dict, str | None]:
        """The referrers index of `digest` (empty when there are none, or no such manifest yet)."""
        subject = Digest.parse(digest)
        if last is not None:
            Digest.parse(last, Err.INVALID_PARAMETER)
        page = self.index.list_referrers(repo, subject, page_size(n, MAX_REFERRERS_PAGE), last, artifact_type or None,
                                         MAX_PAGE_BYTES)
        return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [r.as_json() for r in page.items]}, page.last

    def _deletion_enabled(self) -> None:
        if not self.settings.delete_enabled:
            raise RegistryError(Err.UNSUPPORTED, "deletion is disabled on this registry")

    def tags(self, repo: str, n: int | None, last: str | None) -> Page:
        """Tags in lexical order after `last`; reads proportional to the page."""
        if last is not None and not is_tag(last):
            raise RegistryError(Err.INVALID_PARAMETER, "last must be a tag")
        page = self.index.list_tags(repo, page_size(n), last) if n != 0 else Page([], None)
        if not page.items and not self.index.repository_exists(repo):
            raise RegistryError(Err.NAME_UNKNOWN, f"repository {repo} is not known")
        return _within_bytes(page)

    def catalog(self, n: int | None, last: str | None, visible=None) -> Page:
        """Repositories in lexical order after `last`; with `visible`, only those it accepts (the ones the
        caller may pull), reading on until the page is full."""
        limit = page_size(n)
        if last is not None:
            validate_name(last)
        if n == 0:
            return Page([], None)
        page = self.index.list_repositories(limit, last)
        if visible is None:
            return _within_bytes(page)
        names = [name for name in page.items if visible(name)]
        while len(names) < limit and page.last is not None:
            page = self.index.list_repositories(limit, page.last)
            names += [name for name in page.items if visible(name)]
        if len(names) > limit:
            return _within_bytes(Page(names[:limit], names[limit - 1]))
        return _within_bytes(Page(names, names[-1] if page.last is not None and names else None))


def _within_bytes(page: Page) -> Page:
    """A page of names cut to what `MAX_PAGE_BYTES` of JSON holds (the rest comes on the next page)."""
    names, cut = within_bytes(page.items, str)
    return Page(names, cut) if cut else page


def record_of(manifest: Manifest, body: bytes) -> ManifestRecord:
    """The record of a validated manifest, its body with it (`kept_body` says where a large one stays)."""
    return ManifestRecord(
        digest=manifest.digest, media_type=manifest.media_type, size=manifest.size, body=body,
        subject=manifest.subject.digest if manifest.subject else None,
        artifact_type=manifest.artifact_type, annotations=manifest.annotations, pushed_at=int(time.time()),
    )


def _tags(ref: str | Digest, tags: Sequence[str]) -> tuple[str, ...]:
    """The tags a push points at its manifest: the reference, if a tag, or the `tag` parameters of a push
    by digest (each once, in order)."""
    if not isinstance(ref, Digest):
        if tags:
            raise RegistryError(Err.INVALID_PARAMETER, "tag parameters are allowed on a push by digest only")
        return (ref,)
    tagged = tuple(dict.fromkeys(validate_tag(tag) for tag in tags))
    if len(tagged) > MAX_TAGS_PER_PUT:
        raise RegistryError(Err.TOO_MANY_TAGS, f"{len(tagged)} tags; one push may name {MAX_TAGS_PER_PUT}")
    return tagged


def kept_body(commit: Commit, store: ByteStore, repo: str, record: ManifestRecord, out: bool = False) -> ManifestRecord:
    """The record as it is stored: a body above the inline limit (or any, with `out`) is kept as a blob of the
    repository (linked again if it was collected meanwhile), and the record says where."""
    if (record.size <= INLINE_BODY_LIMIT and not out) or record.body is None:
        return record
    ref = commit.commit(repo, record.digest, InMemory(store, record.body), None)
    return replace(record, body=None, body_location=ref.location)


def _descriptor(referrer: Descriptor) -> dict:
    descriptor = {"mediaType": referrer.media_type, "digest": str(referrer.digest), "size": referrer.size}
    if referrer.artifact_type:
        descriptor["artifactType"] = referrer.artifact_type
    if referrer.annotations:
        descriptor["annotations"] = referrer.annotations
    return descriptor


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
