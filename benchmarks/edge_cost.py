"""What blob downloads cost from S3 (presigned URLs) and from CloudFront (edge downloads): requests and
internet egress, per month, at list prices. A model, not a measurement: the request counts per pull are the
ones `calls_and_cost.py` measures (a 5-layer image: 6 blob GETs, config included), the signing time is
`edge_signing.py`'s.

    python benchmarks/edge_cost.py

Prices (2025-12 list prices; S3 in us-east-1, CloudFront's United States/Mexico/Canada and Europe/Israel
edges, which price egress alike):
- S3: $0.40 per million GETs; internet egress $0.09/GB for the first 10 TB a month, $0.085 the next 40 TB,
  $0.07 the next 100 TB, $0.05 beyond; AWS's free tier: 100 GB a month of egress (all services together).
- CloudFront: $0.0100 per 10,000 HTTPS requests in the United States ($0.0120 in Europe); egress $0.085/GB
  the first 10 TB, $0.080 the next 40 TB, $0.060 the next 100 TB, $0.040 the next 350 TB, $0.030 the next
  524 TB, $0.025 the next 4 PB, $0.020 beyond; always free: 1 TB of egress and 10 million requests a month;
  origin fetches from S3 are free, but each cache miss is an S3 GET. Other edges cost more (up to $0.120/GB
  for the first 10 TB in Asia, $0.114 in Japan, Australia and New Zealand); the distribution serves from
  every edge (PriceClass_All), so that pulls come from the nearest one.
"""

from __future__ import annotations

import math

TB = 1024  # GB, as AWS counts its tiers
S3_GET = 0.0004 / 1000
S3_EGRESS = ((10 * TB, 0.09), (40 * TB, 0.085), (100 * TB, 0.07), (math.inf, 0.05))
S3_FREE_GB = 100
CF_HTTPS_REQUEST = {"US": 0.0100 / 10_000, "Europe": 0.0120 / 10_000}
CF_EGRESS = ((10 * TB, 0.085), (40 * TB, 0.080), (100 * TB, 0.060), (350 * TB, 0.040), (524 * TB, 0.030),
             (4096 * TB, 0.025), (math.inf, 0.020))
CF_FREE_GB = 1 * TB
CF_FREE_REQUESTS = 10_000_000
BLOB_GETS_PER_PULL = 6  # calls_and_cost.py: the config and 5 layers, each a 307 and one download


def tiered(gb: float, tiers, free_gb: float) -> float:
    """The month's egress bill: the free allowance first, then each tier at its rate."""
    left, cost = max(0.0, gb - free_gb), 0.0
    for size, rate in tiers:
        part = min(left, size)
        cost += part * rate
        left -= part
        if left <= 0:
            break
    return cost


def month(pulls: int, image_gb: float, hit_ratio: float, region: str = "US") -> dict:
    """Download costs of `pulls` pulls of an image of `image_gb` in a month; `hit_ratio` of CloudFront's
    requests are answered from its cache (blobs are immutable: a warm edge misses once per blob)."""
    gets, gb = pulls * BLOB_GETS_PER_PULL, pulls * image_gb
    s3 = {"requests": gets * S3_GET, "egress": tiered(gb, S3_EGRESS, S3_FREE_GB)}
    edge = {"requests": max(0, gets - CF_FREE_REQUESTS) * CF_HTTPS_REQUEST[region]
            + gets * (1 - hit_ratio) * S3_GET,
            "egress": tiered(gb, CF_EGRESS, CF_FREE_GB)}
    return {"s3": {**s3, "total": sum(s3.values())}, "edge": {**edge, "total": sum(edge.values())}}


def report(signing_ms: float = 2.0, memory_gb: float = 1.0) -> str:
    lines = ["# Blob downloads: S3 presigned URLs against CloudFront (edge downloads)\n",
             "A model at list prices (see the module's docstring); 6 blob downloads per pull (a 5-layer image "
             "and its config), CloudFront in the United States, 90% of its requests from its cache.\n",
             "| a month | egress | S3: GETs | S3: egress | **S3 total** | CloudFront: requests and misses | "
             "CloudFront: egress | **CloudFront total** |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for pulls, image_mb in ((10_000, 50), (100_000, 100), (1_000_000, 100), (1_000_000, 500),
                            (10_000_000, 100)):
        gb = image_mb / 1024
        cost = month(pulls, gb, hit_ratio=0.9)
        s3, edge = cost["s3"], cost["edge"]
        lines.append(f"| {pulls:,} pulls of {image_mb} MB | {pulls * gb / TB:,.1f} TB | ${s3['requests']:,.2f} | "
                     f"${s3['egress']:,.2f} | **${s3['total']:,.2f}** | ${edge['requests']:,.2f} | "
                     f"${edge['egress']:,.2f} | **${edge['total']:,.2f}** |")
    per_million_gets = 1e6
    lines += ["",
              f"Per million blob downloads beyond the free tiers: S3 ${per_million_gets * S3_GET:.2f} in GETs; "
              f"CloudFront ${per_million_gets * CF_HTTPS_REQUEST['US']:.2f} in HTTPS requests "
              f"(${per_million_gets * CF_HTTPS_REQUEST['Europe']:.2f} in Europe) plus "
              f"${per_million_gets * S3_GET:.2f} times the miss ratio in S3 GETs. Per GB of egress: S3 "
              f"${S3_EGRESS[0][1]:.3f}, CloudFront ${CF_EGRESS[0][1]:.3f} (first 10 TB), and CloudFront's first "
              f"TB a month is free against S3's first {S3_FREE_GB} GB.",
              "",
              f"Signing: a CloudFront URL for a blob the instance has not signed in the current minute costs an "
              f"RSA 2048 signature (about {signing_ms:.0f} ms of CPU here, see edge_signing.py); at "
              f"{memory_gb:g} GB that is at most "
              f"${BLOB_GETS_PER_PULL * signing_ms / 1000 * memory_gb * 0.0000133334 * 1e6:.2f} per million "
              f"pulls (every blob GET signing anew); a URL signed already in that minute costs nothing."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
