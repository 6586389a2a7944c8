"""How the registry reads a missing S3 key, against S3's real answers (botocore Stubber; moto always says 404).

Real S3 answers a HeadObject or GetObject on a missing key with 404 only if the caller may s3:ListBucket the
bucket; without it, 403. The function's role is granted ListBucket on its bucket, unconditioned, for exactly
this reason (`tests/infra/test_stack.py` checks the grant). A 403 therefore means a broken deployment, and
is never taken for "missing": it fails the request (a 500 with the spec's body and a log line) instead of
silently starting an upload over, or answering that nothing was uploaded.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from dockyard.storage.s3 import S3Objects
from dockyard.storage.types import ObjectStat

LOCATION = "blobs/direct/0f/upload/1"


@pytest.fixture
def stubbed():
    client = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="eu-west-1") \
        .client("s3")
    with Stubber(client) as stub:
        yield S3Objects(client, "bucket"), stub
        stub.assert_no_pending_responses()


def test_a_404_is_a_missing_key(stubbed):
    store, stub = stubbed
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    assert store.stat(LOCATION) is None


def test_a_403_is_an_error_never_a_missing_key(stubbed):
    store, stub = stubbed
    stub.add_client_error("head_object", service_error_code="403", service_message="Forbidden", http_status_code=403)
    with pytest.raises(ClientError) as raised:
        store.stat(LOCATION)
    assert raised.value.response["Error"]["Code"] == "403"


def test_a_present_key_reports_its_size_and_checksum(stubbed):
    store, stub = stubbed
    stub.add_response("head_object", {"ContentLength": 5, "ChecksumSHA256": "c2hhMjU2"},
                      {"Bucket": "bucket", "Key": LOCATION, "ChecksumMode": "ENABLED"})
    assert store.stat(LOCATION) == ObjectStat(5, "c2hhMjU2")
