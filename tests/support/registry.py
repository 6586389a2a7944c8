"""Small protocol helpers for API tests: push blobs and manifests the way clients do."""

from __future__ import annotations

import hashlib
import json

from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, sha256


def push_blob(client, name: str, data: bytes) -> str:
    digest = sha256(data)
    response = client.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    return digest


def image_manifest(config: bytes, layers: list[bytes], **extra) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": descriptor(OCI_CONFIG, config),
                       "layers": [descriptor(OCI_LAYER, layer) for layer in layers], **extra}).encode()


def image_config(tag: str) -> bytes:
    """The config blob `push_image` pushes for `tag`."""
    return json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()


def push_image(client, name: str, tag: str, layers: list[bytes] | None = None, **extra) -> tuple[str, bytes]:
    """Push config, layers and manifest; returns (manifest digest, manifest bytes)."""
    config = image_config(tag)
    layers = layers if layers is not None else [hashlib.sha256(tag.encode()).digest() * 10]
    for blob in [config, *layers]:
        push_blob(client, name, blob)
    manifest = image_manifest(config, layers, **extra)
    response = client.put(f"/v2/{name}/manifests/{tag}", content=manifest,
                          headers={"Content-Type": OCI_MANIFEST})
    assert response.status_code == 201, response.text
    return sha256(manifest), manifest


def error_code(response) -> str:
    return response.json()["errors"][0]["code"]
