"""The storage the registry runs on: S3 for bytes, one DynamoDB table for everything else."""

from __future__ import annotations

from dockyard.storage.dynamo.access import DynamoAccess
from dockyard.storage.dynamo.blobs import DynamoBlobs
from dockyard.storage.dynamo.governance import DynamoGovernance
from dockyard.storage.dynamo.collector import DynamoCollector
from dockyard.storage.dynamo.maintenance import DynamoMaintenance
from dockyard.storage.dynamo.manifests import DynamoManifests
from dockyard.storage.dynamo.quotas import DynamoQuotas
from dockyard.storage.dynamo.table import Table
from dockyard.storage.dynamo.uploads import DynamoUploads
from dockyard.storage.dynamo.upstreams import DynamoUpstreams
from dockyard.storage.credentials import SecretsManagerCredentials
from dockyard.storage.interfaces import Storage
from dockyard.storage.s3 import S3Objects


def aws_storage(s3, dynamodb, bucket: str, table: str, secrets=None, secret_prefix: str = "", edge=None) -> Storage:
    """Every aggregate over these clients (made lazily: nothing is called here); `secrets` is the Secrets
    Manager client that keeps upstream credentials under `secret_prefix`; with `edge` (`EdgeDownloads`),
    blob downloads are CloudFront signed URLs."""
    shared = Table(dynamodb, table)
    return Storage(objects=S3Objects(s3, bucket, edge), blobs=DynamoBlobs(shared), manifests=DynamoManifests(shared),
                   uploads=DynamoUploads(shared), access=DynamoAccess(shared), upstreams=DynamoUpstreams(shared),
                   credentials=SecretsManagerCredentials(secrets, secret_prefix), governance=DynamoGovernance(shared),
                   collector=DynamoCollector(shared), maintenance=DynamoMaintenance(shared),
                   quotas=DynamoQuotas(shared))
