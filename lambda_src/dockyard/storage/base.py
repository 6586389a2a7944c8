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
    """A conditional write lost a race; `current` is the item as it is now (None when absent).

    For a transaction, `failed` holds the indexes of the items whose condition failed.
    """

    def __init__(self, current=None, failed: tuple[int, ...] = ()):
        super().__init__("condition failed")
        self.current = current
        self.failed = failed


class BlobRecorded(StorageError):
    """The same blob was recorded, at another location, by a concurrent upload."""


@dataclass(frozen=True)
class BlobRef:
    """Where a blob's bytes are: their size and their S3 location (an opaque key built by storage)."""

    size: int
    location: str


@dataclass(frozen=True)
class UploadSession:
    """An open blob upload. Bytes [0, offset) are stored: `parts` multipart parts, then a tail object."""

    id: str
    repo: str
    offset: int = 0
    parts: int = 0
    multipart_id: str | None = None
    tail: str | None = None  # opaque handle of the tail object (storage builds its key)
    tail_size: int = 0
    hash_state: bytes | None = None  # resumable SHA-256 state covering bytes [0, offset)
    expires_at: int = 0
    lock: str | None = None
    lock_until: int = 0
    # Direct uploads (bytes go client -> S3): the claimed digest and size, the object's location, and the
    # part size of a multipart upload (0: a single PUT).
    digest: str | None = None
    size: int = 0
    location: str | None = None
    part_size: int = 0


@dataclass(frozen=True)
class ManifestRecord:
    """A stored manifest. `body` is None when it lives in S3 (`body_in_s3`)."""

    digest: Digest
    media_type: str
    size: int
    body: bytes | None
    body_in_s3: bool = False
    subject: Digest | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of a listing, and the key to continue after it (None on the last page)."""

    items: list
    last: str | None


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
