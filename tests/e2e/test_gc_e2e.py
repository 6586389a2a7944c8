"""Retention and garbage collection end to end: skopeo pushes, `dockyard retention` and `dockyard gc` against
`dockyard serve`, S3 objects counted in S3 itself, and every remaining tag pulled back byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.gc import run_gc
from tests.support.oci import OCI_MANIFEST, Layout, random_layer, sha256
from tests.support.processes import layout_manifest, skopeo, verify_layout

pytestmark = pytest.mark.e2e


def dockyard(server, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", *args, "--registry", server.url],
                            capture_output=True, text=True, timeout=300, env={**os.environ})
    assert result.returncode == 0, result.stderr
    return result.stdout


def next_second() -> None:
    """Pushes in separate seconds: push times are kept in seconds."""
    time.sleep(1.02 - time.time() % 1)


def push_referrer(server, repo: str, layout: Layout, artifact_type: str, data: bytes, subject: dict) -> str:
    """What cosign or oras do to attach a signature or an SBOM: blobs, then the manifest by digest."""
    desc, manifest = layout.artifact(artifact_type, [data], subject={k: subject[k] for k in ("mediaType", "digest",
                                                                                             "size")})
    with httpx.Client(base_url=server.url) as client:
        for blob in (b"{}", data):
            assert client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(blob)},
                               content=blob).status_code == 201
        assert client.put(f"/v2/{repo}/manifests/{desc['digest']}", content=manifest,
                          headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    return desc["digest"]


def s3_objects(server) -> set[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1")
    return {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix="blobs/")
            for o in page.get("Contents", [])}


def holds(objects: set[str], digest: str) -> bool:
    """Whether S3 keeps the bytes of `digest` (blob keys name their digest, then a nonce)."""
    return any(f"/{digest.split(':')[1]}/" in key or key.endswith(digest.split(":")[1]) for key in objects)


def test_keep_newest_two_then_gc_deletes_exactly_what_the_dry_run_predicted(server, backend_args, tmp_path):
    server.endpoint, server.bucket = backend_args[1], backend_args[3]
    base = [random_layer(40_000, "base1"), random_layer(30_000, "base2")]
    layout = Layout(tmp_path / "src")
    unique: dict[str, list[str]] = {}
    descs: dict[str, dict] = {}
    for n in range(1, 6):
        next_second()
        if n in (2, 4):  # a multi-arch index, its platform images each with a layer of their own
            images = []
            for arch in ("amd64", "arm64"):
                own = random_layer(20_000, f"{arch}{n}")
                images.append(layout.image([*base, own], arch=arch)[0])
                unique.setdefault(f"v{n}", []).append(sha256(own[0]))
            desc, _ = layout.multi_arch(images)
            layout.tag(desc, f"v{n}")
            skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout.root}:v{n}",
                   f"docker://{server.host}/team/app:v{n}")
        else:
            own = random_layer(25_000, f"own{n}")
            desc, _ = layout.image([*base, own])
            layout.tag(desc, f"v{n}")
            skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.root}:v{n}", f"docker://{server.host}/team/app:v{n}")
            unique[f"v{n}"] = [sha256(own[0])]
        descs[f"v{n}"] = desc
    other = Layout(tmp_path / "other")
    other_desc, _ = other.image([*base, random_layer(25_000, "other")])
    other.tag(other_desc, "v1")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{other.root}:v1", f"docker://{server.host}/team/other:v1")
    referrers = {}
    for tag in ("v1", "v5"):
        signature, sbom = f"signature of {tag}".encode() * 40, f'{{"spdx": "{tag}"}}'.encode() * 40
        referrers[tag] = [push_referrer(server, "team/app", layout, "application/vnd.dev.cosign.signature",
                                        signature, descs[tag]),
                          push_referrer(server, "team/app", layout, "application/spdx+json", sbom, descs[tag])]
        unique[f"{tag}-referrers"] = [sha256(signature), sha256(sbom)]

    dockyard(server, "retention", "set", "team/app", "--keep-last", "2")
    predicted = json.loads(dockyard(server, "gc", "--dry-run", "--grace", "0s", "--json"))
    before = s3_objects(server)
    done = json.loads(dockyard(server, "gc", "--grace", "0s", "--json"))

    def what(run):
        return sorted((e["action"], e.get("repository"), e.get("digest"), e.get("tag"), e["reason"])
                      for e in run["deletions"])

    assert what(predicted) == what(done) and predicted["run"]["counts"] == done["run"]["counts"]
    counts = done["run"]["counts"]
    after = s3_objects(server)
    assert len(before - after) == counts["deleted_blobs"] + counts["deleted_dropped"] and not after - before
    # Three tags are gone, with everything only they used: the index's platform manifests and v1's referrers.
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{server.host}/team/app"))["Tags"]
    assert sorted(tags) == ["v4", "v5"]
    deleted = {e["digest"] for e in done["deletions"] if e["action"] == "delete_manifest"}
    assert {descs[t]["digest"] for t in ("v1", "v2", "v3")} | set(referrers["v1"]) <= deleted
    assert counts["deleted_manifests"] == 3 + 2 + 2  # three tags, v2's two platform images, v1's referrers
    for gone in [*unique["v1"], *unique["v2"], *unique["v3"], *unique["v1-referrers"]]:
        assert not holds(after, gone), gone
    for kept in [*unique["v4"], *unique["v5"], *unique["v5-referrers"], *(sha256(c) for c, _ in base)]:
        assert holds(after, kept), kept
    # Every remaining tag of both repositories pulls byte for byte; v5's referrers are still listed.
    for repo, tag, source, extra in (("team/app", "v4", layout, ["--all"]), ("team/app", "v5", layout, []),
                                     ("team/other", "v1", other, [])):
        out = tmp_path / f"pulled-{repo.replace('/', '-')}-{tag}"
        skopeo("copy", "--src-tls-verify=false", *extra, f"docker://{server.host}/{repo}:{tag}", f"oci:{out}:{tag}")
        pulled = verify_layout(out)
        assert layout_manifest(out, tag)["digest"] == layout_manifest(source.root, tag)["digest"]
        assert pulled[layout_manifest(out, tag)["digest"]] == (source.root / "blobs" / "sha256" /
                                                               layout_manifest(out, tag)["digest"][7:]).read_bytes()
    listed = httpx.get(f"{server.url}/v2/team/app/referrers/{descs['v5']['digest']}").json()["manifests"]
    assert sorted(d["digest"] for d in listed) == sorted(referrers["v5"])
    again = json.loads(dockyard(server, "gc", "--grace", "0s", "--json"))
    assert again["deletions"] == []


def test_gc_in_a_loop_while_pushes_reuse_the_blobs_it_collects_never_breaks_a_tag(server, tmp_path):
    """Three clients each push six images sharing three base layers into a repository of their own, deleting
    two of every three right after, then pausing about the grace period (so the base layers' links keep
    dropping to no reference, and GC, looping with a grace of twice what a push takes here, collects them
    around the time the next push HEADs and reuses them). A push may fail (a layer collected between its HEAD
    and its PUT) and is retried, as a CI job would; no tag may end up resolving but not pulling. Every kept
    tag then pulls byte for byte with skopeo, before and after a final run."""
    import random
    import threading

    base = [random_layer(30_000, f"base{i}") for i in range(3)]
    warm = Layout(tmp_path / "warm")
    warm.tag(warm.image([random_layer(30_000, f"warm{i}") for i in range(4)])[0], "w")
    started = time.monotonic()
    skopeo("copy", "--dest-tls-verify=false", f"oci:{warm.root}:w", f"docker://{server.host}/race/warm:w")
    grace = max(2, round(2 * (time.monotonic() - started)))  # this machine's push time, twice
    stop, runs, failed_runs, failed_pushes = threading.Event(), [], [], []
    collected = {"deleted_links": 0, "deleted_blobs": 0}

    def gc_loop() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not stop.is_set():
                started = client.post("/dockyard/v1/gc", json={"grace": grace})
                if started.status_code != 202:
                    continue
                run_id = started.json()["run"]["id"]
                while (run := client.get(f"/dockyard/v1/gc/runs/{run_id}").json()["run"])["state"] == "running":
                    time.sleep(0.05)
                if run["state"] != "done":  # a backend too slow for its timeouts: the next run goes on
                    failed_runs.append(run["error"])
                    continue
                runs.append(run)
                for count in collected:
                    collected[count] += run["counts"][count]

    def client(n: int) -> list[tuple[str, Layout]]:
        layout, repo, kept, pauses = Layout(tmp_path / f"client{n}"), f"race/app{n}", [], random.Random(n)
        for i in range(6):
            desc, _ = layout.image([*base, random_layer(2_000, f"own{n}-{i}")])
            layout.tag(desc, f"t{i}")
            for attempt in range(5):
                try:
                    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.root}:t{i}",
                           f"docker://{server.host}/{repo}:t{i}")
                    break
                except AssertionError as failure:  # a layer collected meanwhile (or a 503 on a slow machine)
                    assert attempt < 4, failure
                    failed_pushes.append((repo, i, str(failure)[-300:]))
            if i % 3 == 2:
                kept.append((f"{repo}:t{i}", layout))
            else:
                assert httpx.delete(f"{server.url}/v2/{repo}/manifests/{desc['digest']}").status_code == 202
                time.sleep(pauses.uniform(grace / 2, grace * 1.5))
        return kept

    collector = threading.Thread(target=gc_loop, daemon=True)
    collector.start()
    results: dict[int, list] = {}
    clients = [threading.Thread(target=lambda n=n: results.__setitem__(n, client(n))) for n in range(3)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(600)
    stop.set()
    collector.join(120)
    assert len(results) == 3, "a client failed"
    kept = [k for n in sorted(results) for k in results[n]]
    assert len(kept) == 6 and len(runs) >= 3 and collected["deleted_links"] > 0, (len(runs), collected)

    def pull_all(round_: str) -> None:
        for reference, layout in kept:
            tag = reference.rsplit(":", 1)[1]
            out = tmp_path / f"pulled-{round_}-{reference.replace('/', '-').replace(':', '-')}"
            skopeo("copy", "--src-tls-verify=false", f"docker://{server.host}/{reference}", f"oci:{out}:{tag}")
            pulled = verify_layout(out)
            digest = layout_manifest(out, tag)["digest"]
            assert digest == layout_manifest(layout.root, tag)["digest"]
            assert pulled[digest] == (layout.root / "blobs" / "sha256" / digest[7:]).read_bytes()

    pull_all("during")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        final = run_gc(http)
    assert final["counts"]["deleted_manifests"] == 0
    pull_all("after")
    print(f"race: grace {grace} s, {len(runs)} GC runs ({len(failed_runs)} failed) during 18 pushes "
          f"({len(failed_pushes)} retried), collected {collected}")
