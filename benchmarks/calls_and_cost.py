"""What a pull really costs: the requests real clients make (skopeo and docker, pulling through the real Lambda
handler), each one's AWS calls and handler time, and the cost per million pulls with the whole model.

    python benchmarks/calls_and_cost.py [--no-docker] [--repeat N]

It also measures a push's AWS calls and write units, without a storage quota and under one.

The handler (Mangum, access control on) runs behind a loopback server that turns each HTTP request into a
Function URL event (`tests.support.function_url.FunctionUrlServer`), over moto. skopeo and, where dockerd can
run, docker pull a 5-layer image through it; every request they make is recorded, with the DynamoDB items
it read. Nothing in the request list is typed by hand.

The model, per pull:
- Lambda: $0.20 per million invocations, plus billed time at the function's memory: the handler's CPU time
  measured here, plus each AWS call at an assumed in-region latency, rounded up to the ms (the machine is
  shared, so its wall clock would bill other processes' work); INIT (the CPU time of importing the handler
  in a fresh interpreter) billed the same way, at a stated cold-start rate;
- DynamoDB: read units per 4 KB of each item read (1 strongly consistent, 0.5 eventually), as counted from
  the items the handler got back (a missing item still costs one unit's worth);
- DynamoDB writes: a write unit per item of 1 KB or less written (2 in a transaction): the usage counters
  (none on a warm pull between batches; one per manifest GET in the worst case, measured too);
- S3: one GET per blob the client fetched through a presigned redirect;
- CloudWatch Logs: $0.50 per GB ingested, counting 26 bytes per event on top of its text: Lambda's START,
  END and REPORT lines (text format) or none (JSON format with the system log level at WARN, as the stack
  sets it), and every line the app logged during the pull.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import logging
import math
import statistics
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import edge_cost
from common import FAKE_ENV, ROOT, MotoServer, environment, signed_backend
from tests.support.processes import stop_process

from dockyard.pricing import PRICES  # us-east-1 list prices, as of 2025-12 (one source with `dockyard usage`)

MEMORY_MB = 1024  # the stack's default
COLD_START_RATES = (0.001, 0.01)  # 1 in 1,000 invocations (steady traffic); 1 in 100 (AWS's "under 1%")
LAYERS = 5
LAYER_BYTES = 100_000  # more than a warm instance answers itself (64 KiB): layers are redirected, as real ones are
# Lambda's platform lines in text format (a request id is 36 characters; REPORT of a warm invocation).
PLATFORM_LINES = ("START RequestId: 8f5ae0b3-7a3e-4e0e-9d7c-3c1b8a6e0d21 Version: $LATEST",
                  "END RequestId: 8f5ae0b3-7a3e-4e0e-9d7c-3c1b8a6e0d21",
                  "REPORT RequestId: 8f5ae0b3-7a3e-4e0e-9d7c-3c1b8a6e0d21\tDuration: 3.41 ms\tBilled Duration: 4 ms"
                  "\tMemory Size: 1024 MB\tMax Memory Used: 96 MB\t")
EVENT_OVERHEAD = 26
SCENARIOS = (("unseen", "an instance that has not seen the image"), ("warm", "a warm instance that has seen it"))
# Billed time of an invocation = the handler's CPU time, measured, plus its AWS calls at an assumed in-region
# latency each (this machine is shared, so its wall clock would count other processes' work).
LATENCY = {"dynamodb": 0.003, "secretsmanager": 0.015, "s3": 0.010}


def item_size(item: dict) -> int:
    """DynamoDB's item size: attribute names plus values (numbers approximated by their digits)."""
    def value(v: dict) -> int:
        (kind, data), = v.items()
        if kind == "S":
            return len(data.encode())
        if kind == "B":
            return len(data)
        if kind == "N":
            return (len(data.lstrip("-").replace(".", "")) + 1) // 2 + 1
        if kind in ("BOOL", "NULL"):
            return 1
        if kind in ("SS", "NS", "BS"):
            return sum(value({kind[0]: x}) for x in data)
        if kind == "L":
            return 3 + sum(value(x) + 1 for x in data)
        if kind == "M":
            return 3 + sum(len(k.encode()) + value(x) + 1 for k, x in data.items())
        return 0
    return sum(len(name.encode()) + value(v) for name, v in item.items())


