"""The registry: the FastAPI app in Lambda (arm64), behind a Function URL, with least-privilege IAM."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from dockyard.resources import BLOB_PREFIX, DEFAULT_SERVICE, LAMBDA_MAX_BODY, UPLOAD_PREFIX
from infra.bundling import registry_code
from infra.config import StackOptions
from infra.constructs.auth_secrets import AuthSecrets
from infra.constructs.storage import Storage
from infra.names import Env, Ids

RUNTIME = lambda_.Runtime.PYTHON_3_13
# A Function URL request may run for up to 15 minutes; a large finalize (S3 CompleteMultipartUpload) needs
# well under a minute, but a slow client streaming a 4 MiB chunk may take a while.
TIMEOUT = Duration.minutes(5)
# The pull-through cache fetches a blob within one request: it stops this long before the timeout, and
# takes no blob larger than it can fetch in that time at FETCH_RATE (a conservative upstream-to-S3 rate;
# see benchmarks/pullthrough.py); a larger one is redirected to the upstream.
FETCH_DEADLINE = int(TIMEOUT.to_seconds()) - 60
FETCH_RATE = 20 * 1000 * 1000  # bytes per second
# The completion of a direct upload sent in parts re-hashes the object within one invocation, at an assumed
# (conservative, not measured on AWS) 40 MB/s S3 read rate, leaving a minute of margin: larger blobs are
# refused at `begin`, so that no completion can run past the timeout and be retried forever.
VERIFY_RATE = 40_000_000
VERIFY_MAX = (int(TIMEOUT.to_seconds()) - 60) * VERIFY_RATE


def bundled_function(role: iam.IRole, log_group: logs.ILogGroup, options: StackOptions, handler: str,
                     timeout: Duration) -> dict:
    """What every Dockyard function shares: the bundle, its runtime, the memory option, and JSON logs with the
    system level at WARN, so that Lambda writes no START, END and REPORT lines (about $1.7 of logs per million
    docker pulls) while the app's own lines (audit, errors) are kept (INFO)."""
    return dict(runtime=RUNTIME, architecture=lambda_.Architecture.ARM_64, handler=handler, code=registry_code(),
                role=role, memory_size=options.memory_mb, timeout=timeout, log_group=log_group,
                logging_format=lambda_.LoggingFormat.JSON, system_log_level_v2=lambda_.SystemLogLevel.WARN,
                application_log_level_v2=lambda_.ApplicationLogLevel.INFO)


