"""Pushing a large layer past the Lambda cap: `dockyard push` and `dockyard gateway` against
`dockyard serve --lambda-limits`, beside a plain skopeo push to an uncapped `dockyard serve`.

    python benchmarks/direct_push.py [--size-mib 1024]

Reports wall time; the request bytes that reached the registry's port and the bytes read back from S3
(moto's port), both counted by iptables rules on loopback (root only; "n/a" otherwise); and the peak RSS
of the registry, of `dockyard push` and of the gateway. moto runs in its own process.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from common import ROOT, MotoServer, RssSampler, environment, start_server
from tests.support.oci import Layout, layer_tar
from tests.support.processes import SKOPEO_BLOB_CACHE, free_port

MIB = 1024 * 1024


class PortCounter:
    """Bytes received on loopback for a TCP port (`dport`: sent to it; `sport`: sent from it), via iptables."""

    def __init__(self, option: str, port: int):
        self.rule = ["INPUT", "-i", "lo", "-p", "tcp", option, str(port), "-m", "comment", "--comment",
                     f"dockyard-bench-{option[2:]}-{port}", "-j", "ACCEPT"]
        self.ok = subprocess.run(["iptables", "-I", *self.rule], capture_output=True).returncode == 0

    def read(self) -> int | None:
        if not self.ok:
            return None
        listing = subprocess.run(["iptables", "-nvxL", "INPUT"], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            if self.rule[10] in line:
                return int(line.split()[1])
        return None

    def remove(self) -> None:
        if self.ok:
            subprocess.run(["iptables", "-D", *self.rule], capture_output=True)


def mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / MIB:.1f} MiB"


def big_layout(root: Path, size: int) -> str:
    """An image with one incompressible layer of about `size` bytes: a real tar+gzip (gzip level 0, so it
    is valid and stays incompressible), written to disk as it is made, never held in memory."""
    root.mkdir(parents=True, exist_ok=True)
    blob = root / "layer.tar.gz"
    with gzip.GzipFile(blob, "wb", compresslevel=0, mtime=0) as gz, tarfile.open(fileobj=gz, mode="w|") as tar:
        info = tarfile.TarInfo("data.bin")
        info.size = size
        tar.addfile(info, _Random(size))
    h, diff = hashlib.sha256(), hashlib.sha256()
    with blob.open("rb") as f:
        while chunk := f.read(8 * MIB):
            h.update(chunk)
    with gzip.open(blob, "rb") as f:
        while chunk := f.read(8 * MIB):
            diff.update(chunk)
    layout = Layout(root / "oci")
    digest = "sha256:" + h.hexdigest()
    target = root / "oci" / "blobs" / "sha256" / digest[7:]
    blob.rename(target)
    small, small_tar = layer_tar({"etc/hello": b"hello\n"})
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(small_tar).hexdigest(), "sha256:" + diff.hexdigest()]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": layout.blob(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": layout.blob(small), "size": len(small)},
                                      {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": digest, "size": target.stat().st_size}]}).encode()
    layout.tag({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": layout.blob(manifest),
                "size": len(manifest)}, "v1")
    return f"oci:{root / 'oci'}:v1"


class _Random(io.RawIOBase):
    """`size` random bytes."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = os.urandom(n)
        self.left -= n
        return n


def timed(command: list[str]) -> tuple[float, int]:
    """Run a command; (seconds, its peak RSS in KiB, from the kernel's accounting at exit)."""
    if SKOPEO_BLOB_CACHE.exists():
        SKOPEO_BLOB_CACHE.unlink()
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{command[:3]} failed: {err.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    moto = MotoServer()
    # One registry (bucket and table) per path, so that no push finds the layer already stored.
    capped = start_server(moto, "bench-capped", "--lambda-limits")
    behind_gateway = start_server(moto, "bench-gateway", "--lambda-limits")
    plain = start_server(moto, "bench-plain")
    gateway_port = free_port()
    gateway = subprocess.Popen([sys.executable, "-m", "dockyard.cli", "gateway", "--registry", behind_gateway.url,
                                "--port", str(gateway_port), "--log-level", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = big_layout(Path(tmp), args.size_mib * MIB)
            time.sleep(1)
            runs = [
                ("skopeo push, uncapped `dockyard serve`", plain,
                 ["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", source,
                  f"docker://{plain.host}/bench/skopeo:v1"], None),
                ("`dockyard push`, `--lambda-limits`", capped,
                 [sys.executable, "-m", "dockyard.cli", "push", source, f"{capped.host}/bench/direct:v1"], "client"),
                ("skopeo push through `dockyard gateway`, `--lambda-limits`", behind_gateway,
                 ["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", source,
                  f"docker://127.0.0.1:{gateway_port}/bench/gateway:v1"], "gateway"),
            ]
            for label, server, command, measured in runs:
                into_registry, from_s3 = PortCounter("--dport", server.port), PortCounter("--sport", moto.port)
                try:
                    with RssSampler(server.process.pid) as registry_rss, RssSampler(gateway.pid) as gateway_rss:
                        seconds, client_rss = timed(command)
                    through, read_back = into_registry.read(), from_s3.read()
                finally:
                    into_registry.remove()
                    from_s3.remove()
                extra = {"client": f"`dockyard push` {client_rss / 1024:.0f} MiB",
                         "gateway": f"gateway {gateway_rss.peak / 1024:.0f} MiB"}.get(measured, "")
                rows.append((label, seconds, through, read_back, registry_rss.peak, extra))
    finally:
        gateway.terminate()
        capped.stop()
        behind_gateway.stop()
        plain.stop()
        moto.stop()
    print(f"# Pushing a {args.size_mib} MiB layer past the Lambda payload cap\n")
    print(f"{environment()}; skopeo {subprocess.run(['skopeo', '--version'], capture_output=True, text=True).stdout.split()[-1]}\n")
    print("| push | wall time | bytes sent to the registry | bytes read back from S3 | registry peak RSS "
          "| client-side peak RSS |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, seconds, through, read_back, rss, extra in rows:
        print(f"| {label} | {seconds:.1f} s | {mib(through)} | {mib(read_back)} | {rss / 1024:.0f} MiB | {extra} |")
    print("\n'Bytes sent to the registry' is all that reached the registry's port (what a Lambda front door would "
          "carry). 'Read back from S3' is what came out of moto's port, mostly the registry re-hashing: on moto, "
          "S3 returns no SHA-256 for a single PUT, so completion re-hashes the object; on AWS it compares S3's own "
          "checksum and reads nothing (tests/api/test_direct_api.py, botocore Stubber).")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
