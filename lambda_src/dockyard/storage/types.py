"""Value types that storage hands to the registry layer, and the errors it raises.

Storage never speaks HTTP: it returns these plain values and raises these plain errors, and the registry
layer maps them to OCI error codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.domain.digest import Digest


class StorageError(Exception):
    """Base class of storage failures the registry layer knows how to answer."""


class ConditionFailed(StorageError):
    """A conditional write lost a race; `current` is the item as it is now (None when absent, or unknown).

    For a transaction, `failed` holds the indexes of the items whose condition failed.
    """

    def __init__(self, current=None, failed: tuple[int, ...] = ()):
        super().__init__("condition failed")
        self.current = current
        self.failed = failed


class ItemTooLarge(StorageError):
    """A write would make an item larger than the metadata store holds (DynamoDB: 400 KB); nothing was
    written."""


class BlobRecorded(StorageError):
    """The same blob was recorded, at another location, by a concurrent upload."""


class BlobDoomed(StorageError):
    """The blob's record is being collected (or is gone): nothing can be linked to it any more."""


class Contended(StorageError):
    """The counts a write is conditioned on kept changing under it, however often it read them again."""


class StillReferenced(StorageError):
    """The item is still referenced: a link by `count` manifests, a manifest by `count` indexes."""

    def __init__(self, count: int):
        super().__init__(f"referenced {count} times")
        self.count = count


@dataclass(frozen=True)
class BlobRef:
    """Where a blob's bytes are: their size and their location (an opaque key built by storage). A record
    read with `get_blob` also says whether it is `doomed` (being collected: not to be linked)."""

    size: int
    location: str
    doomed: bool = False


@dataclass(frozen=True)
class PullHints:
    """What a pull of a manifest asks for next, kept with the manifest by its push so that an instance that
    reads the manifest needs no read for it: where each blob it references is linked (`links`, as the push's
    transaction found them: a link that a manifest counts is not removed while the manifest exists, and a
    move of it removes the hints that name where it was), and the bytes of its config (`links[0]`), when
    small."""

    links: tuple[tuple[Digest, BlobRef], ...] = ()
    config: bytes | None = None


@dataclass(frozen=True)
class Uses:
    """What a manifest references in its repository: blobs (config, layers), child manifests (an index's),
    and, when `body` is set, its own body kept as a blob (linked under the manifest's digest)."""

    blobs: tuple[Digest, ...] = ()
    children: tuple[Digest, ...] = ()
    body: bool = False

    @property
    def count(self) -> int:
        return len(self.blobs) + len(self.children) + self.body

    def ordered(self, digest: Digest, coming_in: bool) -> list[tuple[bool, Digest]]:
        """(is a blob, digest) per reference of manifest `digest`, in the order batches count them: the body
        first coming in and last going out, so that it can be read for as long as a batch entry needs it."""
        body = [(True, digest)] if self.body else []
        rest = [(True, d) for d in self.blobs] + [(False, d) for d in self.children]
        return body + rest if coming_in else rest + body


@dataclass(frozen=True)
class ManifestInfo:
    """A stored manifest as maintenance and the admin API see it (no tag item read)."""

    digest: Digest
    media_type: str
    size: int
    tags: list[str]
    version: int
    parents: int
    subject: Digest | None
    artifact_type: str | None
    pushed_at: int
    untagged_at: int | None
    last_pulled: int | None
    body: bytes | None
    body_location: str | None
    lazy: bool = False


@dataclass(frozen=True)
class TagInfo:
    """A tag as maintenance and the admin API see it."""

    tag: str
    digest: Digest
    pushed_at: int
    last_pulled: int | None


@dataclass(frozen=True)
class Batched:
    """A manifest's references counted in batches (see `ManifestIndex`): `done` of `total`, for the manifest
    `digest` of `repo`, whose body (inline, or a blob at `body_location`) says which they are."""

    repo: str
    digest: Digest
    handle: str  # opaque: which batch entry this is
    done: int
    total: int
    media_type: str
    body: bytes | None
    body_location: str | None
    since: int
    lazy: bool = False


@dataclass(frozen=True)
class ObjectStat:
    """What the byte store knows of a stored object: its size, and the SHA-256 (base64) it verified at PUT."""

    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class Part:
    """A multipart part that has landed."""

    etag: str
    size: int


