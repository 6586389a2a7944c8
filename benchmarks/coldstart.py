"""Cold start: in a fresh interpreter, the time to import the Lambda handler and answer the first request,
beside a bare `import fastapi, mangum, boto3` measured in the same run (alternating, medians).

    python benchmarks/coldstart.py [--repeat 7]

Two first requests are timed: `GET /v2/` (how every docker session starts: a 401 challenge, no AWS call)
and a manifest GET with a token (AWS clients made, the signing keys read from Secrets Manager, one
DynamoDB read; over moto on loopback).

Both sides run twice, with the same byte code available to each: compiled beforehand (as the bundle ships
it, `infra.wheels.compile_bytecode`), and none at all, every module compiled from source at import (as a
bundle without byte code runs on Lambda's read-only file system). Each mode has a byte code directory of
its own (`PYTHONPYCACHEPREFIX`), so whatever this shell sets does not tilt either side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

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


def modes(tmp: str) -> dict[str, dict]:
    """The environment of each mode: byte code compiled beforehand (written by a first, untimed run into a
    directory of its own), or none (an empty directory, and nothing written)."""
    compiled = {"PYTHONPYCACHEPREFIX": os.path.join(tmp, "compiled"), "PYTHONDONTWRITEBYTECODE": ""}
    source = {"PYTHONPYCACHEPREFIX": os.path.join(tmp, "none"), "PYTHONDONTWRITEBYTECODE": "1"}
    return {"byte code compiled beforehand (as the bundle ships)": compiled,
            "no byte code (every module compiled at import)": source}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    moto = MotoServer()
    tmp = tempfile.TemporaryDirectory()
    try:
        env, token = prepare(moto.endpoint)
        pull = (json.dumps({"Authorization": f"Bearer {token}"}), "/v2/bench/app/manifests/v1", "200")
        samples = {mode: {"baseline": [], "probe": [], "pull": []} for mode in modes(tmp.name)}
        for mode, extra in modes(tmp.name).items():  # untimed: fills the compiled mode's directory
            run(BASELINE, env=extra), run(HANDLER, *pull, env={**env, **extra})
        for _ in range(args.repeat):  # interleaved
            for mode, extra in modes(tmp.name).items():
                samples[mode]["baseline"].append(run(BASELINE, env=extra))
                samples[mode]["probe"].append(run(HANDLER, "{}", "/v2/", "401", env={**env, **extra}))
                samples[mode]["pull"].append(run(HANDLER, *pull, env={**env, **extra}))
    finally:
        moto.stop()
        tmp.cleanup()
    print("# Cold start of the Lambda handler\n")
    print(f"{environment()}; medians of {args.repeat} fresh interpreters each, interleaved\n")
    print("| byte code | in a fresh interpreter | time | ratio to baseline | budget |")
    print("| --- | --- | --- | --- | --- |")
    for mode, found in samples.items():
        base, probe, first = (statistics.median(found[k]) for k in ("baseline", "probe", "pull"))
        print(f"| {mode} | baseline: `import fastapi, mangum, boto3` | {base * 1000:.0f} ms | 1.00 | |")
        print(f"| | import `dockyard.handler` + first request `GET /v2/` (401 challenge) | {probe * 1000:.0f} ms | "
              f"{probe / base:.2f} | {'≤ 1.1' if 'beforehand' in mode else ''} |")
        print(f"| | import `dockyard.handler` + first request: manifest GET with a token (clients, signing keys, "
              f"1 GetItem) | {first * 1000:.0f} ms | {first / base:.2f} | |")


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
