"""The one source of names shared by the CDK stack, the Lambda function and `dockyard serve`.

Environment variable names, the DynamoDB table schema and the S3 prefixes that lifecycle rules target are
declared here and nowhere else. This module imports nothing heavy: the CDK app and the Lambda both read it.
"""

from __future__ import annotations

from dataclasses import dataclass


class Env:
    """Environment variables the registry reads (see `dockyard.config.Settings`)."""

    BUCKET = "DOCKYARD_BUCKET"
    TABLE = "DOCKYARD_TABLE"
    REGION = "DOCKYARD_REGION"
    ENDPOINT_URL = "DOCKYARD_ENDPOINT_URL"
    PRESIGN_TTL = "DOCKYARD_PRESIGN_TTL"
    UPLOAD_URL_TTL = "DOCKYARD_UPLOAD_URL_TTL"
    LINK_CACHE_TTL = "DOCKYARD_LINK_CACHE_TTL"
    UPLOAD_TTL = "DOCKYARD_UPLOAD_TTL"
    UPLOAD_LEASE = "DOCKYARD_UPLOAD_LEASE"
    PART_SIZE = "DOCKYARD_PART_SIZE"
    PART_URLS = "DOCKYARD_PART_URLS"
    MAX_BODY = "DOCKYARD_MAX_BODY"
    LOG_LEVEL = "DOCKYARD_LOG_LEVEL"
    AUTH = "DOCKYARD_AUTH"
    DELETE = "DOCKYARD_DELETE"
    SIGNING_SECRET = "DOCKYARD_SIGNING_SECRET"
    BOOTSTRAP_SECRET = "DOCKYARD_BOOTSTRAP_SECRET"
    SERVICE = "DOCKYARD_SERVICE"
    TOKEN_TTL = "DOCKYARD_TOKEN_TTL"
    PUBLIC_URL = "DOCKYARD_PUBLIC_URL"
    TRUST_FORWARDED = "DOCKYARD_TRUST_FORWARDED"
    UPSTREAM_TTL = "DOCKYARD_UPSTREAM_TTL"
    UPSTREAM_SECRET_PREFIX = "DOCKYARD_UPSTREAM_SECRET_PREFIX"
    FETCH_DEADLINE = "DOCKYARD_FETCH_DEADLINE"
    FETCH_MAX_BYTES = "DOCKYARD_FETCH_MAX_BYTES"
    ORIGIN_SECRET = "DOCKYARD_ORIGIN_SECRET"
    VERIFY_MAX = "DOCKYARD_VERIFY_MAX"
    AUDIT_READS = "DOCKYARD_AUDIT_READS"
    BACKEND_TIMEOUT = "DOCKYARD_BACKEND_TIMEOUT"
    BODY_TIMEOUT = "DOCKYARD_BODY_TIMEOUT"
    # Edge downloads: blob GETs redirect to CloudFront signed URLs of this https origin, signed by this key.
    EDGE_URL = "DOCKYARD_EDGE_URL"
    EDGE_KEY_ID = "DOCKYARD_EDGE_KEY_ID"
    EDGE_KEY_SECRET = "DOCKYARD_EDGE_KEY_SECRET"
    GC_GRACE = "DOCKYARD_GC_GRACE"
    GC_FUNCTION = "DOCKYARD_GC_FUNCTION"
    METER_INTERVAL = "DOCKYARD_METER_INTERVAL"
    QUOTA_CACHE_TTL = "DOCKYARD_QUOTA_CACHE_TTL"
    # The client commands' credentials (push, gateway), then the admin ones (keys, and serve --auth).
    KEY_ID = "DOCKYARD_KEY_ID"
    SECRET = "DOCKYARD_SECRET"
    ADMIN_KEY_ID = "DOCKYARD_ADMIN_KEY_ID"
    ADMIN_SECRET = "DOCKYARD_ADMIN_SECRET"
    REGISTRY = "DOCKYARD_REGISTRY"


# Local defaults used by `dockyard serve` when no names are given.
DEFAULT_BUCKET = "dockyard-local"
DEFAULT_TABLE = "dockyard-local"
DEFAULT_REGION = "us-east-1"
DEFAULT_SIGNING_SECRET = "dockyard-local-signing"
# The `service` of the Docker token flow: the audience of every token.
DEFAULT_SERVICE = "dockyard"
# The id of a deployed stack's first admin key, whose secret lives in Secrets Manager (not in the table).
BOOTSTRAP_KEY_ID = "dockyard-admin"

