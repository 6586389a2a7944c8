"""The cost model: a blob served from memory costs an invocation, its link read and its egress, but no S3 GET."""

import pytest

from dockyard import pricing

MONTH = {"s3_bytes": 0, "item_bytes": 0, "pulls": 0, "pushes": 0, "egress": pricing.EGRESS["internet"]}


def test_a_download_served_from_memory_makes_no_s3_get_and_a_redirect_one():
    redirected = pricing.monthly(**MONTH, redirects=1e6, redirect_bytes=pricing.GB)
    served = pricing.monthly(**MONTH, redirects=0, redirect_bytes=0, served=1e6, served_bytes=pricing.GB)
    assert redirected["s3_requests"] == pytest.approx(1e6 * pricing.PRICES["s3_get"]) and served["s3_requests"] == 0
    for part in ("lambda", "dynamodb_requests", "egress"):
        assert served[part] == redirected[part] > 0, part
    assert served["total"] == pytest.approx(redirected["total"] - redirected["s3_requests"])
