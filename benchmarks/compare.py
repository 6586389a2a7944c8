"""Push and pull wall time and registry peak RSS: Dockyard beside CNCF distribution (the reference registry,
Debian's `docker-registry`, S3 driver, redirects on), both over the same moto server, skopeo as the client.

    python benchmarks/compare.py [--repeat 3]

Runs are interleaved (Dockyard, distribution, Dockyard, ...) and each registry gets a fresh repository
per run, so nothing is already there. Reports medians and the ratio Dockyard/distribution, and beside it
the time of the same copy with no registry (oci: to oci:), so that the registries' own share can be compared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import FAKE_ENV, MotoServer, RssSampler, environment, start_server
from timing_proxy import TimingProxy
from tests.support.oci import Layout, layer_tar, random_layer
from tests.support.processes import SKOPEO_BLOB_CACHE, free_port, stop_process, wait_for_registry

MIB = 1024 * 1024
DISTRIBUTION_CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: bench
    secretkey: bench
    region: us-east-1
    regionendpoint: {endpoint}
    bucket: {bucket}
    secure: false
    v4auth: true
    rootdirectory: /registry
  delete:
    enabled: true
  redirect:
    disable: false
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:{port}
"""
HTPASSWD_AUTH = """auth:
  htpasswd:
    realm: distribution
    path: {path}
"""


class Distribution:
    """The reference registry as a process, over the same moto."""

    def __init__(self, moto: MotoServer, workdir: Path, bucket: str = "distribution", htpasswd: Path | None = None):
        """With `htpasswd`, every request needs Basic credentials from that file."""
        import boto3

        boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        self.port = free_port()
        self.host, self.url = f"127.0.0.1:{self.port}", f"http://127.0.0.1:{self.port}"
        config = workdir / f"{bucket}.yml"
        text = DISTRIBUTION_CONFIG.format(endpoint=moto.endpoint, bucket=bucket, port=self.port)
        config.write_text(text + (HTPASSWD_AUTH.format(path=htpasswd) if htpasswd else ""))
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # its S3 driver would choke on it
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_registry(self.process, self.url, "docker-registry")

    def stop(self) -> None:
        stop_process(self.process)


def build_images(root: Path) -> dict[str, str]:
    """small: three small layers; big: 100 MiB incompressible plus a few small; many: 30 layers."""
    images = {}
    for name, layers in {
        "small": [layer_tar({f"f{i}": os.urandom(20_000)}) for i in range(3)],
        "big": [random_layer(100 * MIB), *[layer_tar({f"s{i}": os.urandom(50_000)}) for i in range(3)]],
        "many": [layer_tar({f"m{i}": os.urandom(100_000)}) for i in range(30)],
    }.items():
        layout = Layout(root / name)
        desc, _ = layout.image(layers)
        layout.tag(desc, "v1")
        images[name] = f"oci:{root / name}:v1"
    return images


