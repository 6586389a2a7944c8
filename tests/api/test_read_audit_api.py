"""Read auditing, behind an option: one audit line per manifest GET (a pull), none for HEADs or blobs."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from dockyard.app import create_app
from dockyard.audit import classify
from dockyard.factory import build_registry
from tests.support.audit import audit_lines
from tests.support.registry import push_image


@pytest.mark.parametrize("audit_reads", [True, False])
def test_a_pull_is_audited_when_reads_are(settings, audit_reads):
    configured = dataclasses.replace(settings, audit_reads=audit_reads)
    with TestClient(create_app(configured, build_registry(configured))) as client:
        digest, _ = push_image(client, "team/app", "v1")
        with audit_lines() as lines:
            assert client.get("/v2/team/app/manifests/v1", headers={"X-Forwarded-For": "198.51.100.9"}) \
                .status_code == 200
            assert client.head("/v2/team/app/manifests/v1").status_code == 200
            assert client.get(f"/v2/team/app/manifests/{digest}").status_code == 200
            assert client.get("/v2/team/app/manifests/missing").status_code == 404
            assert client.get("/v2/team/app/tags/list").status_code == 200
    pulls = [line for line in lines if line["event"] == "manifest.pull"]
    if not audit_reads:
        assert pulls == []
        return
    assert [(p["repository"], p["reference"], p["digest"]) for p in pulls] == [
        ("team/app", "v1", digest), ("team/app", digest, digest)]
    assert pulls[0]["forwarded_for"] == "198.51.100.9" and pulls[0]["who"] and pulls[0]["result"] == "ok"


def test_only_manifest_gets_are_pulls():
    from dockyard.api import blobs, manifests

    reference = {"name": "a", "reference": "v1"}
    assert classify(manifests.get_manifest, reference, "", 200, True, reads=True)["event"] == "manifest.pull"
    assert classify(manifests.check_manifest, reference, "", 200, True, reads=True) is None
    assert classify(blobs.get_blob, {"name": "a", "digest": "sha256:" + "b" * 64}, "", 307, True, reads=True) is None
    assert classify(manifests.get_manifest, reference, "", 200, True) is None
    assert classify(manifests.get_manifest, reference, "", 404, True, reads=True) is None
