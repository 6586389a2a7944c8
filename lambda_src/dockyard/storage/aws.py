"""boto3 clients for the configured backend, and provisioning of a missing bucket and table.

Clients are created on first use (never at import time) and cached per process (see `dockyard.factory`).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

from dockyard.config import Settings
from dockyard.resources import LIFECYCLE_RULES, Table

log = logging.getLogger("dockyard")


_lock = threading.Lock()


def make_clients(settings: Settings):
    """(s3, dynamodb) clients, shared by everything in this process that uses the same region and endpoint.

    Each boto3 client set holds its service models in memory (about 15 MB), so we build one set only.
    """
    with _lock:
        return _shared_clients(settings.region, settings.endpoint_url)


class LazyClient:
    """A boto3 client made on first use: a request that needs no AWS call (the `GET /v2/` challenge that
    starts every docker session) never imports boto3 nor builds a client, which keeps cold starts short."""

    def __init__(self, make):
        self._make, self._client = make, None

    def __getattr__(self, name: str):
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


def lazy_clients(settings: Settings):
    """(s3, dynamodb), created (shared, see `make_clients`) when first used."""
    return LazyClient(lambda: make_clients(settings)[0]), LazyClient(lambda: make_clients(settings)[1])


def new_clients(region: str, endpoint_url: str | None):
    """A fresh (s3, dynamodb) pair. A custom endpoint (moto) gets path-style SigV4 URLs that resolve locally."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    common = {"retries": {"mode": "standard", "max_attempts": 4}, "max_pool_connections": 32}
    s3_config = Config(signature_version="s3v4", **common,
                       s3={"addressing_style": "path" if endpoint_url else "auto"})
    s3 = session.client("s3", endpoint_url=endpoint_url, config=s3_config)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url, config=Config(**common))
    return s3, dynamodb


_shared_clients = lru_cache(maxsize=4)(new_clients)


@lru_cache(maxsize=4)
def _secrets_client(region: str, endpoint_url: str | None):
    import boto3
    from botocore.config import Config

    return boto3.session.Session(region_name=region).client(
        "secretsmanager", endpoint_url=endpoint_url, config=Config(retries={"mode": "standard", "max_attempts": 4}))


def secrets_client(settings: Settings):
    """The Secrets Manager client (token signing keys); created on first use only, when auth is on."""
    with _lock:
        return _secrets_client(settings.region, settings.endpoint_url)


def ensure_bucket(s3, settings: Settings) -> bool:
    """Create the bucket if it is missing (private, encrypted, upload leftovers expire). True if created."""
    try:
        s3.head_bucket(Bucket=settings.bucket)
        return False
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs = {"Bucket": settings.bucket}
    if settings.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(Bucket=settings.bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=settings.bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_lifecycle_configuration(Bucket=settings.bucket, LifecycleConfiguration={
        "Rules": [rule.as_s3() for rule in LIFECYCLE_RULES]})
    log.info("created bucket %s", settings.bucket)
    return True


def ensure_table(dynamodb, settings: Settings) -> bool:
    """Create the table if it is missing, from the same schema the CDK stack declares. True if created."""
    try:
        dynamodb.describe_table(TableName=settings.table)
        return False
    except dynamodb.exceptions.ResourceNotFoundException:
        pass
    dynamodb.create_table(**Table.create_table_kwargs(settings.table))
    dynamodb.get_waiter("table_exists").wait(TableName=settings.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    dynamodb.update_time_to_live(TableName=settings.table, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": Table.TTL_ATTRIBUTE})
    log.info("created table %s", settings.table)
    return True
