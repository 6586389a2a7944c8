"""What the pull-through cache's end-to-end tests share: test images, seeding an upstream with skopeo,
a backend of its own for each `dockyard serve`, and the `dockyard` CLI as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.support.oci import Layout, layer_tar, random_layer
from tests.support.processes import skopeo

HUB_ADMIN = ("dyk_hubadmin", "dys_" + "h" * 43)


def backend(moto_endpoint) -> list[str]:
    """`dockyard serve` arguments for a bucket and table of its own on the shared moto server."""
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    return ["--endpoint-url", moto_endpoint, "--bucket", name, "--table", name]


def dockyard(*args: str, stdin: str | None = None, env: dict | None = None) -> str:
    """Run the `dockyard` CLI; returns stdout, fails the test with stderr."""
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", *args], input=stdin, capture_output=True,
                            text=True, timeout=60, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout


def make_images(root: Path) -> dict:
    """An OCI layout: an image of three layers (`v1`), a two-platform index (`multi`), another image (`v2`)."""
    layout = Layout(root)
    layers = [layer_tar({"etc/hello": b"hello\n"}), random_layer(300_000), random_layer(1_200_000)]
    app, app_manifest = layout.image(layers)
    layout.tag(app, "v1")
    platforms = [layout.image([random_layer(100_000, f"{arch}.bin")], arch=arch)[0] for arch in ("amd64", "arm64")]
    multi, _ = layout.multi_arch(platforms)
    layout.tag(multi, "multi")
    moved, moved_manifest = layout.image([random_layer(50_000)])
    layout.tag(moved, "v2")
    return {"root": root, "app": app, "app_manifest": app_manifest, "layers": layers, "multi": multi,
            "platforms": platforms, "moved": moved}


def seed(images: dict, host: str, repo: str, *creds: str) -> None:
    """Copy `v1` and `multi` (all platforms) into `host/repo` with skopeo."""
    root = images["root"]
    skopeo("copy", "--dest-tls-verify=false", *creds, f"oci:{root}:v1", f"docker://{host}/{repo}:v1")
    skopeo("copy", "--dest-tls-verify=false", "--all", *creds, f"oci:{root}:multi", f"docker://{host}/{repo}:multi")