@dataclass(frozen=True)
class ManifestRecord:
    """A stored manifest. `body` is None when it is kept as a blob of its repository, at `body_location`."""

    digest: Digest
    media_type: str
    size: int
    body: bytes | None
    body_location: str | None = None
    subject: Digest | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    # A tag of a pull-through cache: when the upstream last confirmed it (epoch seconds); None elsewhere.
    checked_at: int | None = None
    # When it was pushed (epoch seconds): a tag's last push, a manifest's first one; 0 if never recorded.
    pushed_at: int = 0
    # When it was last pulled, as recorded at most once an hour (None: never, or not since it was pushed).
    last_pulled: int | None = None
    hints: PullHints | None = None


@dataclass(frozen=True)
class References:
    """What a manifest PUT learns before it writes (see `ManifestIndex.check_references`)."""

    missing: list[Digest]
    tags: dict[str, Digest | None]  # where each tag to be pushed points now (None: nowhere yet)
    listed: bool  # whether the repository is in the catalog already
    exists: bool = False  # whether the manifest is stored already (then its references are counted)
    body_location: str | None = None  # where the stored manifest keeps its body, if not inline
    links: dict[Digest, BlobRef] = field(default_factory=dict)  # where each blob asked about is linked
    config: bytes | None = None  # the stored manifest's config, as its pull hints keep it


@dataclass(frozen=True)
class ManifestTags:
    """The tags that point to a stored manifest, the version of that set, the manifest's subject, how many
    indexes list it, and what its references are read from (its body, inline or at `body_location`)."""

    tags: list[str]
    version: int
    subject: Digest | None
    parents: int = 0
    media_type: str = ""
    body: bytes | None = None
    body_location: str | None = None
    lazy: bool = False  # a pull-through cache's: counted on its blobs only (see `ManifestIndex.put_manifest`)


@dataclass(frozen=True)
class Page:
    """One page of a listing, and the key to continue after it (None on the last page)."""

    items: list
    last: str | None


@dataclass(frozen=True)
class Lease:
    """The right to write an upload session: held by `token` until `until` (epoch seconds)."""

    upload_id: str
    token: str
    until: int


@dataclass(frozen=True, kw_only=True)
class Session:
    """An open upload session. `lease` is the one stored on it now (it may have run out)."""

    id: str
    repo: str
    expires_at: int = 0
    lease: Lease | None = None


@dataclass(frozen=True, kw_only=True)
class ChunkedSession(Session):
    """An upload through the registry. Bytes [0, offset) are stored: `parts` multipart parts of the object
    at the session's assembly location, then a tail object (`tail`, an opaque handle)."""

    offset: int = 0
    parts: int = 0
    multipart_id: str | None = None
    tail: str | None = None
    tail_size: int = 0
    hash_state: bytes | None = None  # resumable SHA-256 state covering bytes [0, offset)


@dataclass(frozen=True, kw_only=True)
class DirectSession(Session):
    """An upload straight into the byte store: the claimed digest and size, the object's location, and the
    part size of a multipart upload (0: a single PUT)."""

    digest: Digest
    size: int
    location: str
    part_size: int = 0
    multipart_id: str | None = None


@dataclass(frozen=True)
class AccessKeyRecord:
    """A stored access key. The secret itself is never stored: only a salted hash of it."""

    id: str
    name: str
    rules: list[tuple[str, list[str]]]  # (repository pattern, actions)
    salt: str
    secret_hash: str
    created_at: int
    expires_at: int | None = None
    last_used: int | None = None
    revoked_at: int | None = None


@dataclass(frozen=True)
class UpstreamRecord:
    """An upstream registry of the pull-through cache. Its credentials live in the credential store, under
    `secret_id`; only the user name is kept here."""

    name: str
    url: str
    mirror: bool = False  # serves unprefixed names no local repository holds (Docker Hub mirror mode)
    username: str | None = None
    secret_id: str | None = None
    created_at: int = 0


@dataclass(frozen=True)
class ImmutabilityRule:
    """Tags of the repositories `pattern` matches cannot be moved or deleted, but those matching one of
    `mutable_tags` (tag globs)."""

    pattern: str
    mutable_tags: tuple[str, ...] = ()
    created_at: int = 0


@dataclass(frozen=True)
class QueueEntry:
    """An item in the garbage collector's queue, since `since`: `kind` says what it is and which fields tell it.

    - `link`: a link (`repo`, `digest`) whose manifests may all be gone;
    - `record`: a blob record (`digest`) whose links may all be gone;
    - `drop`: bytes an upload gave up (`location`, `digest` if known);
    - `session`: an upload session (`upload_id`) that expired;
    - `pending`, `unref`: a manifest's batched references (`repo`, `digest`, `handle`).
    """

    kind: str
    since: int
    repo: str | None = None
    digest: Digest | None = None
    location: str | None = None
    upload_id: str | None = None
    handle: str | None = None