class Meter:
    """AWS calls and read units of each invocation (the server handles one request at a time)."""

    def __init__(self):
        self.calls: Counter = Counter()
        self.units = 0.0
        self.write_units = 0.0
        self._consistent = False
        self.log_bytes = 0
        self.log_lines = 0

    def attach(self, client) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register("before-call.*.*", lambda model, **_: self.calls.update([(service, model.name)]))
        if service == "dynamodb":
            client.meta.events.register("before-parameter-build.dynamodb.*", self._params)
            client.meta.events.register("after-call.dynamodb.*", self._after)

    def _params(self, params, model=None, **_) -> None:
        self._consistent = bool(params.get("ConsistentRead"))
        name = getattr(model, "name", "")
        if name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.write_units += 1  # each item these write is under 1 KB
        elif name == "TransactWriteItems":
            self.write_units += 2 * len(params.get("TransactItems", []))

    def _after(self, model, parsed, **_) -> None:
        factor = 1.0 if self._consistent else 0.5
        if model.name == "GetItem":
            self.units += factor * max(1, math.ceil(item_size(parsed.get("Item", {})) / 4096))
        elif model.name == "Query":
            self.units += factor * max(1, math.ceil(sum(item_size(i) for i in parsed.get("Items", [])) / 4096))
        elif model.name == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                self.units += sum(factor * max(1, math.ceil(item_size(i) / 4096)) for i in items)

    def take(self):
        calls, units = dict(self.calls), self.units
        self.calls.clear()
        self.units = 0.0
        return calls, units

    def take_writes(self) -> float:
        writes, self.write_units = self.write_units, 0.0
        return writes


class LineCounter(logging.Handler):
    def __init__(self, meter: Meter):
        super().__init__()
        self.meter = meter

    def emit(self, record):
        self.meter.log_bytes += len(self.format(record).encode()) + 1
        self.meter.log_lines += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    moto = MotoServer()
    try:
        pulls, init = measure(moto.endpoint, docker=not args.no_docker, repeat=args.repeat)
    finally:
        moto.stop()
    report(pulls, init)


def measure(endpoint: str, docker: bool, repeat: int = 3):
    from dockyard.app import create_app
    from dockyard.audit import logger as audit_logger
    from dockyard.handler import make_handler
    from dockyard.factory import build_registry
    from dockyard.storage.aws import secrets_client
    from tests.support import function_url
    from tests.support.oci import Layout, random_layer

    settings, s3, dynamodb = signed_backend(endpoint, "calls")
    meter = Meter()
    for client in (s3, dynamodb, secrets_client(settings)):
        meter.attach(client)
    for log in (audit_logger(), logging.getLogger("dockyard")):
        log.addHandler(LineCounter(meter))
    audit_logger().handlers[0].setLevel(logging.WARNING)  # keep the report readable; lines are still counted
    records: list[dict] = []
    cpu: list[float] = []

    def timed(event, context):
        started = time.process_time()  # this process does nothing else meanwhile (one request at a time)
        try:
            return handler(event, context)
        finally:
            cpu.append(time.process_time() - started)

    def record(method, path, response, seconds):
        calls, units = meter.take()
        writes = meter.take_writes()
        wait = sum(n * LATENCY.get(service, 0.0) for (service, _), n in calls.items())
        records.append({"request": f"{method} {_shape(path)}", "status": response.status_code,
                        "wall": seconds, "cpu": cpu[-1], "seconds": cpu[-1] + wait,
                        "redirect": response.status_code == 307, "calls": calls, "units": units, "writes": writes,
                        "log_bytes": meter.log_bytes, "log_lines": meter.log_lines})
        meter.log_bytes = meter.log_lines = 0

    def reset():
        registry.meter.flush()
        meter.take()
        meter.take_writes()
        meter.log_bytes = meter.log_lines = 0
        records.clear()

    # The emulator speaks plain HTTP, where a Function URL's own domain is https: the realm is configured.
    server = function_url.FunctionUrlServer(timed, on_invoke=record)
    settings = dataclasses.replace(settings, public_url=f"http://{server.host}")
    registry = build_registry(settings, s3, dynamodb)
    key, secret = registry.access.create_key("bench", ["*=pull,push"])
    handler = make_handler(create_app(settings, registry))
    creds = f"{key['id']}:{secret}"

    work = Path(tempfile.mkdtemp(prefix="dockyard-cost-"))
    layout = Layout(work / "image")
    desc, manifest = layout.image([random_layer(LAYER_BYTES + i, f"layer{i}") for i in range(LAYERS)])
    layout.tag(desc, "v1")
    push(handler, layout, manifest, creds)

    pulls: dict[str, dict[str, list[list[dict]]] | str] = {}
    try:
        clients = [("skopeo", _skopeo_pull)] + ([("docker", _docker_pull)] if docker else [])
        for client, pull in clients:
            with pull(server.host, creds, work / client) as run:
                if isinstance(run, str):  # could not run here: say why
                    pulls[client] = run
                    continue
                run(reset)  # warm-up: this instance's AWS clients and signing keys are loaded from now on
                pulls[client] = {"unseen": [], "warm": [], "metered": []}
                for _ in range(repeat):
                    for scenario in ("unseen", "warm", "metered"):
                        if scenario == "unseen":
                            registry.forget_caches()  # an instance that has not seen this image
                            registry.auth.forget(creds.split(":")[0])  # nor verified its key
                        else:  # one pull more: a warm instance keeps the small blobs it was asked for twice
                            run(reset)
                        # metered: the usage counts' worst case, written by every manifest GET (interval 0)
                        registry.meter.interval = 0 if scenario == "metered" else settings.meter_interval
                        run(reset)
                        pulls[client][scenario].append(list(records))
                registry.meter.interval = settings.meter_interval
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    # Read auditing (dockyard:auditReads): what the pull record adds, from a real manifest GET.
    reads = dataclasses.replace(settings, audit_reads=True)
    audited = make_handler(create_app(reads, build_registry(reads, s3, dynamodb)))
    meter.log_bytes = meter.log_lines = 0
    function_url.invoke(audited, "GET", "/v2/bench/app/manifests/v1", headers={
        "Authorization": "Basic " + base64.b64encode(creds.encode()).decode()})
    pulls["audit"] = {"log_bytes": meter.log_bytes + EVENT_OVERHEAD * meter.log_lines}
    pulls["push"] = measure_pushes(handler, registry, meter, creds)
    return pulls, measure_init()


