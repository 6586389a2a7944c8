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


@dataclass(frozen=True)
class BlobRef:
    """Where a blob's bytes are: their size and their location (an opaque key built by storage)."""

    size: int
    location: str


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
    """A stored manifest. `body` is None when it lives in the byte store (`body_in_s3`)."""

    digest: Digest
    media_type: str
    size: int
    body: bytes | None
    body_in_s3: bool = False
    subject: Digest | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    # A tag of a pull-through cache: when the upstream last confirmed it (epoch seconds); None elsewhere.
    checked_at: int | None = None
    # When it was pushed (epoch seconds): a tag's last push, a manifest's first one; 0 if never recorded.
    pushed_at: int = 0
    # When it was last pulled, as recorded at most once an hour (None: never, or not since it was pushed).
    last_pulled: int | None = None


@dataclass(frozen=True)
class References:
    """What a manifest PUT learns before it writes (see `ManifestIndex.check_references`)."""

    missing: list[Digest]
    tags: dict[str, Digest | None]  # where each tag to be pushed points now (None: nowhere yet)
    listed: bool  # whether the repository is in the catalog already


@dataclass(frozen=True)
class ManifestTags:
    """The tags that point to a stored manifest, the version of that set, and the manifest's subject."""

    tags: list[str]
    version: int
    subject: Digest | None


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