class RegistryFunction(Construct):
    def __init__(self, scope: Construct, construct_id: str, storage: Storage, secrets: AuthSecrets,
                 options: StackOptions, gc_function: lambda_.IFunction):
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if options.retain else RemovalPolicy.DESTROY
        self.log_group_retention = _retention(options.log_retention_days)
        self.log_group = logs.LogGroup(self, Ids.LOG_GROUP, retention=self.log_group_retention,
                                       removal_policy=removal)
        self.role = iam.Role(self, Ids.ROLE, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description="Dockyard registry function: this bucket and this table only")
        self._grant(storage)
        gc_function.grant_invoke(self.role)  # `dockyard gc` starts a run there: the registry deletes no blob
        secrets.signing.grant_read(self.role)
        secrets.bootstrap_admin.grant_read(self.role)
        self.upstream_secret_prefix = f"dockyard/{Stack.of(self).stack_name}/upstreams/"
        self._grant_upstream_credentials()
        # Behind CloudFront, the Function URL stays reachable: a secret header that only the distribution
        # sends (put there by a CloudFormation dynamic reference, so its value is in no template) proves
        # that a request came through it. API Gateway invokes the function itself: there is no URL at all.
        behind = options.front_door if options.domain_name else None
        self.origin_secret = secretsmanager.Secret(
            self, Ids.ORIGIN_SECRET, description="Dockyard: the origin header CloudFront sends to the function",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=48, exclude_punctuation=True),
            removal_policy=removal) if behind == "cloudfront" else None
        if self.origin_secret is not None:
            self.origin_secret.grant_read(self.role)

        self.function = lambda_.Function(
            self, Ids.FUNCTION,
            **bundled_function(self.role, self.log_group, options, "dockyard.handler.handler", TIMEOUT),
            reserved_concurrent_executions=options.reserved_concurrency,
            environment={
                Env.BUCKET: storage.bucket.bucket_name,
                Env.TABLE: storage.table.table_name,
                Env.REGION: Stack.of(self).region,
                Env.PRESIGN_TTL: str(options.presign_ttl),
                Env.MAX_BODY: str(LAMBDA_MAX_BODY),
                Env.AUTH: "on",
                Env.SIGNING_SECRET: secrets.signing.secret_arn,
                Env.BOOTSTRAP_SECRET: secrets.bootstrap_admin.secret_arn,
                Env.SERVICE: DEFAULT_SERVICE,
                Env.UPSTREAM_SECRET_PREFIX: self.upstream_secret_prefix,
                Env.FETCH_DEADLINE: str(FETCH_DEADLINE),
                Env.FETCH_MAX_BYTES: str(FETCH_DEADLINE * FETCH_RATE),
                Env.VERIFY_MAX: str(VERIFY_MAX),
                Env.AUDIT_READS: "on" if options.audit_reads else "off",
                **({Env.ORIGIN_SECRET: self.origin_secret.secret_arn} if self.origin_secret else {}),
                Env.GC_FUNCTION: gc_function.function_name,
                Env.GC_GRACE: str(options.gc_grace),
                **({Env.PUBLIC_URL: f"https://{options.domain_name}"} if options.domain_name else {}),
            },
            description="Dockyard OCI registry",
        )
        # The registry authenticates every request itself (access keys, Docker token flow), so the URL is
        # public by default; AWS_IAM adds SigV4 in front, for callers that can sign (not docker).
        self.url = None if behind == "apigateway" else self.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE if options.url_auth == "NONE"
            else lambda_.FunctionUrlAuthType.AWS_IAM,
        )

    def _grant_upstream_credentials(self) -> None:
        """Upstream credentials: secrets the function makes, reads and deletes, under its own name prefix."""
        stack = Stack.of(self)
        self.role.add_to_policy(iam.PolicyStatement(
            sid="UpstreamCredentials",
            actions=["secretsmanager:CreateSecret", "secretsmanager:GetSecretValue", "secretsmanager:DeleteSecret"],
            resources=[stack.format_arn(service="secretsmanager", resource="secret",
                                        resource_name=f"{self.upstream_secret_prefix}*",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)],
        ))

    def _grant(self, storage: Storage) -> None:
        """Exactly what the registry calls, on exactly this bucket (by prefix) and this table. It writes blob
        objects but never deletes one (garbage collection does, with its own role): bytes an upload does not
        link are handed to GC; only an upload's own tails, under their prefix, are the registry's to delete."""
        bucket, table = storage.bucket, storage.table
        self.role.add_to_policy(iam.PolicyStatement(
            sid="RegistryBlobs",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
                     "s3:PutObjectTagging"],
            resources=[bucket.arn_for_objects(f"{BLOB_PREFIX}*")],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="UploadTails", actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources=[bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")],
        ))
        # Unconditioned: without s3:ListBucket, S3 answers 403 instead of 404 for a missing key, and a grant
        # conditioned on s3:prefix does not cover HeadObject or GetObject (they carry no prefix). The blob
        # and direct-upload existence checks rely on that 404 (`S3Objects.stat`).
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ListOwnBucket", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="RegistryMetadata",
            actions=["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                     "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
            resources=[table.table_arn],
        ))
        if storage.key is not None:
            storage.key.grant_encrypt_decrypt(self.role)
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn],
        ))


_RETENTION = {1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
              60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
              365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
              1827: "FIVE_YEARS", 3653: "TEN_YEARS"}


def _retention(days: int) -> logs.RetentionDays:
    if days not in _RETENTION:
        raise ValueError(f"log retention must be one of {sorted(_RETENTION)} days, not {days}")
    return getattr(logs.RetentionDays, _RETENTION[days])
