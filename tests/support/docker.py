"""A docker daemon of a test's own (vfs storage, no network setup), and the docker client against it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

from tests.support.processes import stop_process


@contextlib.contextmanager
def dockerd(root: Path, *options: str):
    """Start dockerd under `root`; yields the environment that points the docker client at it."""
    root.mkdir(parents=True, exist_ok=True)
    sock = root / "docker.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(root / "config")}
    log = (root / "dockerd.log").open("wb")
    process = subprocess.Popen(
        ["dockerd", "--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--bridge=none",
         f"--data-root={root / 'data'}", f"--exec-root={root / 'exec'}", f"--pidfile={root / 'pid'}", *options,
         "-H", f"unix://{sock}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "info"], env=env, capture_output=True).returncode != 0:
            assert process.poll() is None and time.monotonic() < deadline, (root / "dockerd.log").read_text()
            time.sleep(0.5)
        yield env
    finally:
        stop_process(process)


def docker(env: dict, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, f"docker {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result