# A Lambda invocation payload is capped at 6 MB (6,291,456 bytes). A Function URL delivers a binary body
# base64-encoded inside a JSON event, so the largest raw body that fits, leaving room for the event's
# headers and request context, is 3/4 of what remains:
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
LAMBDA_EVENT_OVERHEAD = 64 * 1024
LAMBDA_MAX_BODY = (LAMBDA_PAYLOAD_LIMIT - LAMBDA_EVENT_OVERHEAD) // 4 * 3  # 4,669,440 bytes

# Behind CloudFront, the header the distribution adds to every request (its value: a secret; see origin.py).
ORIGIN_HEADER = "X-Dockyard-Origin"

# The AWS services the function calls: the bundle keeps only their botocore models.
AWS_SERVICES = ("s3", "dynamodb", "secretsmanager", "lambda")

# S3 prefixes (the layout itself is documented in dockyard.storage.keys).
BLOB_PREFIX = "blobs/"
UPLOAD_PREFIX = "uploads/"
# Leftovers of uploads (incomplete multipart uploads, tails, objects never verified) expire after this long.
UPLOAD_LEFTOVER_DAYS = 2
# Blob objects written before their digest was verified carry this tag until they are linked; a lifecycle
# rule expires the ones never linked (an upload abandoned after its last byte).
UNVERIFIED_TAG = ("dockyard", "unverified")


@dataclass(frozen=True)
class LifecycleRule:
    """One rule of the bucket's lifecycle: after `days`, abort the incomplete multipart uploads
    (`abort_multipart`) or expire the objects, under `prefix` ("" for all) or carrying `tag`."""

    id: str
    days: int
    prefix: str = ""
    tag: tuple[str, str] | None = None
    abort_multipart: bool = False

    def as_s3(self) -> dict:
        """The rule as S3's PutBucketLifecycleConfiguration takes it."""
        action = {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": self.days}} if self.abort_multipart \
            else {"Expiration": {"Days": self.days}}
        where = {"Tag": {"Key": self.tag[0], "Value": self.tag[1]}} if self.tag else {"Prefix": self.prefix}
        return {"ID": self.id, "Status": "Enabled", "Filter": where, **action}


LIFECYCLE_RULES = (
    # Anywhere in the bucket: blobs are assembled in place under BLOB_PREFIX.
    LifecycleRule("abort-incomplete-multipart-uploads", UPLOAD_LEFTOVER_DAYS, abort_multipart=True),
    LifecycleRule("expire-upload-leftovers", UPLOAD_LEFTOVER_DAYS, prefix=UPLOAD_PREFIX),
    LifecycleRule("expire-unverified-blobs", UPLOAD_LEFTOVER_DAYS, tag=UNVERIFIED_TAG),
)


class Table:
    """The single DynamoDB table: a string partition key, a string sort key and a TTL attribute, and one
    sparse index, the garbage collector's queue: the items that carry `gc_at` (see `dockyard.maintenance`),
    spread over `GC_SHARDS` values of `gc_shard`, by time."""

    PARTITION_KEY = "pk"
    SORT_KEY = "sk"
    TTL_ATTRIBUTE = "expires_at"
    BILLING_MODE = "PAY_PER_REQUEST"
    GC_INDEX = "gc-queue"
    GC_SHARD = "gc_shard"
    GC_AT = "gc_at"
    GC_SHARDS = 16

    @classmethod
    def create_table_kwargs(cls, name: str) -> dict:
        """Arguments for DynamoDB CreateTable, as `dockyard serve` provisions a missing table."""
        return {
            "TableName": name,
            "KeySchema": [
                {"AttributeName": cls.PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": cls.SORT_KEY, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": cls.PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": cls.SORT_KEY, "AttributeType": "S"},
                {"AttributeName": cls.GC_SHARD, "AttributeType": "S"},
                {"AttributeName": cls.GC_AT, "AttributeType": "N"},
            ],
            "GlobalSecondaryIndexes": [{
                "IndexName": cls.GC_INDEX,
                "KeySchema": [{"AttributeName": cls.GC_SHARD, "KeyType": "HASH"},
                              {"AttributeName": cls.GC_AT, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
            "BillingMode": cls.BILLING_MODE,
        }
