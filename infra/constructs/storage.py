"""The blob bucket and the metadata table, private and durable by default."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from dockyard.resources import LIFECYCLE_RULES, LifecycleRule
from infra.config import StackOptions
from infra.names import Ids, Table


def _lifecycle_rule(rule: LifecycleRule) -> s3.LifecycleRule:
    """One of the rules `dockyard serve` also gives the buckets it creates."""
    days = Duration.days(rule.days)
    if rule.abort_multipart:
        return s3.LifecycleRule(id=rule.id, prefix=rule.prefix or None, abort_incomplete_multipart_upload_after=days)
    return s3.LifecycleRule(id=rule.id, prefix=rule.prefix or None, tag_filters=dict([rule.tag]) if rule.tag else None,
                            expiration=days)


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, options: StackOptions):
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if options.retain else RemovalPolicy.DESTROY
        self.key = kms.Key(self, "Key", enable_key_rotation=True, removal_policy=removal,
                           description="Dockyard blobs and metadata") if options.kms else None

        # S3 server access logs (an option): a record of every request to the blob bucket, the presigned blob
        # downloads included, in a bucket of their own that keeps them for the log retention.
        self.access_logs = s3.Bucket(
            self, Ids.ACCESS_LOG_BUCKET,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,  # server access logs cannot be written with SSE-KMS
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, versioned=False,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs",
                                              expiration=Duration.days(options.log_retention_days))],
            removal_policy=removal, auto_delete_objects=False,
        ) if options.access_logs else None

        self.bucket = s3.Bucket(
            self, Ids.BUCKET,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.KMS if self.key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.key,
            bucket_key_enabled=bool(self.key),
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            lifecycle_rules=[_lifecycle_rule(rule) for rule in LIFECYCLE_RULES],
            removal_policy=removal,
            auto_delete_objects=False,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="blobs/" if self.access_logs else None,
        )

        self.table = dynamodb.TableV2(
            self, Ids.TABLE,
            partition_key=dynamodb.Attribute(name=Table.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=Table.SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute=Table.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            deletion_protection=options.retain,
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(self.key) if self.key
            else dynamodb.TableEncryptionV2.aws_managed_key(),
            removal_policy=removal,
            global_secondary_indexes=[dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=Table.GC_INDEX,
                partition_key=dynamodb.Attribute(name=Table.GC_SHARD, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=Table.GC_AT, type=dynamodb.AttributeType.NUMBER),
                projection_type=dynamodb.ProjectionType.KEYS_ONLY)],
        )
