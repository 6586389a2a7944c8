"""AWS faults injected into a boto3 client (botocore events): what a real account can answer at any call."""

from __future__ import annotations

import contextlib
import uuid


@contextlib.contextmanager
def throttled_filtered_queries(client):
    """Every DynamoDB Query with a FilterExpression made through `client` is throttled (no retry left),
    while the block runs."""

    def refuse(params, **_):
        if "FilterExpression" in params:
            raise client.exceptions.ProvisionedThroughputExceededException(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "Query")

    unique = f"throttled-{uuid.uuid4().hex}"
    client.meta.events.register("before-parameter-build.dynamodb.Query", refuse, unique_id=unique)
    try:
        yield
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.Query", unique_id=unique)
