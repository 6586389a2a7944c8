"""Push realistic content through the registry API (in-process clients): an image with a full config, a
multi-platform index, and referrers (an SBOM and its signature)."""

from __future__ import annotations

import json

from tests.support.oci import EMPTY_CONFIG, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, descriptor, sha256
from tests.support.registry import push_blob

CONFIG = {
    "created": "2026-11-30T10:00:00Z", "author": "Dockyard Tests <tests@example.test>",
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/local/bin:/usr/bin", "APP_MODE=production"], "Entrypoint": ["/app/server"],
               "Cmd": ["--port", "8080"], "WorkingDir": "/app", "User": "app", "ExposedPorts": {"8080/tcp": {}},
               "Labels": {"org.opencontainers.image.source": "https://example.test/app", "team": "platform"}},
    "rootfs": {"type": "layers", "diff_ids": []},
    "history": [{"created": "2026-11-30T09:59:00Z", "created_by": "ADD rootfs.tar /"},
                {"created": "2026-11-30T10:00:00Z", "created_by": "COPY server /app/server"},
                {"created": "2026-11-30T10:00:00Z", "created_by": "EXPOSE 8080", "empty_layer": True}],
}


def put_manifest(client, repo: str, reference: str, body: dict, headers: dict | None = None) -> str:
    raw = json.dumps(body).encode()
    response = client.put(f"/v2/{repo}/manifests/{reference}", content=raw,
                          headers={"Content-Type": body["mediaType"], **(headers or {})})
    assert response.status_code == 201, response.text
    return sha256(raw)


def push_full_image(client, repo: str, tag: str | None, arch: str = "amd64", layers=(b"L" * 3000, b"M" * 700),
                    headers: dict | None = None) -> str:
    """An image whose config has every field the page shows; returns its manifest digest."""
    config = json.dumps({**CONFIG, "architecture": arch}).encode()
    for blob in (config, *layers):
        push_blob_with(client, repo, blob, headers)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                "layers": [descriptor(OCI_LAYER, layer) for layer in layers]}
    raw = json.dumps(manifest).encode()
    reference = tag or sha256(raw)
    response = client.put(f"/v2/{repo}/manifests/{reference}", content=raw,
                          headers={"Content-Type": OCI_MANIFEST, **(headers or {})})
    assert response.status_code == 201, response.text
    return sha256(raw)


def push_blob_with(client, repo: str, data: bytes, headers: dict | None) -> str:
    if not headers:
        return push_blob(client, repo, data)
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(data)}, content=data,
                           headers=headers)
    assert response.status_code == 201, response.text
    return sha256(data)


def push_index(client, repo: str, tag: str, headers: dict | None = None) -> tuple[str, list[str]]:
    """A two-platform index (linux/amd64, linux/arm64); returns (index digest, child digests)."""
    children = [push_full_image(client, repo, None, arch, (arch.encode() * 500,), headers)
                for arch in ("amd64", "arm64")]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": children[0], "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": children[1], "size": 1,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}
    return put_manifest(client, repo, tag, index, headers), children


def push_referrer(client, repo: str, subject: str, artifact_type: str, headers: dict | None = None) -> str:
    """An artifact manifest whose subject is `subject` (an SBOM, a signature)."""
    empty, payload = b"{}", artifact_type.encode() * 10
    for blob in (empty, payload):
        push_blob_with(client, repo, blob, headers)
    body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": descriptor(EMPTY_CONFIG, empty), "layers": [descriptor("application/octet-stream", payload)],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
            "annotations": {"org.opencontainers.image.created": "2026-11-30T11:00:00Z"}}
    return put_manifest(client, repo, sha256(json.dumps(body).encode()), body, headers)
