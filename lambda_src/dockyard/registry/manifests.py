"""Manifest push and pull, tag and catalog listings."""

from __future__ import annotations

from dockyard.config import Settings
from dockyard.domain.digest import CANONICAL, Digest
from dockyard.domain.manifest import Manifest, parse_manifest
from dockyard.domain.names import parse_reference
from dockyard.errors import Err, RegistryError
from dockyard.storage.base import ManifestRecord, Page
from dockyard.storage.dynamo_meta import DynamoMeta
from dockyard.storage.s3_blobs import S3Blobs

# A manifest item and its tag item each stay under DynamoDB's 400 KB item limit; larger bodies go to S3.
INLINE_BODY_LIMIT = 256 * 1024
# The most names one listing page returns; a `Link` header leads to the rest.
MAX_PAGE = 1000


class Manifests:
    def __init__(self, meta: DynamoMeta, store: S3Blobs, settings: Settings):
        self.meta, self.store, self.settings = meta, store, settings

    def get(self, repo: str, reference: str, with_body: bool = True) -> ManifestRecord:
        """By tag or digest: one DynamoDB read (plus one S3 read for a body too large to keep inline)."""
        ref = parse_reference(reference)
        record = self.meta.get_manifest(repo, ref) if isinstance(ref, Digest) else self.meta.get_tag(repo, ref)
        if record is None:
            raise RegistryError(Err.MANIFEST_UNKNOWN, f"manifest {reference} is not in repository {repo}")
        if with_body and record.body is None:
            return ManifestRecord(**{**record.__dict__, "body": self.store.get_manifest_body(record.digest)})
        return record

    def put(self, repo: str, reference: str, body: bytes, content_type: str | None) -> Manifest:
        """Validate, check that everything it references is in the repository, then store in one write."""
        ref = parse_reference(reference)
        manifest = parse_manifest(body, content_type, ref.algorithm if isinstance(ref, Digest) else CANONICAL)
        if isinstance(ref, Digest) and manifest.digest != ref:
            raise RegistryError(Err.DIGEST_INVALID, f"the manifest's digest is {manifest.digest}, not {ref}")
        missing = self.meta.missing(repo, manifest.blobs, manifest.children)
        if missing:
            raise RegistryError(Err.MANIFEST_BLOB_UNKNOWN, {"missing": [str(d) for d in missing[:50]]})
        in_s3 = manifest.size > INLINE_BODY_LIMIT
        if in_s3:
            self.store.put_manifest_body(manifest.digest, body)
        record = ManifestRecord(
            digest=manifest.digest, media_type=manifest.media_type, size=manifest.size,
            body=None if in_s3 else body, body_in_s3=in_s3,
            subject=manifest.subject.digest if manifest.subject else None,
            artifact_type=manifest.artifact_type, annotations=manifest.annotations,
        )
        self.meta.put_manifest(repo, record, None if isinstance(ref, Digest) else ref)
        return manifest

    def tags(self, repo: str, n: int | None, last: str | None) -> Page:
        """Tags in lexical order after `last`; reads proportional to the page."""
        page = self.meta.list_tags(repo, _page_size(n), last) if n != 0 else Page([], None)
        if not page.items and not self.meta.repository_exists(repo):
            raise RegistryError(Err.NAME_UNKNOWN, f"repository {repo} is not known")
        return page

    def catalog(self, n: int | None, last: str | None, visible=None) -> Page:
        """Repositories in lexical order after `last`; with `visible`, only those it accepts (the ones the
        caller may pull), reading on until the page is full."""
        limit = _page_size(n)
        if n == 0:
            return Page([], None)
        page = self.meta.list_repositories(limit, last)
        if visible is None:
            return page
        names = [name for name in page.items if visible(name)]
        while len(names) < limit and page.last is not None:
            page = self.meta.list_repositories(limit, page.last)
            names += [name for name in page.items if visible(name)]
        if len(names) > limit:
            return Page(names[:limit], names[limit - 1])
        return Page(names, names[-1] if page.last is not None and names else None)


def _page_size(n: int | None) -> int:
    if n is not None and n < 0:
        raise RegistryError(Err.INVALID_PARAMETER, "n must not be negative")
    return MAX_PAGE if n is None else min(n, MAX_PAGE)
