"""The Lambda handler's own time per request of a pull, excluding the AWS round trip, beside the framework's
floor (a bare FastAPI route through Mangum).

    python benchmarks/handler_time.py [--requests 200]

Requests go through the real Lambda handler (Mangum, Function URL events, access control on) over moto.
Each is timed twice, warm: its wall time over moto, and the handler thread's CPU time with every AWS call
answered from a recording of moto's answer (the same status, headers and bytes), so that what remains is the
handler's own work (botocore's serializing, signing and parsing stay in it), whatever else the machine does.
What a whole pull costs, with the requests real clients make, is `calls_and_cost.py`.
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import logging
import os
import statistics
import time
from collections import Counter

from common import FAKE_ENV, MotoServer, environment, signed_backend

# Each timed request's handler-time budget excluding the AWS round trip.
BUDGETS_MS = {"token": "≤ 1 ms", "manifest GET by tag": "≤ 1 ms", "blob GET (warm instance)": "≤ 0.3 ms"}
LAYERS = 5
FLOOR = "floor: a bare FastAPI route answering 307, through Mangum"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    from dockyard.audit import logger

    logger().setLevel(logging.WARNING)  # the audit lines would drown the table
    moto = MotoServer()
    try:
        durations = measure(moto.endpoint, args.requests)
    finally:
        moto.stop()
    report(durations, args.requests)


class Bench:
    """A registry over moto behind the real Lambda handler (auth on), its AWS calls counted (`calls`).

    With `replay` on, each AWS request that was answered once is answered again from that recording
    (the same status, headers and bytes), with no round trip: what remains is the handler's own time,
    botocore's serializing, signing and parsing included, with no moto process busy on the same CPUs."""

    def __init__(self, endpoint: str):
        from dockyard.app import create_app
        from dockyard.handler import make_handler
        from dockyard.factory import build_registry
        from dockyard.storage.aws import secrets_client

        settings, s3, dynamodb = signed_backend(endpoint, "handler")
        self.calls: Counter = Counter()
        self.replay = False
        self._recorded: dict[tuple, tuple[int, dict, bytes]] = {}
        for client in (s3, dynamodb, secrets_client(settings)):
            service = client.meta.service_model.service_name
            client.meta.events.register("before-call.*.*",
                                        lambda model, s=service, **_: self.calls.update([(s, model.name)]))
            client.meta.events.register("before-send.*.*", functools.partial(self._send, client._endpoint))
        self.registry = build_registry(settings, s3, dynamodb)
        self.handler = make_handler(create_app(settings, self.registry))

    def _send(self, endpoint, request, **_):
        """Sends the request itself (botocore then skips its own send), or replays its recorded answer."""
        from botocore.awsrequest import AWSResponse

        if not self.replay or not isinstance(request.body, (bytes, str, type(None))):
            return endpoint._send(request)
        key = (request.method, request.url, request.body)
        if key not in self._recorded:
            response = endpoint._send(request)
            self._recorded[key] = (response.status_code, dict(response.headers), response.content)
            return response
        status, headers, body = self._recorded[key]
        return AWSResponse(request.url, status, headers, _Recorded(body))

    def call(self, method, path, params=None, body=b"", headers=None):
        from tests.support import function_url

        return function_url.invoke(self.handler, method, path, params=params, body=body, headers=headers)

    def push_image(self) -> None:
        """A key with push rights (`basic`), a token (`auth`), and a 5-layer image tagged v1..v3."""
        from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, sha256

        key, secret = self.registry.access.create_key("bench", ["*=pull,push,delete"])
        self.key_id = key["id"]
        self.basic = "Basic " + base64.b64encode(f"{key['id']}:{secret}".encode()).decode()
        token = json.loads(self.call("GET", "/token", {"service": "dockyard", "scope": "repository:bench/app:pull,push",
                                                       "offline_token": "false"},
                                     headers={"Authorization": self.basic}).content)
        self.auth = {"Authorization": f"Bearer {token['token']}"}
        # Layer 1, the one timed, is larger than a warm instance answers itself (64 KiB): redirected, as real
        # layers are. The config is answered from memory.
        self.config = b'{"architecture": "arm64", "os": "linux"}'
        config, self.layers = self.config, [os.urandom(100_000 if n == 1 else 2000) for n in range(LAYERS)]
        for blob in [config, *self.layers]:
            self.call("POST", "/v2/bench/app/blobs/uploads/", {"digest": sha256(blob)}, blob, self.auth)
        self.manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                    "config": descriptor(OCI_CONFIG, config),
                                    "layers": [descriptor(OCI_LAYER, layer) for layer in self.layers]}).encode()
        for tag in ("v1", "v2", "v3"):
            self.call("PUT", f"/v2/bench/app/manifests/{tag}", body=self.manifest,
                      headers={**self.auth, "Content-Type": OCI_MANIFEST})
        self.digest = sha256(self.manifest)

    def pull_requests(self) -> dict[str, tuple]:
        """The requests of a pull, timed per request: label -> (method, path, params, headers, and what to forget
        before each, to time an instance that has not seen it: None, or a function)."""
        from tests.support.oci import sha256

        blob = f"/v2/bench/app/blobs/{sha256(self.layers[1])}"
        token = {"service": "dockyard", "scope": "repository:bench/app:pull"}
        return {
            "/v2/ probe (401)": ("GET", "/v2/", None, None, None),
            "token (a key this instance has not verified in the last minute)": (
                "GET", "/token", token, {"Authorization": self.basic}, lambda: self.registry.auth.forget(self.key_id)),
            "token": ("GET", "/token", token, {"Authorization": self.basic}, None),
            "manifest GET by tag": ("GET", "/v2/bench/app/manifests/v1", None, self.auth, None),
            "blob GET (cold instance)": ("GET", blob, None, self.auth, self.registry.blobs.links.clear),
            "blob GET (warm instance)": ("GET", blob, None, self.auth, None),
            "config GET (warm instance: 200 from memory)": ("GET", f"/v2/bench/app/blobs/{sha256(self.config)}",
                                                            None, self.auth, None),
        }


