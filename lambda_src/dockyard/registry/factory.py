"""Builds a `Registry` for some settings, on first use, with its AWS clients."""

from __future__ import annotations

from dockyard.config import Settings
from dockyard.registry import Registry
from dockyard.registry.blobs import Blobs
from dockyard.registry.manifests import Manifests
from dockyard.registry.uploads import Uploads
from dockyard.storage.aws import make_clients
from dockyard.storage.dynamo_meta import DynamoMeta
from dockyard.storage.s3_blobs import S3Blobs


def build_registry(settings: Settings, s3=None, dynamodb=None) -> Registry:
    if s3 is None or dynamodb is None:
        s3, dynamodb = make_clients(settings)
    meta, store = DynamoMeta(dynamodb, settings.table), S3Blobs(s3, settings.bucket)
    return Registry(
        blobs=Blobs(meta, store, settings),
        uploads=Uploads(meta, store, settings),
        manifests=Manifests(meta, store, settings),
    )
