"""Cold start: in a fresh interpreter, the time to import the Lambda handler and answer the first request,
beside a bare `import fastapi, mangum, boto3` measured in the same run (alternating, medians).

    python benchmarks/coldstart.py [--repeat 7]

Two first requests are timed: `GET /v2/` (how every docker session starts: a 401 challenge, no AWS call)
and a manifest GET with a token (AWS clients made, the signing keys read from Secrets Manager, one
DynamoDB read; over moto on loopback).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from common import FAKE_ENV, ROOT, MotoServer, environment, signed_backend

BASELINE = """
import time
t = time.perf_counter()
import fastapi, mangum, boto3
print(time.perf_counter() - t)
"""

HANDLER = """
import json, sys, time
t = time.perf_counter()
from dockyard.handler import handler
from tests.support.function_url import LambdaContext, event
headers = json.loads(sys.argv[1])
result = handler(event("GET", sys.argv[2], headers=headers), LambdaContext())
elapsed = time.perf_counter() - t
assert result["statusCode"] == int(sys.argv[3]), result
print(elapsed)
"""


def run(code: str, *args: str, env: dict | None = None) -> float:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, **(env or {})}, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    moto = MotoServer()
    try:
        env, token = prepare(moto.endpoint)
        samples = {"baseline": [], "probe": [], "pull": []}
        for _ in range(args.repeat):  # interleaved
            samples["baseline"].append(run(BASELINE))
            samples["probe"].append(run(HANDLER, "{}", "/v2/", "401", env=env))
            samples["pull"].append(run(HANDLER, json.dumps({"Authorization": f"Bearer {token}"}),
                                       "/v2/bench/app/manifests/v1", "200", env=env))
    finally:
        moto.stop()
    base = statistics.median(samples["baseline"])
    print("# Cold start of the Lambda handler\n")
    print(f"{environment()}; medians of {args.repeat} fresh interpreters each, interleaved\n")
    print("| in a fresh interpreter | time | ratio to baseline | budget |")
    print("| --- | --- | --- | --- |")
    print(f"| baseline: `import fastapi, mangum, boto3` | {base * 1000:.0f} ms | 1.00 | |")
    probe = statistics.median(samples["probe"])
    pull = statistics.median(samples["pull"])
    print(f"| import `dockyard.handler` + first request `GET /v2/` (401 challenge) | {probe * 1000:.0f} ms | "
          f"{probe / base:.2f} | ≤ 1.1 |")
    print(f"| import `dockyard.handler` + first request: manifest GET with a token (clients, signing keys, "
          f"1 GetItem) | {pull * 1000:.0f} ms | {pull / base:.2f} | |")


def prepare(endpoint: str) -> tuple[dict, str]:
    """A registry with one image and a signing secret over moto; the env a Lambda would get; a token."""
    sys.path.insert(0, str(ROOT))
    from dockyard.auth.scopes import Access
    from dockyard.factory import build_registry
    from tests.support.oci import OCI_CONFIG, OCI_MANIFEST, descriptor

    settings, _, _ = signed_backend(endpoint, "cold")
    registry = build_registry(settings)
    config = b"{}"
    registry.uploads.upload("bench/app", f"sha256:{__import__('hashlib').sha256(config).hexdigest()}",
                            __import__("io").BytesIO(config))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                           "layers": []}).encode()
    registry.manifests.put("bench/app", "v1", manifest, OCI_MANIFEST)
    token, _, _ = registry.auth.tokens.issue("bench", [Access("repository", "bench/app", frozenset({"pull"}))])
    return {**settings.to_env(), **FAKE_ENV}, token


if __name__ == "__main__":
    main()
