"""AWS calls per registry operation (counted with botocore event hooks) beside their budgets, the time the
Lambda handler spends per pull request, and the cost per million pulls that follows.

    python benchmarks/calls_and_cost.py

Requests go through the real Lambda handler (Mangum) as Function URL events, with access control on, over
moto. Handler times are medians of warm requests on this machine; moto answers a DynamoDB GetItem in about
2.4 ms on loopback, in the range of DynamoDB in-region.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import statistics
import time
import uuid
from collections import Counter

from common import FAKE_ENV, MotoServer, environment

# us-east-1 list prices, as of 2025-12 (Lambda arm64, DynamoDB on-demand, S3 Standard).
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000133334,
    "dynamodb_read_unit": 0.125 / 1e6,  # up to 4 KB: 1 unit strongly consistent, 0.5 eventually
    "s3_get": 0.0004 / 1e3,
}
MEMORY_GB = (1.0, 0.5)
LAYERS = 5


def main() -> None:
    os.environ.update(FAKE_ENV)
    from dockyard.audit import logger

    logger().setLevel(logging.WARNING)  # the audit lines would drown the tables
    moto = MotoServer()
    try:
        rows, durations = measure(moto.endpoint)
    finally:
        moto.stop()
    report(rows, durations)


def measure(endpoint: str):
    from dockyard.auth.secrets_store import ensure_keyring
    from dockyard.config import Settings
    from dockyard.handler import make_handler
    from dockyard.factory import build_registry
    from dockyard.storage.aws import ensure_bucket, ensure_table, new_clients, secrets_client
    from tests.support import function_url
    from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, sha256

    name = f"calls-{uuid.uuid4().hex[:8]}"
    settings = Settings(bucket=name, table=name, endpoint_url=endpoint, auth=True, signing_secret=name)
    s3, dynamodb = new_clients(settings.region, endpoint)
    ensure_bucket(s3, settings)
    ensure_table(dynamodb, settings)
    ensure_keyring(secrets_client(settings), name)
    calls: Counter = Counter()
    for client in (s3, dynamodb, secrets_client(settings)):
        service = client.meta.service_model.service_name
        client.meta.events.register("before-call.*.*", lambda model, s=service, **_: calls.update([(s, model.name)]))
    registry = build_registry(settings, s3, dynamodb)
    key, secret = registry.access.create_key("bench", ["*=pull,push,delete"])
    from dockyard.app import create_app

    handler = make_handler(create_app(settings, registry))
    basic = "Basic " + base64.b64encode(f"{key['id']}:{secret}".encode()).decode()

    def call(method, path, params=None, body=b"", headers=None):
        return function_url.invoke(handler, method, path, params=params, body=body, headers=headers)

    token = json.loads(call("GET", "/token", {"service": "dockyard", "scope": "repository:bench/app:pull,push",
                                              "offline_token": "false"}, headers={"Authorization": basic}).content)
    auth = {"Authorization": f"Bearer {token['token']}"}
    config, layers = b'{"architecture": "arm64", "os": "linux"}', [os.urandom(2000) for _ in range(LAYERS)]
    for blob in [config, *layers]:
        call("POST", "/v2/bench/app/blobs/uploads/", {"digest": sha256(blob)}, blob, auth)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                           "layers": [descriptor(OCI_LAYER, layer) for layer in layers]}).encode()
    manifest_headers = {**auth, "Content-Type": OCI_MANIFEST}
    for tag in ("v1", "v2", "v3"):
        call("PUT", f"/v2/bench/app/manifests/{tag}", body=manifest, headers=manifest_headers)
    digest = sha256(manifest)
    chunked = os.urandom(12 * 1024 * 1024)

    def operation(label, budget, action, cold=True):
        if cold:
            registry.blobs.links.clear()
        calls.clear()
        action()
        return label, dict(calls), budget

    session = {}

    def start_chunks():
        location = call("POST", "/v2/bench/app/blobs/uploads/", headers=auth).headers["location"]
        session["location"] = location
        call("PATCH", location, body=chunked[:4_000_000], headers={**auth, "Content-Range": "0-3999999"})

    start_chunks()
    rows = [
        operation("manifest GET by tag", "1 read", lambda: call("GET", "/v2/bench/app/manifests/v1", headers=auth)),
        operation("manifest GET by digest", "1 read", lambda: call("GET", f"/v2/bench/app/manifests/{digest}",
                                                                 headers=auth)),
        operation("manifest HEAD", "1 read", lambda: call("HEAD", "/v2/bench/app/manifests/v1", headers=auth)),
        operation("blob HEAD (cold instance)", "1 read, 0 S3",
                  lambda: call("HEAD", f"/v2/bench/app/blobs/{sha256(layers[0])}", headers=auth)),
        operation("blob GET, redirect (cold instance)", "1 read, 0 S3",
                  lambda: call("GET", f"/v2/bench/app/blobs/{sha256(layers[0])}", headers=auth)),
        operation("blob GET, redirect (warm instance)", "-",
                  lambda: call("GET", f"/v2/bench/app/blobs/{sha256(layers[0])}", headers=auth), cold=False),
        operation("monolithic blob push (POST ?digest=, 2 KB)", "-",
                  lambda: call("POST", "/v2/bench/app/blobs/uploads/", {"digest": sha256(b"mono")}, b"mono", auth)),
        operation("chunked push, a 4 MB chunk that joins the waiting tail into a part", "-",
                  lambda: call("PATCH", session["location"], body=chunked[4_000_000:8_000_000],
                               headers={**auth, "Content-Range": "4000000-7999999"})),
        operation("chunked push, a 4 MB chunk that waits in a tail", "-",
                  lambda: call("PATCH", session["location"], body=chunked[8_000_000:12_000_000],
                               headers={**auth, "Content-Range": "8000000-11999999"})),
        operation("manifest PUT (6 references, by tag)", "1 batched read + 1 transaction",
                  lambda: call("PUT", "/v2/bench/app/manifests/v4", body=manifest, headers=manifest_headers)),
        operation("tag list page (n=2)", "-", lambda: call("GET", "/v2/bench/app/tags/list", {"n": "2"}, headers=auth)),
        operation("catalog page", "-", lambda: call("GET", "/v2/_catalog", headers={"Authorization": basic})),
        operation("token issue (Basic; the key's last use is written at most hourly)", "-", lambda: call("GET", "/token", {"service": "dockyard",
                                                                            "scope": "repository:bench/app:pull"},
                                                           headers={"Authorization": basic})),
    ]

    def timed(method, path, params=None, headers=None, cold=False):
        samples = []
        for _ in range(50):
            if cold:
                registry.blobs.links.clear()
            start = time.perf_counter()
            call(method, path, params, headers=headers)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    durations = {
        "/v2/ probe (401)": timed("GET", "/v2/"),
        "token": timed("GET", "/token", {"service": "dockyard", "scope": "repository:bench/app:pull"},
                       {"Authorization": basic}),
        "manifest GET by tag": timed("GET", "/v2/bench/app/manifests/v1", headers=auth),
        "blob GET (cold instance)": timed("GET", f"/v2/bench/app/blobs/{sha256(layers[1])}", headers=auth, cold=True),
        "blob GET (warm instance)": timed("GET", f"/v2/bench/app/blobs/{sha256(layers[1])}", headers=auth),
    }
    return rows, durations


def report(rows, durations) -> None:
    print("# AWS calls per operation, and the cost of a pull\n")
    print(f"{environment()}; requests through the Lambda handler (Mangum, Function URL events), auth on\n")
    print("| operation | DynamoDB | S3 | other | budget | within |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, calls, budget in rows:
        dynamodb = {op: n for (service, op), n in calls.items() if service == "dynamodb"}
        s3 = {op: n for (service, op), n in calls.items() if service == "s3"}
        other = {f"{service}:{op}": n for (service, op), n in calls.items() if service not in ("dynamodb", "s3")}
        print(f"| {label} | {_ops(dynamodb)} | {_ops(s3)} | {_ops(other)} | {budget} | {_within(budget, dynamodb, s3)} |")

    print("\n## Handler time per request (warm, median of 50)\n")
    print("| request | time |")
    print("| --- | --- |")
    for label, seconds in durations.items():
        print(f"| {label} | {seconds * 1000:.1f} ms |")

    print(f"\n## Cost per million pulls of a {LAYERS}-layer image, excluding egress\n")
    print("Prices: us-east-1 list prices as of 2025-12: Lambda arm64 $0.20 per million requests and "
          "$0.0000133334 per GB-second (billed per ms), DynamoDB on-demand $0.125 per million read units "
          "(a tag or a key is read strongly consistently, one unit; a blob link eventually consistently, half a "
          "unit), S3 $0.40 per million GETs.\n")
    d = durations
    scenarios = {
        "docker, first pull (probe, token, manifest, blobs; cold instance)":
            [d["/v2/ probe (401)"], d["token"], d["manifest GET by tag"]] + [d["blob GET (cold instance)"]] * LAYERS,
        "client with a token (a cluster pulling), warm instance":
            [d["manifest GET by tag"]] + [d["blob GET (warm instance)"]] * LAYERS,
        "floor of this design (1 ms billed per request, manifest + blobs)": [0.001] * (1 + LAYERS),
    }
    # read units: a key and a tag are read strongly consistently (1 unit), a blob link eventually (0.5)
    reads = {"docker, first pull (probe, token, manifest, blobs; cold instance)": 1 + 1 + 0.5 * LAYERS,
             "client with a token (a cluster pulling), warm instance": 1,
             "floor of this design (1 ms billed per request, manifest + blobs)": 1}
    header = " | ".join(f"{int(gb * 1024)} MB: total" for gb in MEMORY_GB)
    print(f"| pull | invocations | billed time | read units | Lambda requests | S3 GETs | {header} |")
    print("| --- | --- | --- | --- | --- | --- | " + " | ".join("---" for _ in MEMORY_GB) + " |")
    for label, times in scenarios.items():
        billed = sum(math.ceil(t * 1000) / 1000 for t in times)
        requests = len(times) * PRICES["lambda_request"] * 1e6
        read_cost = reads[label] * PRICES["dynamodb_read_unit"] * 1e6
        s3_cost = LAYERS * PRICES["s3_get"] * 1e6
        totals = [requests + billed * gb * PRICES["lambda_gb_second"] * 1e6 + read_cost + s3_cost for gb in MEMORY_GB]
        print(f"| {label} | {len(times)} | {billed * 1000:.0f} ms | {reads[label]} | ${requests:.2f} | ${s3_cost:.2f} | "
              + " | ".join(f"**${t:.2f}**" for t in totals) + " |")
    print("\nBudget: $5.00 per million pulls. Billed time rounds each request up to the next ms. The S3 GETs "
          "($2.00) are the clients downloading layers through presigned URLs.")


def _ops(ops: dict) -> str:
    return ", ".join(f"{n} {op}" for op, n in sorted(ops.items())) or "0"


def _within(budget: str, dynamodb: dict, s3: dict) -> str:
    reads = sum(n for op, n in dynamodb.items() if op in ("GetItem", "BatchGetItem", "Query"))
    if budget == "1 read":
        return "yes" if reads <= 1 and not s3 else "NO"
    if budget == "1 read, 0 S3":
        return "yes" if reads <= 1 and not s3 else "NO"
    if budget.startswith("1 batched read"):
        ok = dynamodb.get("BatchGetItem", 0) <= 1 and dynamodb.get("TransactWriteItems", 0) <= 1 and \
            set(dynamodb) <= {"BatchGetItem", "TransactWriteItems"} and not s3
        return "yes" if ok else "NO"
    return ""


if __name__ == "__main__":
    import sys

    from common import ROOT

    sys.path.insert(0, str(ROOT))
    main()
