"""Build OCI image layouts on disk, the way the tests' clients (skopeo, oras) read them.

Layers are real gzip-compressed tar archives, configs are real image configs, so that clients which
convert formats (`skopeo copy --format v2s2`) see consistent images.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def layer_tar(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(gzip-compressed layer, uncompressed tar) holding `files`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 0, 0o644
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, compresslevel=1, mtime=0), tar_bytes


def random_layer(size: int, name: str = "data.bin") -> tuple[bytes, bytes]:
    """A layer holding `size` incompressible bytes."""
    return layer_tar({name: os.urandom(size)})


@dataclass
class Layout:
    """An OCI image layout directory being written."""

    root: Path
    index: list[dict] = field(default_factory=list)

    def __post_init__(self):
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(self, data: bytes) -> str:
        digest = sha256(data)
        (self.root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
        return digest

    def image(self, layers: list[tuple[bytes, bytes]], arch: str = "amd64", **manifest_extra) -> tuple[dict, bytes]:
        """Write an image; returns (descriptor, manifest bytes)."""
        config = json.dumps({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar) for _, tar in layers]},
            "config": {"Cmd": ["/bin/sh"]},
        }).encode()
        self.blob(config)
        for compressed, _ in layers:
            self.blob(compressed)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER, c) for c, _ in layers],
            **manifest_extra,
        }).encode()
        self.blob(manifest)
        return descriptor(OCI_MANIFEST, manifest, platform={"architecture": arch, "os": "linux"}), manifest

    def artifact(self, artifact_type: str, files: list[bytes], subject: dict | None = None,
                 annotations: dict | None = None) -> tuple[dict, bytes]:
        """An OCI 1.1 artifact: empty config, `artifactType`, optional `subject`."""
        empty = b"{}"
        self.blob(empty)
        for f in files:
            self.blob(f)
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": descriptor(EMPTY_CONFIG, empty),
                "layers": [descriptor("application/octet-stream", f) for f in files]}
        if subject:
            body["subject"] = subject
        if annotations:
            body["annotations"] = annotations
        manifest = json.dumps(body).encode()
        self.blob(manifest)
        return descriptor(OCI_MANIFEST, manifest, artifactType=artifact_type), manifest

    def multi_arch(self, images: list[dict]) -> tuple[dict, bytes]:
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": images}).encode()
        self.blob(index)
        return descriptor(OCI_INDEX, index), index

    def tag(self, desc: dict, tag: str) -> None:
        entry = {k: v for k, v in desc.items() if k in ("mediaType", "digest", "size")}
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.index.append(entry)
        (self.root / "index.json").write_text(json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.index}))
