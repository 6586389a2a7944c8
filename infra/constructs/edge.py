"""Edge downloads (`dockyard:edgeDownloads=true`): CloudFront in front of the blob prefix of the bucket, and the
registry's blob GETs redirected to signed URLs of it instead of presigned S3 URLs.

- The distribution reaches the bucket through origin access control (SigV4, every request), with the blob
  prefix as its origin path: no URL names any other key. The bucket policy lets CloudFront only GetObject,
  only under that prefix, only for this distribution (`AWS:SourceArn`).
- Every request needs a signed URL of the key group's one public key (CloudFront answers 403 otherwise).
  Blobs are immutable, so the edge caches them (CachingOptimized: no query string, header or cookie in the
  cache key); the signature is checked before the cache is.
- The key pair is made at deploy time by a custom resource (`dockyard.edge_keys`, the registry's own code
  in a function of its own, which may only read and write that one secret): the private key goes from
  that function into Secrets Manager, the public key into the key group. No key is in the template.
"""

from __future__ import annotations

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from dockyard.resources import BLOB_PREFIX
from infra.bundling import registry_code
from infra.config import StackOptions
from infra.constructs.registry_function import RUNTIME, RegistryFunction
from infra.constructs.storage import Storage
from infra.names import Env, Ids

KEY_MAKER_HANDLER = "dockyard.edge_keys.handler"


class EdgeDownloads(Construct):
    def __init__(self, scope: Construct, construct_id: str, storage: Storage, registry: RegistryFunction,
                 options: StackOptions):
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if options.retain else RemovalPolicy.DESTROY
        self.key_secret = secretsmanager.Secret(
            self, Ids.EDGE_KEY_SECRET, removal_policy=removal,
            description="Dockyard: the private key of CloudFront signed blob URLs (PEM), made by the stack")
        public_key = self._public_key(registry, removal)
        self.key_group = cloudfront.KeyGroup(self, Ids.EDGE_KEY_GROUP, items=[public_key],
                                             comment="Dockyard blob downloads: the registry's signing key")
        access = cloudfront.S3OriginAccessControl(self, Ids.EDGE_ORIGIN_ACCESS, signing=cloudfront.Signing.SIGV4_ALWAYS,
                                                  description="Dockyard blob downloads")
        origin = origins.S3BucketOrigin.with_bucket_defaults(
            storage.bucket, origin_path="/" + BLOB_PREFIX.rstrip("/"),
            origin_access_control_id=access.origin_access_control_id)
        self.distribution = cloudfront.Distribution(
            self, Ids.EDGE_DISTRIBUTION,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                trusted_key_groups=[self.key_group],
                compress=False,  # layers are compressed already, and must arrive byte for byte
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_ALL,  # every edge: pulls come from the nearest
            comment="Dockyard blob downloads (signed URLs only)",
        )
        cloudfront_principal = iam.ServicePrincipal("cloudfront.amazonaws.com")
        storage.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="EdgeDownloads", principals=[cloudfront_principal], actions=["s3:GetObject"],
            resources=[storage.bucket.arn_for_objects(f"{BLOB_PREFIX}*")],
            conditions={"StringEquals": {"AWS:SourceArn": self.distribution.distribution_arn}},
        ))
        if storage.key is not None:
            # The key cannot name the distribution (it would depend on the bucket, which depends on the key):
            # any distribution of this account may decrypt, but only this one may read (the bucket policy).
            stack = Stack.of(self)
            storage.key.add_to_resource_policy(iam.PolicyStatement(
                sid="EdgeDownloadsDecrypt", principals=[cloudfront_principal], actions=["kms:Decrypt"],
                resources=["*"], conditions={"ArnLike": {"AWS:SourceArn": stack.format_arn(
                    service="cloudfront", region="", resource="distribution", resource_name="*")}},
            ))
        self.key_secret.grant_read(registry.role)
        self.url = f"https://{self.distribution.distribution_domain_name}"
        for name, value in ((Env.EDGE_URL, self.url), (Env.EDGE_KEY_ID, public_key.public_key_id),
                            (Env.EDGE_KEY_SECRET, self.key_secret.secret_arn)):
            registry.function.add_environment(name, value)

    def _public_key(self, registry: RegistryFunction, removal: RemovalPolicy) -> cloudfront.PublicKey:
        """The custom resource that makes the key pair (see `dockyard.edge_keys`), and its public key."""
        log_group = logs.LogGroup(self, Ids.EDGE_KEY_MAKER_LOGS, retention=registry.log_group_retention,
                                  removal_policy=removal)
        role = iam.Role(self, Ids.EDGE_KEY_MAKER_ROLE, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="Dockyard edge key maker: the edge signing secret only")
        role.add_to_policy(iam.PolicyStatement(
            sid="EdgeSigningKey", actions=["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
            resources=[self.key_secret.secret_arn]))
        role.add_to_policy(iam.PolicyStatement(
            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn]))
        self.key_maker = lambda_.Function(
            self, Ids.EDGE_KEY_MAKER, runtime=RUNTIME, architecture=lambda_.Architecture.ARM_64,
            handler=KEY_MAKER_HANDLER, code=registry_code(), role=role, memory_size=256,
            timeout=Duration.minutes(1), log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON, system_log_level_v2=lambda_.SystemLogLevel.WARN,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            environment={Env.REGION: Stack.of(self).region},
            description="Dockyard: makes the edge signing key at deploy time (a custom resource)",
        )
        key = CustomResource(self, Ids.EDGE_KEY, service_token=self.key_maker.function_arn,
                             resource_type="Custom::DockyardEdgeKey",
                             properties={"SecretId": self.key_secret.secret_arn})
        return cloudfront.PublicKey(self, Ids.EDGE_PUBLIC_KEY, encoded_key=key.get_att_string("PublicKey"),
                                    comment="Dockyard blob downloads: made by the stack's key maker")
