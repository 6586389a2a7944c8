"""Construct ids, output keys and context option names: declared once, read by the stack and its tests.

Environment variable names and the table schema come from `dockyard.resources`, which the Lambda reads too.
"""

from dockyard.resources import Env, Table  # noqa: F401  (re-exported for the constructs)

__all__ = ["Env", "Table", "STACK_ID", "Ids", "Outputs", "Context"]

STACK_ID = "Dockyard"


class Ids:
    STORAGE = "Storage"
    BUCKET = "Blobs"
    ACCESS_LOG_BUCKET = "BlobAccessLogs"
    TABLE = "Metadata"
    API = "Api"
    FUNCTION = "Registry"
    ROLE = "RegistryRole"
    LOG_GROUP = "RegistryLogs"
    FUNCTION_URL = "RegistryUrl"
    FRONT_DOOR = "FrontDoor"
    AUTH = "Auth"
    SIGNING_SECRET = "SigningKeys"
    ADMIN_SECRET = "BootstrapAdmin"
    ORIGIN_SECRET = "OriginSecret"
    EDGE = "Edge"
    EDGE_KEY_SECRET = "SigningKey"
    EDGE_KEY_MAKER = "KeyMaker"
    EDGE_KEY_MAKER_ROLE = "KeyMakerRole"
    EDGE_KEY_MAKER_LOGS = "KeyMakerLogs"
    EDGE_KEY = "Key"
    EDGE_PUBLIC_KEY = "PublicKey"
    EDGE_KEY_GROUP = "KeyGroup"
    EDGE_ORIGIN_ACCESS = "OriginAccess"
    EDGE_DISTRIBUTION = "Distribution"
    MAINTENANCE = "Maintenance"
    GC_FUNCTION = "GarbageCollector"
    GC_ROLE = "GarbageCollectorRole"
    GC_LOG_GROUP = "GarbageCollectorLogs"
    GC_SCHEDULE = "GarbageCollection"


class Outputs:
    REGISTRY_URL = "RegistryUrl"
    REGISTRY_HOST = "RegistryHost"
    BUCKET_NAME = "BucketName"
    TABLE_NAME = "TableName"
    FUNCTION_NAME = "FunctionName"
    ADMIN_SECRET_ARN = "AdminSecretArn"
    SIGNING_SECRET_ARN = "SigningSecretArn"
    EDGE_DOMAIN_NAME = "EdgeDomainName"
    GC_FUNCTION_NAME = "GcFunctionName"


class Context:
    """`cdk deploy -c dockyard:<option>=<value>`; documented in the README."""

    REMOVAL_POLICY = "dockyard:removalPolicy"          # retain (default) | destroy (disposable dev stacks)
    KMS = "dockyard:kms"                               # false (default: SSE-S3) | true (a customer managed key)
    MEMORY = "dockyard:memoryMb"                       # 1024
    RESERVED_CONCURRENCY = "dockyard:reservedConcurrency"  # 50 | none (the account's unreserved pool)
    LOG_RETENTION_DAYS = "dockyard:logRetentionDays"   # 30
    PRESIGN_TTL = "dockyard:presignTtlSeconds"         # 300
    URL_AUTH = "dockyard:functionUrlAuth"              # NONE (default: the registry's own auth) | AWS_IAM
    DOMAIN_NAME = "dockyard:domainName"                # registry.example.com (optional)
    CERTIFICATE_ARN = "dockyard:certificateArn"        # ACM certificate for the domain
    HOSTED_ZONE_ID = "dockyard:hostedZoneId"           # Route 53 zone for the record
    HOSTED_ZONE_NAME = "dockyard:hostedZoneName"
    FRONT_DOOR = "dockyard:frontDoor"                  # cloudfront (default with a domain) | apigateway
    AUDIT_READS = "dockyard:auditReads"                # false | true: an audit line per manifest GET (a pull)
    ACCESS_LOGS = "dockyard:s3AccessLogs"              # false | true: S3 server access logs of the blob bucket
    EDGE_DOWNLOADS = "dockyard:edgeDownloads"          # false | true: blob downloads from CloudFront signed URLs
    GC_SCHEDULE = "dockyard:gcSchedule"                # rate(1 day) (default) | cron(...) | off
    GC_GRACE = "dockyard:gcGraceSeconds"               # 86400: what became garbage this recently stays
