"""The storage contracts, one `Protocol` per aggregate. The registry and auth layers depend on these and on
the value types in `dockyard.storage.types`, never on an implementation.

The read side (`ByteReader`, `BlobLinks`, `ManifestReads`) is all a pull can touch, so that another source
(an upstream registry, for a pull-through cache) can stand behind it. The write side extends it. Each write
that must stay consistent with another is one atomic call, so that later work adds to that call: a quota's
usage counter to `BlobIndex.link_blob`, a condition that the blob record is not doomed (garbage
collection) to every link, a last-pulled stamp written at most hourly beside `touch_access_key`'s.

`tests/storage/` holds the contract suite every implementation must pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from dockyard.domain.digest import Digest
from dockyard.storage.s3_limits import MIB
from dockyard.storage.types import (
    AccessKeyRecord,
    Batched,
    GcRun,
    LinkState,
    RecordState,
    RetentionRule,
    BlobRef,
    ChunkedSession,
    DirectSession,
    ImmutabilityRule,
    Lease,
    LinkTotals,
    ManifestRecord,
    ManifestTags,
    ObjectStat,
    Page,
    Part,
    Quota,
    References,
    Session,
    StoredRepository,
    UpstreamRecord,
    Uses,
    UsageCounts,
)

S = TypeVar("S", bound=Session)

# What one `ManifestIndex.put_manifest` must accept (DynamoDB: a transaction holds 100 items and 4 MB; one
# push writes the manifest, the catalog and referrer entries, and per tag the tag and its old manifest).
MAX_TAGS_PER_PUT = 48
# The body bytes one `put_manifest` may copy inline (its manifest item and each tag item hold a copy).
MAX_INLINE_BODY_BYTES = 3 * MIB


class ByteReader(Protocol):
    """Reading stored bytes."""

    def presign_get(self, location: str, ttl: int) -> str:
        """A URL a client GETs the object from for `ttl` seconds (presigned S3, or with edge downloads a
        CloudFront signed URL); computed locally, no call is made (but the edge key's first read)."""

    def iter_blob(self, location: str, chunk: int = MIB) -> Iterator[bytes]:
        """The object's bytes, streamed in pieces of about `chunk` bytes."""

    def read_blob(self, location: str) -> bytes:
        """A small object's bytes, whole (a manifest body kept as a blob)."""


class ByteStore(ByteReader, Protocol):
    """Blob, manifest-body and upload bytes (S3). Locations are opaque strings this store makes."""

    def stat(self, location: str) -> ObjectStat | None:
        """Size and verified SHA-256 of an object; None if it is not there (one HEAD)."""

    def put_blob(self, digest: Digest, data: bytes) -> str:
        """Write verified bytes at a fresh location (never one used before); returns it."""

    def delete_blob(self, location: str) -> None:
        """Delete an object (no error if it is gone already). Only garbage collection does."""

    def mark_verified(self, location: str) -> None:
        """Take the `unverified` mark off verified bytes about to be linked (it becomes `verified`: the
        registry may tag objects but not delete tags), so that no lifecycle rule expires them."""


    def assembly_location(self, upload_id: str) -> str:
        """Where a chunked upload's multipart object is assembled (and stays, once verified)."""

    def direct_location(self, upload_id: str) -> str:
        """A fresh location for a direct upload: never one a record may already point at."""

    def presign_put(self, location: str, size: int, sha256_b64: str, ttl: int) -> tuple[str, dict]:
        """A PUT URL that accepts exactly these bytes (size and SHA-256); returns (url, headers to send)."""

    def start_multipart(self, location: str) -> str:
        """Start a multipart upload of an object marked unverified; returns its id."""

    def upload_part(self, location: str, multipart_id: str, number: int, data) -> None:
        """Send part `number` (from 1)."""

    def presign_part(self, location: str, multipart_id: str, number: int, ttl: int) -> str:
        """A URL a client PUTs part `number` to."""

    def list_parts(self, location: str, multipart_id: str) -> dict[int, Part]:
        """The parts that have landed, by number ({} when the multipart upload is gone)."""

    def complete_multipart(self, location: str, multipart_id: str, etags: list[str]) -> None:
        """Assemble parts 1..len(etags) into the object; later parts are dropped."""

    def abort_multipart(self, location: str, multipart_id: str) -> None:
        """Drop a multipart upload and its parts (no error if it is gone already)."""

    def put_tail(self, upload_id: str, data: bytes) -> str:
        """Keep bytes received after a session's last part; returns the tail's handle."""

    def read_tail(self, upload_id: str, tail: str) -> bytes:
        """A tail's bytes."""

    def delete_tail(self, upload_id: str, tail: str) -> None:
        """Delete one tail."""

    def delete_tails(self, upload_id: str) -> None:
        """Delete every tail a session left."""


class BlobLinks(Protocol):
    """Which blobs a repository can see."""

    def get_link(self, repo: str, digest: Digest) -> BlobRef | None:
        """The blob as linked into `repo`, or None (one read)."""


class BlobIndex(BlobLinks, Protocol):
    """Blob records (one per blob, whatever repositories link it) and per-repository links. A record counts
    its links, a link the manifests that reference it (see `dockyard.maintenance`)."""

    def get_blob(self, digest: Digest) -> BlobRef | None:
        """The blob's global record, read consistently (`doomed` if it is being collected), or None."""

    def link_blob(self, repo: str, digest: Digest, ref: BlobRef, *, record: bool = False,
                  replaces: str | None = None, closing: Lease | None = None,
                  quotas: tuple[Quota, ...] = ()) -> BlobRef:
        """Link a blob into `repo`, counted on its record, atomically with: recording it (`record`: a first
        record, or one that is doomed, or one at `replaces`; `BlobRecorded` if another live location was
        recorded first), deleting the upload session `closing` holds (`ConditionFailed` if that lease was
        lost) and counting it into `quotas` (`QuotaExceeded` if that would take one over its limit). Without
        `record`, the record must live at `ref.location` (else `BlobDoomed`). Returns the link as it is: ours,
        or the one that was there already (which stays, counted as it was; the session is closed);
        `Contended` if the quotas' counts kept moving under it. Nothing is written on failure."""

    def unlink_blob(self, repo: str, digest: Digest) -> bool:
        """Remove a blob's link from `repo` (not its bytes), counted off its record and out of the quotas
        that counted it; False if it was not linked, `StillReferenced` while a manifest of `repo` references
        it, `Contended` if its counts kept moving under every attempt."""

    def drop_bytes(self, digest: Digest, location: str) -> None:
        """Give up bytes an upload stored but did not link: garbage collection deletes them."""

    def get_links(self, repo: str, digests: list[Digest]) -> dict[Digest, BlobRef]:
        """The blobs among `digests` linked into `repo` (one batched read per 100)."""

    def link_totals(self, repo: str, most: int) -> LinkTotals:
        """How many blobs `repo` links and their bytes, reading at most about `most` links."""


class ManifestReads(Protocol):
    """Manifests, tags, referrers and the catalog, as a pull reads them."""

    def get_manifest(self, repo: str, digest: Digest) -> ManifestRecord | None:
        """A manifest by digest, or None (one read)."""

    def get_tag(self, repo: str, tag: str) -> ManifestRecord | None:
        """The manifest a tag points to, or None (one read)."""

    def list_tags(self, repo: str, limit: int, last: str | None) -> Page:
        """Up to `limit` tags after `last`, in byte order; `Page.last` continues."""

    def list_referrers(self, repo: str, subject: Digest, limit: int, last: str | None,
                       artifact_type: str | None, max_bytes: int) -> Page:
        """Descriptors of up to `limit` manifests whose subject is `subject` (and of `artifact_type`, if
        given), in digest order after digest `last`, as many as `max_bytes` of their JSON hold (at least
        one); nothing past the page is read into memory."""

    def list_repositories(self, limit: int, last: str | None) -> Page:
        """Up to `limit` repository names after `last`, in byte order."""

    def repository_exists(self, repo: str) -> bool:
        """Whether the repository is in the catalog."""


class ManifestIndex(ManifestReads, Protocol):
    """Writing manifests, tags, referrer entries and the catalog."""

    def check_references(self, repo: str, blobs: list[Digest], manifests: list[Digest],
                         tags: tuple[str, ...] = (), digest: Digest | None = None) -> References:
        """Which of these are missing from `repo` (and where each blob found is linked), where each of `tags`
        points, whether `repo` is listed, and whether manifest `digest` is stored already (and the config its
        pull hints keep)."""

    def put_manifest(self, repo: str, record: ManifestRecord, tags: tuple[str, ...], refs: References,
                     uses: Uses = Uses(), lazy: bool = False) -> None:
        """Store a manifest, move each of `tags` (at most `MAX_TAGS_PER_PUT`) to it from where `refs.tags`
        says it points, add its referrer entry (and the catalog entry of a new repository) atomically; a new
        manifest (`refs.exists` false) is counted on everything it `uses`, each of which must exist (a `lazy`
        one, a pull-through cache's, on its blobs only, placeholders where they are not fetched yet). The
        record's pull hints are kept with the manifest and its tags (not its referrer entry); a new manifest is
        counted on each hinted link only where the hints say it is, and stored without them if it is counted
        in batches. `ConditionFailed` if anything read in `refs` changed meanwhile."""

    def manifest_tags(self, repo: str, digest: Digest) -> ManifestTags | None:
        """The tags pointing to a manifest and their version, how many indexes list it and its body, read
        consistently; None if no such manifest."""

    def delete_manifest(self, repo: str, digest: Digest, state: ManifestTags, uses: Uses = Uses(),
                        subject_absent: bool = False) -> None:
        """Delete a manifest, its tags and its referrer entry atomically, uncounting it from what it `uses`, if
        its tags are still `state` (else `ConditionFailed`) and no index lists it (else `StillReferenced`);
        with `subject_absent`, only while its subject is not stored."""

    def delete_tag(self, repo: str, tag: str, expected: Digest | None = None, pushed_at: int | None = None) -> bool:
        """Delete a tag, not its manifest; False if there was none, `ConditionFailed` on a race (or when it
        no longer points to `expected`, pushed at `pushed_at`)."""

    def mark_checked(self, repo: str, tag: str, digest: Digest, at: int) -> bool:
        """Record that a cached tag was confirmed upstream at `at`, if it still points to `digest`
        (False if it does not, or is gone)."""

    def record_pull(self, repo: str, reference: Digest | str, digest: Digest, now: int, older_than: int) -> None:
        """Stamp `now` as the last pull of a tag or manifest (by digest) that still points to `digest`, only if
        the stamp it has is before `older_than` (one conditional write; nothing when it is newer)."""

    def list_manifests(self, repo: str, limit: int, last: str | None) -> Page:
        """Up to `limit` manifests (`ManifestInfo`, with their bodies) after digest `last`, in digest order."""

    def list_tag_infos(self, repo: str, limit: int, last: str | None) -> Page:
        """Up to `limit` tags (`TagInfo`) after `last`, in byte order."""
    def list_tag_details(self, repo: str, limit: int, last: str | None, *, bodies: bool = True) -> Page:
        """`TagDetail`s of up to `limit` tags after `last`, in byte order, read consistently; without
        `bodies`, their manifests carry no body (a cheaper transfer, the same read units)."""

    def get_manifests(self, repo: str, digests: list[Digest]) -> dict[Digest, ManifestRecord]:
        """The manifests among `digests` stored in `repo` (one batched read per 100)."""


class UploadSessions(Protocol):
    """Upload sessions and the write leases on them."""

    def create_chunked(self, session: ChunkedSession) -> None:
        """Record a new chunked session (its id must be new)."""

    def create_direct(self, session: DirectSession, now: int) -> bool:
        """Record a direct session; False if a live one with its id exists (then resume that)."""

    def get_session(self, upload_id: str) -> ChunkedSession | DirectSession | None:
        """A session, read consistently, or None."""

    def take_lease(self, kind: type[S], upload_id: str, repo: str, lease: Lease, now: int,
                   offset: int | None = None) -> S:
        """Take a live session of `kind` in `repo` whose lease is free at `now` (and at `offset`, if
        given); `ConditionFailed.current` holds the session as it is when that fails."""

    def renew_lease(self, lease: Lease) -> None:
        """Extend a lease we hold to `lease.until`; `ConditionFailed` if it is not ours any more."""

    def release_lease(self, lease: Lease) -> None:
        """Give a lease back, if we still hold it."""

    def save_chunked(self, session: ChunkedSession, lease: Lease) -> None:
        """Write a chunked session's new state and give its lease back; `ConditionFailed` if it was lost."""

    def delete_session(self, upload_id: str, lease: Lease | None = None) -> None:
        """Delete a session; with `lease`, only while it holds it (else `ConditionFailed`)."""


class AccessStore(Protocol):
    """Access keys and the anonymous policy."""

    def put_access_key(self, record: AccessKeyRecord) -> None:
        """Store a key (a new one, or a replacement with the same id)."""

    def get_access_key(self, key_id: str) -> AccessKeyRecord | None:
        """A key, read consistently, or None."""

    def list_access_keys(self, limit: int, last: str | None) -> Page:
        """Up to `limit` keys (`AccessKeyRecord`s), revoked ones included, by id after id `last`."""

    def revoke_access_key(self, key_id: str, now: int) -> bool:
        """Mark a key revoked (the first revocation time stays); False if there is no such key."""

    def touch_access_key(self, key_id: str, now: int, older_than: int) -> None:
        """Record a use, only if the last one recorded is before `older_than` (one write at most)."""

    def get_anonymous_rules(self) -> list[tuple[str, list[str]]]:
        """What anonymous callers may do: (repository pattern, actions)."""

    def put_anonymous_rules(self, rules: list[tuple[str, list[str]]]) -> None:
        """Replace the anonymous rules."""


class UpstreamStore(Protocol):
    """The pull-through cache's upstreams, and the claims that make one fetch per blob."""

    def put_upstream(self, record: UpstreamRecord) -> UpstreamRecord | None:
        """Add or replace an upstream; returns the one it replaced. A mirror upstream (at most one) raises
        `ConditionFailed` if another upstream is the mirror already."""

    def list_upstreams(self) -> list[UpstreamRecord]:
        """Every upstream, by name (one query)."""

    def delete_upstream(self, name: str) -> UpstreamRecord | None:
        """Remove an upstream (not what it cached); returns it, or None if there was none."""

    def claim_fetch(self, digest: Digest, token: str, until: int, now: int) -> bool:
        """Claim the fetch of a blob until `until`, unless another claim is live at `now`."""

    def release_fetch(self, digest: Digest, token: str) -> None:
        """Give a claim back, if it is still ours."""


class CredentialStore(Protocol):
    """Upstream credentials, encrypted at rest (Secrets Manager). Never logged, never listed."""

    def put_credentials(self, upstream: str, username: str, password: str) -> str:
        """Keep a new secret; returns its id (each call makes a new one)."""

    def get_credentials(self, secret_id: str) -> tuple[str, str]:
        """(username, password)."""

    def delete_credentials(self, secret_id: str) -> None:
        """Delete a secret (no error if it is gone already)."""


class GovernanceStore(Protocol):
    """Immutability rules and usage counters."""

    def list_immutability(self) -> list[ImmutabilityRule]:
        """Every immutability rule, by glob, read consistently (one query)."""

    def put_immutability(self, rule: ImmutabilityRule) -> None:
        """Add a rule, or replace the one with the same glob."""

    def delete_immutability(self, pattern: str) -> bool:
        """Remove the rule with this glob; False if there was none."""

    def add_usage(self, repo: str, day: str, counts: UsageCounts, expires_at: int) -> None:
        """Add counts to a repository's day (YYYY-MM-DD) and set the last pull and push given (the last writer
        wins): one write, no read; the day is kept until `expires_at`."""

    def list_usage(self, repo: str) -> dict[str, UsageCounts]:
        """Every day of a repository's activity that is kept, by day."""

    def stored(self, repo: str) -> StoredRepository:
        """What the repository holds and its activity by day, read in one walk of its items."""

    def blob_links(self, digests: list[Digest]) -> dict[Digest, int]:
        """How many repositories link each of these blobs (those with a record)."""


class QuotaStore(Protocol):
    """Storage quotas per namespace (repository glob) and their counts. Links are counted in and out by
    `BlobIndex.link_blob` and `unlink_blob`, in their own transactions."""

    def list_quotas(self) -> list[Quota]:
        """Every quota, by glob, read consistently (one query)."""

    def get_quota(self, pattern: str) -> Quota | None:
        """One quota, read consistently."""

    def create_quota(self, quota: Quota) -> None:
        """A new quota, counting from 0 (`ConditionFailed` if the glob has one)."""

    def set_limit(self, quota: Quota, limit: int) -> None:
        """Change a quota's limit (`ConditionFailed` if it was deleted meanwhile)."""

    def save_cursor(self, quota: Quota, cursor: str | None) -> None:
        """Where counting in continues (None: done)."""

    def start_delete(self, quota: Quota) -> None:
        """Stop enforcing a quota; its counts go next (`drop_counts`)."""

    def drop_counts(self, quota: Quota, most: int) -> bool:
        """Remove up to `most` of a deleting quota's counts, and the quota once none is left (True then)."""

    def list_links(self, repo: str, limit: int, last: str | None) -> Page:
        """(digest, size, ids of the quotas that counted it) of up to `limit` links after digest `last`."""

    def count_link(self, quota: Quota, repo: str, digest: Digest, size: int) -> bool:
        """Count an existing link into a quota, once (False: counted already, or gone)."""


class Collector(Protocol):
    """The garbage collector's queue and its conditional steps (see `dockyard.maintenance`). Each step
    re-checks what it read, so it does nothing when the item changed meanwhile."""

    def shards(self) -> list[str]:
        """The queue's shards."""

    def queue(self, shard: str, older_than: int, limit: int, start: dict | None = None) -> tuple[list, dict | None]:
        """Up to `limit` entries (`QueueEntry`) of a shard queued at `older_than` or before, oldest first, and
        where to continue (None: no more)."""

    def link_state(self, repo: str, digest: Digest) -> LinkState | None:
        """A link, its reference count and its queue time, read consistently."""

    def collect_link(self, repo: str, digest: Digest, since: int, now: int) -> bool:
        """Remove a link that no manifest references and that is queued since `since`, counting it out of its
        record (which is queued from `now`) and out of the storage quotas that counted it; False if it is
        referenced or changed."""

    def keep_link(self, repo: str, digest: Digest, since: int) -> None:
        """Take a referenced link out of the queue, unless it was queued again since `since`."""

    def clear_hints(self, repo: str, digest: Digest, left: str) -> None:
        """Remove the pull hints of `repo` that name `digest` at `left`, a location its link left."""

    def record_state(self, digest: Digest) -> RecordState | None:
        """A blob record, its link count, its queue time and doom, read consistently."""

    def doom(self, digest: Digest, since: int) -> str | None:
        """Doom an unlinked record queued since `since` (no link can be made to it any more); its stamp, or
        None if it is linked or changed."""

    def forget_record(self, digest: Digest, stamp: str) -> bool:
        """Delete a record doomed with `stamp` (its bytes are gone); False if an upload rescued it."""

    def keep_record(self, digest: Digest, since: int) -> None:
        """Take a linked record out of the queue, unless it was queued again since `since`."""

    def drop_digest(self, location: str) -> tuple[bool, Digest | None]:
        """Whether bytes at `location` were given up, and the digest they were meant to be."""

    def forget_drop(self, location: str) -> None:
        """Forget given-up bytes (they are deleted, or recorded after all)."""

    def expire_session(self, upload_id: str, now: int) -> ChunkedSession | DirectSession | None:
        """Delete a session expired at `now` that no request holds; the session, or None if it lives."""

    def batched(self, repo: str, handle: str) -> Batched | None:
        """A manifest's batched references entry."""

    def undo_pending(self, entry: Batched, uses: Uses) -> bool:
        """Uncount a stale pending entry's references and drop it, unless a push moves it on meanwhile."""

    def pay_unref(self, entry: Batched, uses: Uses) -> None:
        """Uncount the rest of a deleted manifest's references, and drop its entry."""


class MaintenanceStore(Protocol):
    """Retention rules, GC runs and their reports, and the lease of the one run that may delete."""

    def put_rule(self, rule: RetentionRule) -> None:
        """Store a rule (replacing the one with the same pattern)."""

    def list_rules(self) -> list[RetentionRule]:
        """Every rule, by pattern."""

    def delete_rule(self, pattern: str) -> bool:
        """Delete a rule; False if there was none."""

    def save_run(self, run: GcRun) -> None:
        """Store a run's state."""

    def get_run(self, run_id: str) -> GcRun | None:
        """A run, read consistently."""

    def list_runs(self, limit: int) -> list[GcRun]:
        """The latest runs, newest first."""

    def add_report(self, run: GcRun, part: int, entries: list[dict]) -> None:
        """Store one part of a run's report."""

    def report(self, run_id: str, part: int) -> list[dict] | None:
        """One part of a run's report."""

    def take_lock(self, run_id: str, until: int, now: int) -> str | None:
        """Hold the deleting run's lease until `until` if it is free or ours; else the id of its holder."""

    def release_lock(self, run_id: str) -> None:
        """Give the lease back, if we hold it."""


@dataclass(frozen=True)
class Storage:
    """One implementation of every aggregate, as the registry is built from them."""

    objects: ByteStore
    blobs: BlobIndex
    manifests: ManifestIndex
    uploads: UploadSessions
    access: AccessStore
    upstreams: UpstreamStore
    credentials: CredentialStore
    governance: GovernanceStore
    collector: Collector
    maintenance: MaintenanceStore
    quotas: QuotaStore
