"""Builds a `Registry` for some settings, on first use: the one place that picks the storage
implementation (S3 and DynamoDB) and the secrets it reads."""

from __future__ import annotations

from dockyard.auth.secrets_store import read_bootstrap_admin, read_keyring
from dockyard.auth.service import Auth
from dockyard.auth.tokens import Tokens
from dockyard.config import Settings
from dockyard.registry import Registry, assemble
from dockyard.storage.aws import LazyClient, lazy_clients, secrets_client
from dockyard.storage.backend import aws_storage
from dockyard.storage.edge import EdgeDownloads, read_key
from dockyard.storage.interfaces import AccessStore


def build_registry(settings: Settings, s3=None, dynamodb=None) -> Registry:
    if s3 is None or dynamodb is None:
        s3, dynamodb = lazy_clients(settings)
    secrets = LazyClient(lambda: secrets_client(settings))
    storage = aws_storage(s3, dynamodb, settings.bucket, settings.table, secrets, settings.secret_prefix,
                          build_edge(settings))
    return assemble(settings, storage, build_auth(settings, storage.access))


def build_edge(settings: Settings) -> EdgeDownloads | None:
    """CloudFront signed blob URLs, when configured; the key is read on the first blob GET, once."""
    if not settings.edge_url:
        return None
    return EdgeDownloads(settings.edge_url, settings.edge_key_id,
                         lambda: read_key(secrets_client(settings), settings.edge_key_secret))


def build_auth(settings: Settings, access: AccessStore) -> Auth:
    """Secrets are read on first use (the first authenticated request), once per process."""

    def tokens() -> Tokens:
        keyring = read_keyring(secrets_client(settings), settings.signing_secret)
        return Tokens(keyring, settings.service, settings.token_ttl, settings.refresh_ttl)

    def bootstrap():
        return read_bootstrap_admin(secrets_client(settings), settings.bootstrap_secret)

    return Auth(access, tokens, bootstrap if settings.bootstrap_secret else None)
