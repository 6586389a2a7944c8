"""One upstream registry behind the read side of the storage contracts: manifests by tag or digest (as
`ManifestReads` answers them, the body always included), blob links (`BlobLinks`) and blob bytes (`ByteReader`). A blob's `location`
here is its path on the upstream. Everything is checked before it is returned: a manifest by digest must
hash to it, and every manifest must parse."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urljoin

from dockyard.domain.digest import Digest
from dockyard.domain.manifest import MAX_MANIFEST_SIZE, parse_manifest
from dockyard.errors import RegistryError
from dockyard.storage.types import BlobRef, ManifestRecord
from dockyard.upstream.client import MANIFEST_ACCEPT, UpstreamClient, UpstreamError, _drain

BLOB_PATH = "/v2/{repo}/blobs/{digest}"


def scope(repo: str) -> str:
    return f"repository:{repo}:pull"


class UpstreamSource:
    def __init__(self, client: UpstreamClient):
        self.client = client

    # --- manifests (the `ManifestReads` side) -------------------------------------------------------------

    def get_tag(self, repo: str, tag: str) -> ManifestRecord | None:
        return self._manifest(repo, tag, None)

    def get_manifest(self, repo: str, digest: Digest) -> ManifestRecord | None:
        return self._manifest(repo, str(digest), digest)

    def tag_digest(self, repo: str, tag: str) -> Digest | None:
        """Where an upstream tag points now, from one HEAD (a GET where the upstream sends no digest)."""
        response = self.client.request("HEAD", f"/v2/{repo}/manifests/{tag}", scope(repo),
                                       {"Accept": MANIFEST_ACCEPT})
        _drain(response)
        if response.status == 404:
            return None
        _expect(response, 200)
        header = response.headers.get("docker-content-digest")
        if header:
            try:
                return Digest.parse(header)
            except RegistryError:
                pass
        record = self.get_tag(repo, tag)
        return record.digest if record else None

    def _manifest(self, repo: str, reference: str, digest: Digest | None) -> ManifestRecord | None:
        response = self.client.request("GET", f"/v2/{repo}/manifests/{reference}", scope(repo),
                                       {"Accept": MANIFEST_ACCEPT}, stream=True)
        try:
            if response.status == 404:
                return None
            _expect(response, 200)
            body = response.read(MAX_MANIFEST_SIZE + 1, decode_content=True)
        finally:
            _drain(response)
        if len(body) > MAX_MANIFEST_SIZE:
            raise UpstreamError(502, f"the upstream's manifest {reference} exceeds {MAX_MANIFEST_SIZE} bytes")
        try:
            manifest = parse_manifest(body, response.headers.get("content-type"),
                                      digest.algorithm if digest else "sha256")
        except RegistryError as exc:
            raise UpstreamError(502, f"the upstream's manifest {reference} is invalid: {exc.detail}") from None
        if digest is not None and manifest.digest != digest:
            raise UpstreamError(502, f"the upstream's manifest {reference} hashes to {manifest.digest}")
        from dockyard.registry.manifests import record_of

        return replace(record_of(manifest, body), body=body)  # the body, even one that is kept in S3

    # --- blobs (the `BlobLinks` and `ByteReader` side) ----------------------------------------------------

    def get_link(self, repo: str, digest: Digest) -> BlobRef | None:
        """The blob, if the upstream has it in `repo` (one HEAD): its size and its upstream path."""
        path = BLOB_PATH.format(repo=repo, digest=digest)
        response = self.client.request("HEAD", path, scope(repo))
        _drain(response)
        if response.status == 404:
            return None
        _expect(response, 200)
        length = response.headers.get("content-length")
        return BlobRef(int(length) if length and length.isdigit() else -1, path)

    def open_blob(self, repo: str, digest: Digest):
        """The blob's bytes as a stream with `read(n)` and its headers (the caller calls `release_conn()`),
        from one GET (redirects followed); None if the upstream does not have it."""
        response = self.client.request("GET", BLOB_PATH.format(repo=repo, digest=digest), scope(repo), stream=True)
        if response.status != 200:
            _drain(response)
            if response.status == 404:
                return None
            _expect(response, 200)
        return response

    def presign_get(self, repo: str, digest: Digest) -> str | None:
        """A URL a client can GET the blob from without our credentials: where the upstream redirects
        (a CDN or presigned storage URL), or the upstream itself when it needs no credentials; None if
        neither."""
        path = BLOB_PATH.format(repo=repo, digest=digest)
        response = self.client.request("GET", path, scope(repo), stream=True, follow=False)
        _drain(response)
        if response.status in (301, 302, 303, 307, 308) and response.headers.get("location"):
            return urljoin(self.client.url + path, response.headers["location"])
        if response.status == 200 and not self.client.needs_credentials:
            return self.client.url + path
        return None


def _expect(response, status: int) -> None:
    if response.status != status:
        raise UpstreamError(response.status, f"upstream answered {response.status}")
