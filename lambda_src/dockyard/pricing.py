"""The cost model: AWS list prices (us-east-1, as of 2025-12) and what Dockyard does per pull and push.
The usage report (`dockyard usage`) and the benchmarks both read them from here.

A month is 30 days. Per repository, the estimate adds:
- storage: S3 Standard for its blob bytes, a blob linked by several repositories split evenly between them,
  and DynamoDB for its items (manifests and the tag items that copy them, links, counters);
- requests: for each pull (manifest GET) and each blob download, one Lambda invocation of `BILLED_MS`
  milliseconds at `MEMORY_GB` and its DynamoDB reads; for each download redirected to S3 one S3 GET (none for
  a small blob an instance served from memory); for each push (manifest PUT) `PUSH_INVOCATIONS` invocations
  and `PUSH_WRITE_UNITS` DynamoDB write units;
- egress: the bytes the downloads sent (from S3 or from the function), at the rate asked for: 0 in the
  region, or the internet list price.
What a month costs is the activity of the window asked for (`--since`), scaled to 30 days.
"""

from __future__ import annotations

GB = 1024 ** 3

PRICES = {
    "lambda_request": 0.20 / 1e6,  # per invocation
    "lambda_gb_second": 0.0000133334,  # arm64
    "dynamodb_read_unit": 0.125 / 1e6,  # on demand; per 4 KB, 1 strongly consistent, 0.5 eventually
    "dynamodb_write_unit": 0.625 / 1e6,  # on demand; per 1 KB (2 in a transaction)
    "dynamodb_gb_month": 0.25,
    "s3_gb_month": 0.023,  # Standard
    "s3_get": 0.0004 / 1e3,
    "logs_gb": 0.50,  # CloudWatch Logs, ingested
}
# Egress rates per GB: in the region (to EC2, EKS, Lambda) S3 sends for free; to the internet, the first 10 TB
# tier of the list price.
EGRESS = {"in-region": 0.0, "internet": 0.09}

MEMORY_GB = 1.0  # the stack's default function memory
BILLED_MS = 5  # a warm request, handler and AWS calls (benchmarks/calls_and_cost.py measures 2-5 ms)
PULL_READ_UNITS = 1.0  # a tag read strongly consistently
REDIRECT_READ_UNITS = 0.5  # a blob GET's link read eventually consistently (0 when the instance knows it)
PUSH_INVOCATIONS = 8  # a few blob checks and uploads, and the manifest PUT
PUSH_WRITE_UNITS = 30  # the manifest PUT transaction (2 units an item) and the links of new blobs
DAYS_PER_MONTH = 30


def egress_rate(name: str) -> float:
    """Dollars per GB for `in-region`, `internet`, or a number."""
    if name in EGRESS:
        return EGRESS[name]
    try:
        rate = float(name)
    except ValueError:
        raise ValueError(f"egress must be one of {', '.join(EGRESS)} or dollars per GB, not {name[:40]!r}") from None
    if not 0 <= rate < 100:
        raise ValueError("egress must be between 0 and 100 dollars per GB")
    return rate


def monthly(*, s3_bytes: float, item_bytes: int, pulls: float, redirects: float, redirect_bytes: float,
            pushes: float, egress: float, served: float = 0, served_bytes: float = 0) -> dict[str, float]:
    """Dollars a month, by part; activity counts are per month already."""
    downloads = redirects + served
    invocations = pulls + downloads + pushes * PUSH_INVOCATIONS
    parts = {
        "s3_storage": s3_bytes / GB * PRICES["s3_gb_month"],
        "dynamodb_storage": item_bytes / GB * PRICES["dynamodb_gb_month"],
        "lambda": invocations * (PRICES["lambda_request"] + BILLED_MS / 1000 * MEMORY_GB * PRICES["lambda_gb_second"]),
        "dynamodb_requests": (pulls * PULL_READ_UNITS + downloads * REDIRECT_READ_UNITS) * PRICES["dynamodb_read_unit"]
        + pushes * PUSH_WRITE_UNITS * PRICES["dynamodb_write_unit"],
        "s3_requests": redirects * PRICES["s3_get"],
        "egress": (redirect_bytes + served_bytes) / GB * egress,
    }
    return {**parts, "total": sum(parts.values())}


def model(egress: float) -> dict:
    """The model as the report states it."""
    return {"prices_usd": PRICES, "egress_usd_per_gb": egress, "month_days": DAYS_PER_MONTH,
            "lambda_memory_gb": MEMORY_GB, "billed_ms_per_request": BILLED_MS,
            "read_units": {"pull": PULL_READ_UNITS, "redirect": REDIRECT_READ_UNITS},
            "per_push": {"invocations": PUSH_INVOCATIONS, "write_units": PUSH_WRITE_UNITS},
            "storage": "S3 Standard for blob bytes (a blob linked by n repositories counts 1/n in each), "
                       "DynamoDB for table items",
            "source": "us-east-1 list prices, 2025-12"}