def measure_pushes(handler, registry, meter, creds: str) -> dict:
    """The AWS calls and write units of a whole push of a fresh 5-layer image (blobs, then the manifest),
    without a quota and under one."""
    from tests.support.oci import Layout, random_layer

    registry.quotas.set("quota/*", 10 ** 12)  # the admin call, made on the registry itself
    results = {}
    work = Path(tempfile.mkdtemp(prefix="dockyard-push-"))
    try:
        for label, repo in (("no quota", "plain/app"), ("under a quota", "quota/app")):
            layout = Layout(work / label.replace(" ", "-"))
            desc, manifest = layout.image([random_layer(2000 + i, f"{label}{i}") for i in range(LAYERS)])
            layout.tag(desc, "v1")
            push(handler, layout, manifest, creds, repo)  # this instance has read the quotas since
            layout = Layout(work / f"{label.replace(' ', '-')}-2")
            desc, manifest = layout.image([random_layer(3000 + i, f"{label}{i}b") for i in range(LAYERS)])
            layout.tag(desc, "v1")
            meter.take(), meter.take_writes()
            push(handler, layout, manifest, creds, repo, tag="v2")
            calls, _ = meter.take()
            results[label] = {"calls": calls, "write_units": meter.take_writes()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def push(handler, layout, manifest: bytes, creds: str, repo: str = "bench/app", tag: str = "v1") -> None:
    from tests.support import function_url
    from tests.support.oci import OCI_MANIFEST, sha256

    basic = {"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()}
    for blob in (layout.root / "blobs" / "sha256").iterdir():
        data = blob.read_bytes()
        if data != manifest:
            response = function_url.invoke(handler, "POST", f"/v2/{repo}/blobs/uploads/",
                                           params={"digest": sha256(data)}, body=data, headers=basic)
            assert response.status_code == 201, response.content
    response = function_url.invoke(handler, "PUT", f"/v2/{repo}/manifests/{tag}", body=manifest,
                                   headers={**basic, "Content-Type": OCI_MANIFEST})
    assert response.status_code == 201, response.content


@contextlib.contextmanager
def _skopeo_pull(host: str, creds: str, out: Path):
    from tests.support.processes import skopeo

    def pull(reset):
        shutil.rmtree(out, ignore_errors=True)  # a node that has none of the image
        reset()
        skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{host}/bench/app:v1",
               f"oci:{out}:v1")
    yield pull


@contextlib.contextmanager
def _docker_pull(host: str, creds: str, out: Path):
    """Each pull on a dockerd of its own (a node's first pull: vfs storage, no network setup), logged in
    before recording starts; yields the pull, or why it cannot run here."""
    if not shutil.which("dockerd") or not shutil.which("docker"):
        yield "docker is not installed"
        return
    counter = iter(range(1_000))

    def pull(reset):
        with _dockerd(out / f"d{next(counter)}") as env:
            key_id, secret = creds.split(":", 1)
            login = subprocess.run(["docker", "login", host, "-u", key_id, "--password-stdin"], input=secret,
                                   text=True, env=env, capture_output=True)
            if login.returncode != 0:
                raise RuntimeError(f"docker login failed: {login.stderr[-300:]}")
            reset()
            result = subprocess.run(["docker", "pull", f"{host}/bench/app:v1"], env=env, capture_output=True,
                                    text=True, timeout=300)
            if result.returncode != 0:
                raise RuntimeError(f"docker pull failed: {result.stderr[-1000:]}")

    try:
        with _dockerd(out / "probe"):
            pass
    except RuntimeError as exc:
        yield str(exc)
        return
    yield pull


@contextlib.contextmanager
def _dockerd(root: Path):
    root.mkdir(parents=True)
    sock = root / "docker.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "config")}
    env.pop("AWS_CA_BUNDLE", None)
    daemon = subprocess.Popen(["dockerd", "--storage-driver=vfs", "--iptables=false", "--ip6tables=false",
                               "--bridge=none", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                               "--pidfile", str(root / "docker.pid"), "-H", f"unix://{sock}"],
                              stdout=subprocess.DEVNULL, stderr=(root / "dockerd.log").open("wb"), env=env)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "info"], env=env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError("dockerd did not start here")
            time.sleep(0.5)
        yield env
    finally:
        stop_process(daemon)


