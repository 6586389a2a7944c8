"""Builds a `Registry` for some settings, on first use, with its AWS clients."""

from __future__ import annotations

from dockyard.auth.admin import AccessAdmin
from dockyard.auth.secrets_store import read_bootstrap_admin, read_keyring
from dockyard.auth.service import Auth
from dockyard.auth.tokens import Tokens
from dockyard.config import Settings
from dockyard.registry import Registry
from dockyard.registry.blobs import Blobs
from dockyard.registry.cache import LinkCache
from dockyard.registry.direct import DirectUploads
from dockyard.registry.manifests import Manifests
from dockyard.registry.uploads import Uploads
from dockyard.storage.aws import lazy_clients, secrets_client
from dockyard.storage.dynamo_meta import DynamoMeta
from dockyard.storage.s3_blobs import S3Blobs


def build_registry(settings: Settings, s3=None, dynamodb=None) -> Registry:
    if s3 is None or dynamodb is None:
        s3, dynamodb = lazy_clients(settings)
    meta, store = DynamoMeta(dynamodb, settings.table), S3Blobs(s3, settings.bucket)
    auth = build_auth(settings, meta)
    links = LinkCache(settings.link_cache_ttl)
    uploads = Uploads(meta, store, settings, links)
    return Registry(
        settings=settings,
        blobs=Blobs(meta, store, settings, links),
        uploads=uploads,
        direct=DirectUploads(meta, store, uploads, settings),
        manifests=Manifests(meta, store, settings),
        auth=auth,
        access=AccessAdmin(meta, auth.forget),
    )


def build_auth(settings: Settings, meta: DynamoMeta) -> Auth:
    """Secrets are read on first use (the first authenticated request), once per process."""

    def tokens() -> Tokens:
        keyring = read_keyring(secrets_client(settings), settings.signing_secret)
        return Tokens(keyring, settings.service, settings.token_ttl, settings.refresh_ttl)

    def bootstrap():
        return read_bootstrap_admin(secrets_client(settings), settings.bootstrap_secret)

    return Auth(meta, tokens, bootstrap if settings.bootstrap_secret else None)
