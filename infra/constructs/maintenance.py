"""Garbage collection: a function of its own, run on a schedule (EventBridge Scheduler) and when an admin asks
(`dockyard gc`: the registry function invokes it, asynchronously). Its role is the only one that may delete
blob objects; the registry's own may not."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from dockyard.resources import BLOB_PREFIX, UPLOAD_PREFIX, Table
from infra.config import StackOptions
from infra.constructs.registry_function import _retention, bundled_function
from infra.constructs.storage import Storage
from infra.names import Env, Ids

GC_HANDLER = "dockyard.maintenance.function.handler"
# One invocation: Lambda's longest; a run saves its progress a minute before and invokes itself again.
TIMEOUT = Duration.minutes(15)


class Maintenance(Construct):
    def __init__(self, scope: Construct, construct_id: str, storage: Storage, options: StackOptions):
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if options.retain else RemovalPolicy.DESTROY
        self.log_group = logs.LogGroup(self, Ids.GC_LOG_GROUP, retention=_retention(options.log_retention_days),
                                       removal_policy=removal)
        self.role = iam.Role(self, Ids.GC_ROLE, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description="Dockyard garbage collection: the only role that deletes blob bytes")
        self._grant(storage)
        self.function = lambda_.Function(
            self, Ids.GC_FUNCTION,
            **bundled_function(self.role, self.log_group, options, GC_HANDLER, TIMEOUT),
            environment={
                Env.BUCKET: storage.bucket.bucket_name,
                Env.TABLE: storage.table.table_name,
                Env.REGION: Stack.of(self).region,
                Env.GC_GRACE: str(options.gc_grace),
            },
            description="Dockyard garbage collection and retention",
        )
        # A run longer than one invocation continues in the next: the function invokes itself. A policy of
        # its own (not the role's default one), so that the function does not depend on a grant naming it.
        iam.Policy(self, "ContinueRuns", roles=[self.role], statements=[iam.PolicyStatement(
            sid="ContinueRuns", actions=["lambda:InvokeFunction"], resources=[self.function.function_arn])])
        self.scheduler_role = None
        if options.gc_schedule != "off":
            self.scheduler_role = iam.Role(self, "SchedulerRole",
                                           assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                                           description="EventBridge Scheduler: invoke Dockyard's GC function only")
            self.schedule = scheduler.Schedule(
                self, Ids.GC_SCHEDULE, schedule=scheduler.ScheduleExpression.expression(options.gc_schedule),
                target=targets.LambdaInvoke(self.function, input=scheduler.ScheduleTargetInput.from_object(
                    {"scheduled": True}), retry_attempts=0, role=self.scheduler_role),
                description="Dockyard garbage collection and retention")

    def _grant(self, storage: Storage) -> None:
        bucket, table = storage.bucket, storage.table
        self.role.add_to_policy(iam.PolicyStatement(
            sid="CollectObjects",
            actions=["s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in (BLOB_PREFIX, UPLOAD_PREFIX)],
        ))
        # Tails of expired uploads are listed by their prefix; and without ListBucket a missing key is a 403.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ListOwnBucket", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="CollectMetadata",
            # BatchGetItem: a collected link's storage quota memberships, counted out with it.
            actions=["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
                     "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
            resources=[table.table_arn, f"{table.table_arn}/index/{Table.GC_INDEX}"],
        ))
        if storage.key is not None:
            storage.key.grant_encrypt_decrypt(self.role)
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn]))
