"""Request rate of the small requests a pull makes: Dockyard (`dockyard serve`) beside CNCF distribution
(Debian's `docker-registry`, S3 driver, redirects on), both over the same moto server, `wrk` as the client.

    python benchmarks/request_rate.py [--duration 3] [--repeat 3]

Each row is one request, repeated by `wrk` (one thread, c open connections) for `--duration` seconds;
runs alternate between the two registries (Dockyard, distribution, Dockyard, ...), and the table gives
medians, the spread (min-max) of the request rate, and the ratio Dockyard/distribution.

The token row needs access control on both sides, so it runs against a second pair of servers:
`dockyard serve --auth` answering `GET /token` with Basic credentials (a key check, one DynamoDB read,
a signed JWT), beside distribution with `htpasswd` auth answering `GET /v2/` with the same kind of
credentials (its check of a client's secret: bcrypt at `htpasswd -B`'s default cost, 5). Distribution
issues no tokens of its own; this is the request in which it authenticates a client.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import FAKE_ENV, MotoServer, environment, start_server
from compare import Distribution, skopeo
from tests.support.oci import OCI_MANIFEST, Layout, layer_tar

ADMIN_KEY, ADMIN_SECRET = "bench-admin", "dys_" + "b" * 43
HTPASSWD_USER, HTPASSWD_SECRET = "bench", "bench-secret"


@dataclass(frozen=True)
class Row:
    label: str
    method: str
    path: str  # formatted with the image's digests: {blob}, {repo}
    headers: tuple[tuple[str, str], ...] = ()
    auth: bool = False  # against the servers with access control on


def rows(basic: str) -> list[Row]:
    accept = (("Accept", OCI_MANIFEST),)
    return [
        Row("blob GET (307)", "GET", "/v2/{repo}/blobs/{blob}"),
        Row("blob HEAD", "HEAD", "/v2/{repo}/blobs/{blob}"),
        Row("`GET /v2/`", "GET", "/v2/"),
        Row("manifest GET by tag", "GET", "/v2/{repo}/manifests/v1", accept),
        Row("token (Basic)", "GET", "/token?service=dockyard&scope=repository:{repo}:pull",
            (("Authorization", basic),), auth=True),
    ]


def load(url: str, method: str, headers: tuple[tuple[str, str], ...], connections: int, duration: float,
         workdir: Path) -> tuple[float, float]:
    """(requests per second, p50 latency in ms); raises if any answer was not 2xx or 3xx. `wrk` waits for
    the body a HEAD answer announces in its Content-Length (and so hangs), so HEAD goes through `hey`."""
    if method == "HEAD":
        return hey(url, method, headers, connections, duration)
    script = workdir / f"{method.lower()}.lua"
    script.write_text(f'wrk.method = "{method}"\n')
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script)]
    for name, value in headers:
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failures on {method} {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)", out).groups()
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def hey(url: str, method: str, headers: tuple[tuple[str, str], ...], connections: int,
        duration: float) -> tuple[float, float]:
    command = ["hey", "-m", method, "-c", str(connections), "-z", f"{duration:g}s"]
    for name, value in headers:
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    statuses = re.findall(r"\[(\d{3})\]\s+\d+ responses", out)
    if not statuses or any(not 200 <= int(s) < 400 for s in statuses) or "Error distribution" in out:
        raise RuntimeError(f"hey saw failures on {method} {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rate, float(re.search(r"50% in ([\d.]+) secs", out).group(1)) * 1000


def small_image(root: Path) -> tuple[str, str]:
    """The small image of compare.py (three layers of 20 KB); returns (skopeo source, a layer's digest)."""
    layout = Layout(root)
    layers = [layer_tar({f"f{i}": os.urandom(20_000)}) for i in range(3)]
    desc, _ = layout.image(layers)
    layout.tag(desc, "v1")
    return f"oci:{root}:v1", "sha256:" + __import__("hashlib").sha256(layers[0][0]).hexdigest()


def htpasswd_file(workdir: Path) -> Path:
    line = subprocess.run(["htpasswd", "-nbB", HTPASSWD_USER, HTPASSWD_SECRET], capture_output=True, text=True,
                          check=True).stdout.strip()
    path = workdir / "htpasswd"
    path.write_text(line + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    moto = MotoServer()
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-rate-"))
    servers = []
    try:
        source, blob = small_image(workdir / "small")
        dockyard = start_server(moto, "rate-dockyard")
        servers.append(dockyard)
        dockyard_auth = start_server(moto, "rate-dockyard-auth", "--auth", env={
            "DOCKYARD_ADMIN_KEY_ID": ADMIN_KEY, "DOCKYARD_ADMIN_SECRET": ADMIN_SECRET})
        servers.append(dockyard_auth)
        distribution = Distribution(moto, workdir, "rate-distribution")
        servers.append(distribution)
        distribution_auth = Distribution(moto, workdir, "rate-distribution-auth", htpasswd=htpasswd_file(workdir))
        servers.append(distribution_auth)
        repo = "bench/small"
        for registry in (dockyard, distribution):
            skopeo("copy", "--dest-tls-verify=false", source, f"docker://{registry.host}/{repo}:v1")
        credentials = {
            "dockyard": "Basic " + base64.b64encode(f"{ADMIN_KEY}:{ADMIN_SECRET}".encode()).decode(),
            "distribution": "Basic " + base64.b64encode(f"{HTPASSWD_USER}:{HTPASSWD_SECRET}".encode()).decode(),
        }
        plan = rows(credentials["dockyard"])
        samples: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
        for row in plan:
            for name, registry in (("dockyard", dockyard_auth if row.auth else dockyard),
                                   ("distribution", distribution_auth if row.auth else distribution)):
                url, headers = target(row, name, registry, repo, blob, credentials)
                load(url, row.method, headers, 2, 1, workdir)  # warm up: caches, connection pools
        for _ in range(args.repeat):
            for row in plan:
                for connections in args.connections:
                    for name, registry in (("dockyard", dockyard_auth if row.auth else dockyard),
                                           ("distribution", distribution_auth if row.auth else distribution)):
                        url, headers = target(row, name, registry, repo, blob, credentials)
                        samples.setdefault((row.label, connections, name), []).append(
                            load(url, row.method, headers, connections, args.duration, workdir))
    finally:
        for server in servers:
            server.stop()
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(plan, samples, args)


def target(row: Row, name: str, registry, repo: str, blob: str, credentials: dict):
    if row.auth and name == "distribution":
        return registry.url + "/v2/", (("Authorization", credentials["distribution"]),)
    return registry.url + row.path.format(repo=repo, blob=blob), row.headers


def report(plan: list[Row], samples: dict, args) -> None:
    version = subprocess.run(["docker-registry", "--version"], capture_output=True, text=True).stdout.split()[-1]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    hey_version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "hey"], capture_output=True,
                                 text=True).stdout or "?"
    print("# Request rate: the requests a pull makes\n")
    print(f"{environment()}; distribution {version} (Debian docker-registry, S3 driver, redirects on); "
          f"wrk {wrk_version} (1 thread) and, for HEAD, hey {hey_version}; {args.duration:g} s per run, c = open "
          f"connections; both over one moto "
          f"server; medians of {args.repeat} interleaved runs, spread min-max\n")
    print("| request | c | distribution | Dockyard | Dockyard / distribution |")
    print("| --- | --- | --- | --- | --- |")
    for row in plan:
        for connections in args.connections:
            ours = samples[(row.label, connections, "dockyard")]
            theirs = samples[(row.label, connections, "distribution")]
            r_ours, r_theirs = statistics.median(r for r, _ in ours), statistics.median(r for r, _ in theirs)
            print(f"| {row.label} | {connections} | {_cell(theirs)} | {_cell(ours)} | **{r_ours / r_theirs:.2f}** |")
    print("\nDockyard: `dockyard serve` (one process), access control off, except the token row (`--auth`). "
          "Token row: Dockyard's `GET /token` with Basic credentials beside distribution's `GET /v2/` with "
          "Basic credentials against `htpasswd` (bcrypt, cost 5): the request in which each checks a "
          "client's secret. Manifests are requested with `Accept: " + OCI_MANIFEST + "`.")


def _cell(samples: list[tuple[float, float]]) -> str:
    rates = [r for r, _ in samples]
    p50 = statistics.median(p for _, p in samples)
    spread = f" ({min(rates):.0f}-{max(rates):.0f})" if len(rates) > 1 else ""
    return f"{statistics.median(rates):.0f} req/s{spread}, p50 {p50:.2f} ms"


if __name__ == "__main__":
    main()
