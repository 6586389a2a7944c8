"""boto3 clients for the configured backend, and provisioning of a missing bucket and table.

Clients are created on first use (never at import time) and cached per process (see `dockyard.factory`).

Every call is bounded, so that a stalled or unreachable backend costs a request seconds, not minutes
(botocore's defaults are a 60 s read timeout and, for DynamoDB, 10 retries): `CONNECT_TIMEOUT` to connect,
`Settings.read_timeout` to wait for an answer, and `ATTEMPTS` tries in all. The calls that make S3 work
in proportion to the object's size before it answers (completing a multipart upload, copying) wait up to
`LONG_READ_TIMEOUT`. What is still unanswered then becomes `503 BACKEND_UNAVAILABLE` (see `errors.py`).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

from dockyard.blocking import BOTOCORE_EVENT, forbid_on_event_loop
from dockyard.config import Settings, default_read_timeout
from dockyard.resources import LIFECYCLE_RULES, Table

log = logging.getLogger("dockyard")


_lock = threading.Lock()
CONNECT_TIMEOUT = 2  # seconds; loopback and in-region endpoints connect in milliseconds
ATTEMPTS = 2  # one retry (standard mode: with jittered backoff, and on throttling too)
# moto completes a 1 GiB multipart upload in about 14 s; S3 answers at once and keeps the connection alive.
LONG_READ_TIMEOUT = 300
# S3 calls that may take long before their answer starts (`copy` is boto3's managed copy, made of these).
LONG_S3_CALLS = frozenset({"complete_multipart_upload", "copy_object", "upload_part_copy", "copy"})


def make_clients(settings: Settings):
    """(s3, dynamodb) clients, shared by everything in this process that uses the same region and endpoint.

    Each boto3 client set holds its service models in memory (about 15 MB), so we build one set only.
    """
    with _lock:
        return _shared_clients(settings.region, settings.endpoint_url, settings.read_timeout)


class LazyClient:
    """A boto3 client made on first use: a request that needs no AWS call (the `GET /v2/` challenge that
    starts every docker session) never imports boto3 nor builds a client, which keeps cold starts short."""

    def __init__(self, make):
        self._make, self._client = make, None

    def __getattr__(self, name: str):
        if self._client is None:
            forbid_on_event_loop()
            self._client = self._make()
        return getattr(self._client, name)


class S3Client:
    """The S3 client, as one object: the calls in `LONG_S3_CALLS` go through a twin client that waits up to
    `LONG_READ_TIMEOUT` for an answer (made when first needed); every other call through the quick one."""

    def __init__(self, quick, make_long):
        self.quick, self._make_long, self._long = quick, make_long, None

    def every_client(self) -> list:
        """Both clients (made now if need be), e.g. to register an event handler on each."""
        return [self.quick, self._long_client()]

    def _long_client(self):
        if self._long is None:
            self._long = self._make_long()
        return self._long

    def __getattr__(self, name: str):
        return getattr(self._long_client() if name in LONG_S3_CALLS else self.quick, name)


def _config(read_timeout: float, **extra):
    from botocore.config import Config

    return Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=read_timeout,
                  retries={"mode": "standard", "total_max_attempts": ATTEMPTS}, **extra)


def _bounded(client):
    """No call from the event loop (see `dockyard.blocking`); registered first, so nothing is sent."""
    client.meta.events.register_first(BOTOCORE_EVENT, forbid_on_event_loop)
    return client


def lazy_clients(settings: Settings):
    """(s3, dynamodb), created (shared, see `make_clients`) when first used."""
    return LazyClient(lambda: make_clients(settings)[0]), LazyClient(lambda: make_clients(settings)[1])


def new_clients(region: str, endpoint_url: str | None, read_timeout: float | None = None):
    """A fresh (s3, dynamodb) pair. A custom endpoint (moto) gets path-style SigV4 URLs that resolve locally."""
    import boto3

    read_timeout = read_timeout or default_read_timeout(endpoint_url)
    session = boto3.session.Session(region_name=region)
    s3_options = {"signature_version": "s3v4", "max_pool_connections": 32,
                  "s3": {"addressing_style": "path" if endpoint_url else "auto"}}

    def s3_client(timeout: float):
        return _bounded(session.client("s3", endpoint_url=endpoint_url, config=_config(timeout, **s3_options)))

    s3 = S3Client(s3_client(read_timeout), lambda: s3_client(LONG_READ_TIMEOUT))
    dynamodb = _bounded(session.client("dynamodb", endpoint_url=endpoint_url,
                                       config=_config(read_timeout, max_pool_connections=32)))
    return s3, dynamodb


_shared_clients = lru_cache(maxsize=4)(new_clients)


@lru_cache(maxsize=4)
def _secrets_client(region: str, endpoint_url: str | None, read_timeout: float):
    import boto3

    return _bounded(boto3.session.Session(region_name=region).client(
        "secretsmanager", endpoint_url=endpoint_url, config=_config(read_timeout)))


@lru_cache(maxsize=4)
def _lambda_client(region: str, endpoint_url: str | None):
    import boto3
    from botocore.config import Config

    return boto3.session.Session(region_name=region).client(
        "lambda", endpoint_url=endpoint_url, config=Config(retries={"mode": "standard", "max_attempts": 4}))


def lambda_client(settings: Settings):
    """The Lambda client (starting GC runs in the GC function); created on first use only."""
    with _lock:
        return _lambda_client(settings.region, settings.endpoint_url)


def secrets_client(settings: Settings):
    """The Secrets Manager client (token signing keys); created on first use only, when auth is on."""
    forbid_on_event_loop()
    with _lock:
        return _secrets_client(settings.region, settings.endpoint_url, settings.read_timeout)


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
