"""Driving garbage collection and retention through the admin API, as the CLI does."""

from __future__ import annotations

import time


def run_gc(client, dry_run: bool = False, grace: int = 0, headers: dict | None = None, timeout: float = 120) -> dict:
    """Start a run, wait for it to finish; returns the run with its whole report under `entries`."""
    response = client.post("/dockyard/v1/gc", json={"dry_run": dry_run, "grace": grace}, headers=headers or {})
    assert response.status_code == 202, response.text
    run_id = response.json()["run"]["id"]
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/dockyard/v1/gc/runs/{run_id}", headers=headers or {}).json()["run"]
        if run["state"] != "running":
            break
        assert time.monotonic() < deadline, f"run {run_id} did not finish: {run}"
        time.sleep(0.1)
    assert run["state"] == "done", run
    run["entries"] = [entry for part in range(run["report_parts"]) for entry in
                      client.get(f"/dockyard/v1/gc/runs/{run_id}/report", params={"part": part},
                                 headers=headers or {}).json()["entries"]]
    return run


def s3_keys(registry, prefix: str = "blobs/") -> set[str]:
    """The objects under `prefix`, as S3 itself lists them."""
    s3, bucket = registry.storage.objects.client, registry.storage.objects.bucket
    return {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])}


def pull_blob(client, repo: str, digest: str) -> bytes | None:
    """A blob's bytes as a client gets them (the redirect followed to S3, or the instance's own answer for a
    small blob it was asked for before); None if it is not there."""
    import httpx

    response = client.get(f"/v2/{repo}/blobs/{digest}", follow_redirects=False)
    if response.status_code == 200:
        return response.content
    if response.status_code != 307:
        return None
    fetched = httpx.get(response.headers["location"], timeout=30)
    return fetched.content if fetched.status_code == 200 else None
