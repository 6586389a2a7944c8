"""What the web page's read model returns: rows and pages of repositories and tags, an image, a referrer
tree, and the plan of a delete."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.domain.imageconfig import ImageConfig, Parsed
from dockyard.storage.types import ManifestRecord


@dataclass(frozen=True)
class RepositoryRow:
    name: str
    tags: int
    tags_complete: bool
    size: int
    size_complete: bool
    pushed_at: int | None
    last_pulled: int | None


@dataclass(frozen=True)
class RepositoryPage:
    rows: list[RepositoryRow]
    after: str | None  # continue the listing after this name
    searched_to: str | None  # a search that stopped early: names up to here were searched


@dataclass(frozen=True)
class TagRow:
    tag: str
    digest: str
    media_type: str
    kind: str
    size: int | None  # bytes a pull transfers; for an index, the largest platform's
    platforms: list[str]
    pushed_at: int | None
    last_pulled: int | None
    artifact_type: str | None = None
    immutable: str | None = None  # the glob of the rule that keeps this tag from moving or going


@dataclass(frozen=True)
class TagPage:
    repository: str
    rows: list[TagRow]
    order: str  # "pushed" (newest first, where push times are recorded) or "name"
    page: int
    pages: int | None  # None: past MAX_SORTED tags, pages follow `after`
    after: str | None  # next page, when shown by name
    total: int | None
    query: str = ""  # only tags whose name contains this
    searched_to: str | None = None  # a search past `MAX_SORTED` tags that stopped early: searched up to here
    retention: dict | None = None  # the retention rule that applies (read for admins only)
    pulls: list[tuple[str, int]] | None = None  # pulls per day, oldest first (None: not counted)


@dataclass
class ReferrerNode:
    digest: str
    media_type: str
    artifact_type: str | None
    size: int
    annotations: dict
    children: list[ReferrerNode] = field(default_factory=list)


@dataclass(frozen=True)
class ImageView:
    repository: str
    reference: str
    record: ManifestRecord
    parsed: Parsed
    config: ImageConfig | None
    children: list[tuple]  # (Child, image size or None)
    tags: list[str]
    referrers: list[ReferrerNode]
    referrers_complete: bool
    immutable: dict[str, str] = field(default_factory=dict)  # tag -> the glob of the rule that keeps it


@dataclass(frozen=True)
class Deletion:
    """What deleting a reference removes, and what it leaves."""

    repository: str
    reference: str
    digest: str
    by_tag: bool
    tags_removed: list[str]
    tags_kept: list[str]  # other tags on the manifest (kept when only a tag goes)
    referrers: list[str]  # manifests whose subject this is: they stay, without their subject
    children: int  # platform manifests an index lists: they stay
    immutable: tuple[str, str] | None = None  # (tag, rule glob): the delete would be refused
