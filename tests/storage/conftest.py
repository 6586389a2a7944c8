"""The storage contract suite: every implementation of the storage contracts runs these same tests.

An implementation registers here with a factory:
- `WRITABLE`: implementations of every aggregate (`Storage`); both the read-side and the write-side tests
  run against them;
- `READ_ONLY`: implementations of the read side only (an upstream registry read through, for a
  pull-through cache), with a way to seed content into them; only the read-side tests run against them.

A test asks for `storage` (write side) or `source` (read side, seeded), and is run once per implementation
that can serve it: no implementation ever skips a test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage.interfaces import BlobLinks, ByteReader, ManifestReads, Storage
from dockyard.storage.types import BlobRef, ManifestRecord, References


class Seeder(Protocol):
    """Puts content where a read-side implementation reads it."""

    def blob(self, repo: str, data: bytes) -> Digest: ...

    def manifest(self, repo: str, body: bytes, tag: str | None = None, subject: Digest | None = None,
                 artifact_type: str | None = None, annotations: dict | None = None) -> Digest: ...


@dataclass
class Source:
    """A read side under test, and how to put content into it."""

    objects: ByteReader
    blobs: BlobLinks
    manifests: ManifestReads
    seed: Seeder


class StorageSeeder:
    """Seeds through the write side of the same storage."""

    def __init__(self, storage: Storage):
        self.storage = storage

    def blob(self, repo: str, data: bytes) -> Digest:
        digest = Digest.of(data)
        location = self.storage.objects.put_blob(digest, data)
        self.storage.blobs.link_blob(repo, digest, BlobRef(len(data), location), record=True)
        return digest

    def manifest(self, repo, body, tag=None, subject=None, artifact_type=None, annotations=None) -> Digest:
        record = manifest_record(body, subject, artifact_type, annotations)
        manifests = self.storage.manifests
        tags = (tag,) if tag else ()
        manifests.put_manifest(repo, record, tags, manifests.check_references(repo, [], [], tags, record.digest))
        return record.digest


def manifest_record(body: bytes, subject=None, artifact_type=None, annotations=None,
                    media_type: str = "application/vnd.oci.image.manifest.v1+json") -> ManifestRecord:
    return ManifestRecord(digest=Digest.of(body), media_type=media_type, size=len(body), body=body,
                          subject=subject, artifact_type=artifact_type, annotations=annotations or {})


def no_references(listed: bool = False, exists: bool = False, **tags: Digest | None) -> References:
    """References of a manifest that needs nothing, whose tags point where `tags` says (None: nowhere), and
    that is stored already (`exists`) or not."""
    return References([], tags, listed, exists)


@pytest.fixture
def aws_storage(settings) -> Storage:
    """S3 and DynamoDB on moto (server mode): a fresh bucket and table; Secrets Manager under its own prefix."""
    from dockyard.storage.aws import new_clients, secrets_client
    from dockyard.storage.backend import aws_storage

    s3, dynamodb = new_clients(settings.region, settings.endpoint_url)
    return aws_storage(s3, dynamodb, settings.bucket, settings.table, secrets_client(settings), settings.secret_prefix)


WRITABLE = {"aws": "aws_storage"}
READ_ONLY: dict[str, str] = {}  # name -> fixture returning a `Source`


def pytest_generate_tests(metafunc):
    if "storage" in metafunc.fixturenames:
        metafunc.parametrize("storage", list(WRITABLE), indirect=True)
    elif "source" in metafunc.fixturenames:
        metafunc.parametrize("source", [*WRITABLE, *READ_ONLY], indirect=True)


@pytest.fixture
def storage(request) -> Storage:
    return request.getfixturevalue(WRITABLE[request.param])


@pytest.fixture
def source(request) -> Source:
    if request.param in READ_ONLY:
        return request.getfixturevalue(READ_ONLY[request.param])
    storage = request.getfixturevalue(WRITABLE[request.param])
    return Source(storage.objects, storage.blobs, storage.manifests, StorageSeeder(storage))


@pytest.fixture
def repo() -> str:
    return f"team/app-{uuid.uuid4().hex[:6]}"