class _Recorded:
    """A recorded response body, as the raw stream botocore reads: whole (`stream`, for parsed answers) or as
    a streaming body (`read`, S3's GetObject)."""

    def __init__(self, body: bytes):
        self.body = body
        self._left = io.BytesIO(body)

    def stream(self, *_, **__):
        yield self.body

    def read(self, amt: int | None = None) -> bytes:
        return self._left.read(amt)

    def close(self) -> None:
        pass


def measure(endpoint: str, requests: int = 200) -> dict[str, tuple[float, float, str]]:
    """label -> (median handler time over moto, median CPU time with AWS answers replayed, AWS calls per request
    as counted while timing over moto)."""
    from tests.support import function_url

    bench = Bench(endpoint)
    bench.push_image()

    def timed(method, path, params=None, headers=None, forget=None):
        """Medians of warm requests: (handler time over moto, CPU time of the handler with AWS answers
        replayed). The second is the handler thread's own CPU time (`time.thread_time`): on a busy machine
        the wall time of a request also counts the time it waited for a CPU, and that varies tenfold here."""
        ev = function_url.event(method, path, params, headers)
        context = function_url.LambdaContext()
        samples = {False: [], True: []}
        for replay, clock in ((False, time.perf_counter), (True, time.thread_time)):
            bench.replay = replay
            bench.handler(ev, context)  # warm (and, for the replay, record)
            before = Counter(bench.calls)
            for _ in range(requests):
                if forget is not None:
                    forget()
                start = clock()
                bench.handler(ev, context)
                samples[replay].append(clock() - start)
            if not replay:
                made = bench.calls - before
                calls = ", ".join(f"{n / requests:g} {op}" for (_, op), n in sorted(made.items())) or "0"
        bench.replay = False
        return statistics.median(samples[False]), statistics.median(samples[True]), calls

    durations = {label: timed(method, path, params, headers, forget)
                 for label, (method, path, params, headers, forget) in bench.pull_requests().items()}
    durations[FLOOR] = (*_floor(function_url, requests), "0")
    return durations


def _floor(function_url, requests: int) -> tuple[float, float]:
    """What the framework alone costs here: one async FastAPI route, no middleware, through Mangum."""
    from fastapi import FastAPI
    from mangum import Mangum
    from starlette.responses import Response

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/v2/{name:path}/blobs/{digest}")
    async def redirect(name: str, digest: str) -> Response:
        return Response(status_code=307, headers={"Location": "https://example.invalid/"})

    handler, context = Mangum(app, lifespan="off"), function_url.LambdaContext()
    event = function_url.event("GET", "/v2/bench/app/blobs/sha256:" + "0" * 64)
    samples = {time.perf_counter: [], time.thread_time: []}
    for clock, values in samples.items():
        for _ in range(requests + 20):
            start = clock()
            handler(event, context)
            values.append(clock() - start)
    return statistics.median(samples[time.perf_counter][20:]), statistics.median(samples[time.thread_time][20:])


def report(durations, requests: int) -> None:
    print("# Handler time per request of a pull\n")
    print(f"{environment()}; through Mangum, from a Function URL event to its result, auth on; warm, medians "
          f"of {requests}\n")
    print("The handler time is the wall time over moto. The next column leaves the AWS round trip out: each AWS "
          "call is answered from a recording of moto's answer, and the handler thread's CPU time is measured, so "
          "what remains is the handler's own work (botocore's serializing, signing and parsing stay in it), "
          "whatever else the machine is doing.\n")
    print("| request | handler time | AWS calls | excluding the AWS round trip | budget |")
    print("| --- | --- | --- | --- | --- |")
    for label, (seconds, local, calls) in durations.items():
        print(f"| {label} | {seconds * 1000:.2f} ms | {calls} | {local * 1000:.2f} ms | "
              f"{BUDGETS_MS.get(label, '')} |")


if __name__ == "__main__":
    import sys

    from common import ROOT

    sys.path.insert(0, str(ROOT))
    main()