def measure_init(repeat: int = 5) -> float:
    """CPU seconds to import the handler module in a fresh interpreter: Lambda's INIT phase for this function
    (CPU time, because this machine is shared; the import reads files, but does no network call)."""
    code = "import time; t = time.process_time(); import dockyard.handler; print(time.process_time() - t)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambda_src")}
    return min(float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                    text=True, check=True).stdout) for _ in range(repeat))


def _shape(path: str) -> str:
    parts = path.split("/")
    return "/".join("<digest>" if p.startswith("sha256:") else p for p in parts)


def costs(records: list[dict], init: float, cold_rate: float, platform_logs: bool) -> dict:
    gb = MEMORY_MB / 1024
    billed_ms = sum(math.ceil(r["seconds"] * 1000) for r in records)
    invocations = len(records)
    units = sum(r["units"] for r in records)
    writes = sum(r.get("writes", 0) for r in records)
    s3_gets = sum(r["redirect"] + r["calls"].get(("s3", "GetObject"), 0) for r in records)  # clients' and ours
    log_bytes = sum(r["log_bytes"] + EVENT_OVERHEAD * r["log_lines"] for r in records)
    if platform_logs:
        log_bytes += invocations * sum(len(line) + 1 + EVENT_OVERHEAD for line in PLATFORM_LINES)
    million = 1e6
    parts = {
        "requests": invocations * PRICES["lambda_request"] * million,
        "compute": billed_ms / 1000 * gb * PRICES["lambda_gb_second"] * million,
        "init": invocations * cold_rate * math.ceil(init * 1000) / 1000 * gb * PRICES["lambda_gb_second"] * million,
        "reads": units * PRICES["dynamodb_read_unit"] * million,
        "writes_usd": writes * PRICES["dynamodb_write_unit"] * million,
        "s3": s3_gets * PRICES["s3_get"] * million,
        "logs": log_bytes / 1e9 * PRICES["logs_gb"] * million,
    }
    return {"invocations": invocations, "billed_ms": billed_ms, "units": units, "writes": writes, "s3_gets": s3_gets,
            "log_bytes": log_bytes, **parts, "total": sum(parts.values())}


def _typical(runs: list[list[dict]]) -> list[dict]:
    """Each request's median over the runs (runs whose requests differ from the first one's are dropped)."""
    shape = [r["request"] for r in runs[0]]
    alike = [run for run in runs if [r["request"] for r in run] == shape]
    return [{**alike[0][i], **{k: statistics.median(run[i][k] for run in alike) for k in ("seconds", "cpu", "wall")}}
            for i in range(len(shape))]


