"""The Dockyard stack: storage, the registry function, an optional custom domain, and the outputs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack, Token
from constructs import Construct

from infra.config import StackOptions
from infra.constructs.auth_secrets import AuthSecrets
from infra.constructs.edge import EdgeDownloads
from infra.constructs.front_door import FrontDoor
from infra.constructs.maintenance import Maintenance
from infra.constructs.registry_function import RegistryFunction
from infra.constructs.storage import Storage
from infra.names import Ids, Outputs
from infra.nag import suppress_findings


class DockyardStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        # S3 server access logs delivered under a bucket policy, not an ACL (the log bucket enforces owner).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        options = StackOptions.from_context(self.node)
        if not Token.is_unresolved(self.region):
            options.check_region(self.region)
        self.options = options
        self.storage = Storage(self, Ids.STORAGE, options)
        self.secrets = AuthSecrets(self, Ids.AUTH, options)
        self.maintenance = Maintenance(self, Ids.MAINTENANCE, self.storage, options)
        self.registry = RegistryFunction(self, Ids.API, self.storage, self.secrets, options,
                                         self.maintenance.function)
        self.front_door = FrontDoor(self, Ids.FRONT_DOOR, self.registry, options) if options.domain_name else None
        self.edge = EdgeDownloads(self, Ids.EDGE, self.storage, self.registry, options) \
            if options.edge_downloads else None

        if options.domain_name:
            url, host = f"https://{options.domain_name}", options.domain_name
        else:
            url = self.registry.url.url
            host = Fn.select(2, Fn.split("/", url))
        CfnOutput(self, Outputs.REGISTRY_URL, value=url, description="Registry URL (API root: /v2/)")
        CfnOutput(self, Outputs.REGISTRY_HOST, value=host, description="Host for docker login, push and pull")
        CfnOutput(self, Outputs.BUCKET_NAME, value=self.storage.bucket.bucket_name)
        CfnOutput(self, Outputs.TABLE_NAME, value=self.storage.table.table_name)
        CfnOutput(self, Outputs.FUNCTION_NAME, value=self.registry.function.function_name)
        CfnOutput(self, Outputs.ADMIN_SECRET_ARN, value=self.secrets.bootstrap_admin.secret_arn,
                  description="The first admin key: aws secretsmanager get-secret-value --secret-id <this>")
        CfnOutput(self, Outputs.GC_FUNCTION_NAME, value=self.maintenance.function.function_name,
                  description="Garbage collection (daily, and on `dockyard gc`); its logs hold the audit lines")
        CfnOutput(self, Outputs.SIGNING_SECRET_ARN, value=self.secrets.signing.secret_arn,
                  description="Token signing keys: dockyard signing-key rotate --secret-id <this>")
        if self.edge is not None:
            CfnOutput(self, Outputs.EDGE_DOMAIN_NAME, value=self.edge.distribution.distribution_domain_name,
                      description="The CloudFront distribution that serves blob downloads (signed URLs only)")
        suppress_findings(self)
