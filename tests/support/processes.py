"""Run `dockyard serve` as a real process, and drive real clients (skopeo) against it."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SKOPEO_BLOB_CACHE = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")


def wait_for_registry(process: subprocess.Popen, url: str, what: str, timeout: float = 60) -> None:
    """Until `GET url/v2/` answers (200, or 401 with access control on); fails if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url.rstrip("/") + "/v2/", timeout=1).status_code in (200, 401):
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Output:
    """A child process's output in an anonymous file (no name in the temp directory, gone when closed),
    opened for appending, so that reading it never moves where the child writes."""

    def __init__(self):
        self.file = tempfile.TemporaryFile("a+b")

    def text(self) -> str:
        self.file.flush()
        self.file.seek(0)
        return self.file.read().decode(errors="replace")


class Server:
    """`dockyard serve` in a child process, on a free loopback port."""

    def __init__(self, *args: str, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.log = Output()
        command = [sys.executable, "-m", "dockyard.cli", "serve", "--port", str(self.port),
                   "--log-level", "warning", *args]
        self.process = subprocess.Popen(command, stdout=self.log.file, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})
        self._wait()

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.text()

    def _wait(self) -> None:
        try:
            wait_for_registry(self.process, self.url, "dockyard serve")
        except RuntimeError as exc:
            output = self.output()
            self.stop()
            raise RuntimeError(f"{exc}:\n{output}") from None

    def stop(self) -> None:
        stop_process(self.process)

    def rss_peak_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM")


def skopeo(*args: str) -> str:
    """Run skopeo against plain-HTTP loopback registries; returns stdout, raises with stderr."""
    SKOPEO_BLOB_CACHE.unlink(missing_ok=True)  # make skopeo really upload instead of trying cross-repo mounts
    command = ["skopeo", "--insecure-policy", *(["--debug"] if os.environ.get("SKOPEO_DEBUG") else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def skopeo_refused(*args: str) -> str:
    """Run skopeo where it must fail; returns what it printed."""
    import pytest

    with pytest.raises(AssertionError) as failure:
        skopeo(*args)
    return str(failure.value)


def dockyard_cli(registry: str, admin: tuple[str, str], *args: str) -> str:
    """Run a `dockyard` admin command against `registry` with the admin credentials; returns stdout."""
    from dockyard.resources import Env

    env = {**os.environ, Env.REGISTRY: registry, Env.ADMIN_KEY_ID: admin[0], Env.ADMIN_SECRET: admin[1]}
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", *args], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def verify_layout(root: Path) -> dict[str, bytes]:
    """Check every blob of an OCI layout against its digest; returns {digest: bytes} for the small ones."""
    blobs = {}
    for path in (root / "blobs" / "sha256").iterdir():
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        assert h.hexdigest() == path.name, f"{path} does not match its digest"
        if path.stat().st_size < 1 << 20:
            blobs["sha256:" + path.name] = path.read_bytes()
    return blobs


def layout_manifest(root: Path, tag: str) -> dict:
    index = json.loads((root / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return entry
    raise KeyError(tag)