def report(pulls, init: float) -> None:
    print("# What a pull costs\n")
    print(f"{environment()}; the real Lambda handler (Mangum, access control on) behind a loopback Function URL "
          f"emulator, over moto; {MEMORY_MB} MB; a {LAYERS}-layer image; INIT (importing the handler in a fresh "
          f"interpreter) measured at {init * 1000:.0f} ms of CPU\n")
    audit = pulls.pop("audit")
    pushes = pulls.pop("push")
    for client, scenarios in pulls.items():
        if isinstance(scenarios, str):
            print(f"**{client}**: not measured ({scenarios})\n")
            continue
        for scenario, label in SCENARIOS:
            run = _typical(scenarios[scenario])
            print(f"## The requests a {client} pull makes ({label}; medians of {len(scenarios[scenario])} pulls)\n")
            print("| # | request | status | AWS calls | read units | handler CPU | billed (model) | wall here |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for i, r in enumerate(run, 1):
                calls = ", ".join(f"{n} {op}" for (_, op), n in sorted(r["calls"].items())) or "0"
                print(f"| {i} | `{r['request']}` | {r['status']} | {calls} | {r['units']:g} | "
                      f"{r['cpu'] * 1000:.1f} ms | {math.ceil(r['seconds'] * 1000)} ms | {r['wall'] * 1000:.1f} ms |")
            print()
    print("## Cost per million pulls, excluding egress\n")
    print("Prices: us-east-1 list prices as of 2025-12: Lambda arm64 $0.20 per million requests and $0.0000133334 "
          "per GB-second (billed per ms, INIT included), DynamoDB on-demand $0.125 per million read units (per "
          "4 KB: 1 strongly consistent, 0.5 eventually), S3 $0.40 per million GETs, CloudWatch Logs $0.50 per GB "
          f"ingested (26 bytes per event counted on top). Cold starts: {COLD_START_RATES[0]:.1%} of invocations "
          f"(a registry with steady traffic), and {COLD_START_RATES[1]:.0%} (the upper bound AWS gives) for "
          "comparison; logs: JSON format with the system log level at WARN (as the stack deploys it: no "
          "START/END/REPORT lines), and text format for comparison. Billed time: the handler's CPU time here "
          "plus each AWS call at an assumed in-region latency (DynamoDB 3 ms, Secrets Manager 15 ms), rounded up "
          "to the ms; this machine is shared, so its wall clock (last column above) counts other work too.\n")
    print("| pull | invocations | billed time | read units | write units | S3 GETs | Lambda requests | compute | INIT | "
          "reads | writes | S3 | logs | **total** | text logs, 1% cold |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for client, scenarios in pulls.items():
        if isinstance(scenarios, str):
            continue
        for scenario, label in (*((s, f"first pull, {label}") for s, label in SCENARIOS),
                                ("metered", "warm, usage counts written by this pull (worst case)")):
            run = _typical(scenarios[scenario])
            model = costs(run, init, COLD_START_RATES[0], platform_logs=False)
            worst = costs(run, init, COLD_START_RATES[1], platform_logs=True)
            print(f"| {client}, {label} | {model['invocations']} | {model['billed_ms']} ms | {model['units']:g} | "
                  f"{model['writes']:g} | {model['s3_gets']} | ${model['requests']:.2f} | ${model['compute']:.2f} | "
                  f"${model['init']:.2f} | ${model['reads']:.2f} | ${model['writes_usd']:.2f} | ${model['s3']:.2f} | "
                  f"${model['logs']:.2f} | **${model['total']:.2f}** | "
                  f"${worst['total']:.2f} (logs ${worst['logs']:.2f}) |")
    print(f"\nRead auditing (`dockyard:auditReads=true`) adds one line of {audit['log_bytes']} bytes per pull (its "
          f"manifest GET): ${audit['log_bytes'] / 1e9 * PRICES['logs_gb'] * 1e6:.2f} per million pulls.")
    print("\nUsage metering (`dockyard usage`): an instance counts manifest GETs and blob redirects in memory and "
          "writes them as one UpdateItem per repository and day when its oldest count is `meter_interval` (60 s) "
          "old, so a warm pull above writes nothing; the *worst case* row has every manifest GET write (interval 0): "
          "one write unit more per pull.")
    print("\n## What a push costs, with and without a storage quota\n")
    print("A fresh 5-layer image (5 layers and a config, then the manifest), on an instance that has read the "
          "quotas (it reads them again every `quota_cache_ttl` seconds: one Query).\n")
    print("| push | AWS calls | write units | writes at list price, per million pushes |")
    print("| --- | --- | --- | --- |")
    for label, found in pushes.items():
        calls = ", ".join(f"{n} {op}" for (_, op), n in sorted(found["calls"].items()))
        print(f"| {label} | {calls} | {found['write_units']:g} | "
              f"${found['write_units'] * PRICES['dynamodb_write_unit'] * 1e6:.2f} |")
    print("\nBudget: $5.00 per million docker first pulls at the default memory.")
    # Egress, and the requests of the downloads themselves, from S3 or from CloudFront (edge downloads).
    print("\n" + edge_cost.report().replace("# ", "## ", 1))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