@dataclass(frozen=True)
class LinkState:
    """A link as garbage collection sees it: where its bytes are (None: a placeholder, no bytes yet), how
    many manifests reference it, since when it is queued (None: it is not), and the location it left whose
    pull hints may still be around (`stale`: a move whose clearing was cut short)."""

    ref: BlobRef | None
    refs: int
    since: int | None
    stale: str | None = None


@dataclass(frozen=True)
class RecordState:
    """A blob record as garbage collection sees it: its bytes, its links, since when it is queued, and the
    stamp of the collection that doomed it (None: not doomed)."""

    ref: BlobRef
    links: int
    since: int | None
    doomed: str | None


@dataclass(frozen=True)
class RetentionRule:
    """Which manifests of the repositories matching `pattern` expire (see `dockyard.maintenance.retention`).
    Durations are in seconds; None: that condition is off."""

    pattern: str
    keep_last: int | None = None
    expire_after: int | None = None
    untagged_after: int | None = None
    unpulled_after: int | None = None
    tags: tuple[str, ...] = ()  # the tags the rule applies to (none: every tag)
    keep_tags: tuple[str, ...] = ()  # tags it never expires
    created_at: int = 0


@dataclass
class GcRun:
    """One garbage collection run, as it goes: its phase and where in it (`cursor`), what it counted, and how
    many parts of its report (the deletions, each with its reason) it wrote."""

    id: str
    dry_run: bool
    grace: int
    started_at: int
    state: str = "running"  # running | done | failed
    phase: str = ""
    cursor: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    parts: int = 0
    updated_at: int = 0
    finished_at: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class TagDetail:
    """A tag as a listing for people shows it: its manifest's fields, and when it was pushed and last pulled
    (None where the store has not recorded it)."""

    tag: str
    manifest: ManifestRecord
    pushed_at: int | None = None
    last_pulled: int | None = None


@dataclass(frozen=True)
class LinkTotals:
    """The blobs linked into a repository: how many and their bytes, counted over at most a bounded number
    of links (`complete` False when there were more)."""

    count: int
    size: int
    complete: bool


@dataclass(frozen=True)
class UsageCounts:
    """Activity of one repository on one day: manifest GETs (`pulls`), blob GETs answered with a redirect to
    the byte store (`redirects`) or by the instance itself, from memory (`served`: a small blob, no S3 GET),
    the bytes of each, manifest PUTs (`pushes`), and the last pull and push (epoch seconds, 0 if none)."""

    pulls: int = 0
    redirects: int = 0
    redirect_bytes: int = 0
    pushes: int = 0
    last_pull: int = 0
    last_push: int = 0
    served: int = 0
    served_bytes: int = 0

    def __add__(self, other: UsageCounts) -> UsageCounts:
        return UsageCounts(**{name: (max if name.startswith("last_") else int.__add__)(mine, getattr(other, name))
                              for name, mine in vars(self).items()})


@dataclass(frozen=True)
class StoredRepository:
    """What a repository holds, as its usage report counts it: its linked blobs (digest -> size), its
    manifests (count and bytes), tags, an estimate of the bytes of its table items, and its activity by day."""

    blobs: dict[Digest, int]
    manifests: int
    manifest_bytes: int
    tags: int
    item_bytes: int
    usage: dict[str, UsageCounts]


@dataclass(frozen=True)
class Quota:
    """A storage quota on the repositories `pattern` matches (a namespace): at most `limit` bytes of blobs
    linked in them, each blob counted once however many of them link it. `id` names this rule's counts (a
    rule set again after a delete starts afresh). While `counting`, the links that existed before the rule
    are being counted in (from `count_after`, epoch seconds, continuing after `cursor`); while `deleting`,
    its counts are being removed."""

    pattern: str
    limit: int
    id: str
    used: int = 0
    created_at: int = 0
    counting: bool = False
    count_after: int = 0
    cursor: str | None = None
    deleting: bool = False


class QuotaExceeded(StorageError):
    """Linking a blob would take a namespace over its quota; nothing was written."""

    def __init__(self, quota: Quota, size: int):
        super().__init__(f"quota {quota.pattern} exceeded")
        self.quota, self.size = quota, size