def skopeo(*args: str) -> float:
    """One skopeo run's wall time, started on a quiet disk: what earlier runs wrote (moto keeps large objects
    in files) is flushed first, or its write-back slows whichever copy comes next."""
    if SKOPEO_BLOB_CACHE.exists():
        SKOPEO_BLOB_CACHE.unlink()
    os.sync()
    start = time.perf_counter()
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    moto = MotoServer()
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    dockyard = start_server(moto, "bench-dockyard")
    distribution = Distribution(moto, workdir)
    registries = {"dockyard": dockyard, "distribution": distribution}
    samples: dict[tuple[str, str, str], list[tuple[float, int]]] = {}
    floors: dict[str, list[float]] = {}
    served: dict[tuple[str, str], list[tuple[int, float]]] = {}
    try:
        images = build_images(workdir / "images")
        for run in range(args.repeat):
            for image, source in images.items():
                for name, registry in registries.items():  # interleaved: A, B, A, B
                    target = f"docker://{registry.host}/bench/{image}-{run}:v1"
                    out = workdir / f"pull-{name}-{image}-{run}"
                    with RssSampler(registry.process.pid) as rss:
                        seconds = skopeo("copy", "--dest-tls-verify=false", source, target)
                    samples.setdefault((image, "push", name), []).append((seconds, rss.peak))
                    with RssSampler(registry.process.pid) as rss:
                        seconds = skopeo("copy", "--src-tls-verify=false", target, f"oci:{out}:v1")
                    samples.setdefault((image, "pull", name), []).append((seconds, rss.peak))
                    shutil.rmtree(out, ignore_errors=True)
                out = workdir / f"alone-{image}-{run}"  # the client's own work: the same copy, no registry
                floors.setdefault(image, []).append(skopeo("copy", source, f"oci:{out}:v1"))
                shutil.rmtree(out, ignore_errors=True)
        for run in range(min(args.repeat, 3)):  # each registry's own time in a first pull, through a proxy
            for image, source in images.items():
                for name, registry in registries.items():
                    target, out = f"bench/{image}-timed-{run}:v1", workdir / f"timed-{name}-{image}-{run}"
                    skopeo("copy", "--dest-tls-verify=false", source, f"docker://{registry.host}/{target}")
                    with TimingProxy(registry.host) as proxy:
                        skopeo("copy", "--src-tls-verify=false", f"docker://{proxy.host}/{target}", f"oci:{out}:v1")
                        served.setdefault((image, name), []).append(proxy.take())
                    shutil.rmtree(out, ignore_errors=True)
    finally:
        dockyard.stop()
        distribution.stop()
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    version = subprocess.run(["docker-registry", "--version"], capture_output=True, text=True).stdout.split()[-1]
    skopeo_version = subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout.split()[-1]
    print("# Dockyard beside the reference registry\n")
    print(f"{environment()}; distribution {version} (Debian docker-registry, S3 driver, redirects on); "
          f"skopeo {skopeo_version}; both over one moto server (as `dockyard serve` embeds it, DynamoDB requests "
          f"in parallel); medians of {args.repeat} interleaved runs\n")
    print("| image | operation | Dockyard | distribution | ratio | skopeo alone | ratio of the time past skopeo's own "
          "| Dockyard peak RSS | distribution peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for image in ("small", "big", "many"):
        alone = statistics.median(floors[image])
        for operation in ("push", "pull"):
            ours = samples[(image, operation, "dockyard")]
            theirs = samples[(image, operation, "distribution")]
            t_ours = statistics.median(s for s, _ in ours)
            t_theirs = statistics.median(s for s, _ in theirs)
            past = f"{(t_ours - alone) / (t_theirs - alone):.2f}" if t_theirs > alone else "–"
            print(f"| {image} | {operation} | {t_ours:.2f} s | {t_theirs:.2f} s | {t_ours / t_theirs:.2f} | "
                  f"{alone:.2f} s | {past} | "
                  f"{max(r for _, r in ours) / 1024:.0f} MiB | {max(r for _, r in theirs) / 1024:.0f} MiB |")
    print("\nsmall: 3 layers of 20 KB; big: 100 MiB incompressible + 3 × 50 KB; many: 30 × 100 KB. Commands: "
          "`skopeo copy --dest-tls-verify=false oci:… docker://HOST/bench/IMAGE-RUN:v1`, then back to `oci:`. "
          "'skopeo alone': `skopeo copy oci:… oci:…`, the same image with no registry (reading, hashing and "
          "writing it): the part of a push or pull that no registry can shorten.")
    print(f"\n## The registries' own time in a pull (medians of {min(args.repeat, 3)} first pulls through a timing "
          "proxy)\n")
    print("| image | requests | Dockyard | distribution | ratio | best pull ratio any registry could reach |")
    print("| --- | --- | --- | --- | --- | --- |")
    for image in ("small", "big", "many"):
        ours, theirs = served[(image, "dockyard")], served[(image, "distribution")]
        r_ours, r_theirs = (statistics.median(s for _, s in side) for side in (ours, theirs))
        pull = statistics.median(s for s, _ in samples[(image, "pull", "distribution")])
        counts = " / ".join(f"{statistics.median(n for n, _ in side):.0f}" for side in (ours, theirs))
        print(f"| {image} | {counts} "
              f"| {r_ours * 1000:.1f} ms | {r_theirs * 1000:.1f} ms | {r_ours / r_theirs:.2f} "
              f"| {max(0.0, pull - r_theirs) / pull:.2f} |")
    print("\nThe time from each request's first byte to its answer's last byte, summed over the pull's requests to "
          "the registry (Dockyard / distribution in 'requests'); the S3 downloads they redirect to are not in it. "
          "'Best pull ratio': distribution's pull time less all of its own time, over its pull time: what a "
          "registry answering in no time at all would reach beside it (a bound, since parallel requests overlap).")


if __name__ == "__main__":
    main()
