"""Helpers shared by the benchmarks: a moto server process, `dockyard serve` processes, a registry backend on
moto, RSS sampling."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.processes import Server, free_port, stop_process  # noqa: E402

FAKE_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


class MotoServer:
    """The moto server `dockyard serve` embeds (`dockyard.local.motoserver`: transactions and queries at the
    cost of the items they touch, as on DynamoDB, not of the whole table), in its own process on loopback, so
    that its memory is not counted against a registry. By default DynamoDB requests run in parallel, as on
    real DynamoDB (nothing measured with it makes a condition fail); `serialized` handles them one at a time,
    as `dockyard serve` does, for benchmarks whose writers race."""

    def __init__(self, serialized: bool = False):
        env = {**os.environ, **FAKE_ENV, "PYTHONPATH": str(ROOT / "lambda_src")}
        env.pop("AWS_CA_BUNDLE", None)
        command = [sys.executable, "-m", "dockyard.local.motoserver", *([] if serialized else ["--concurrent"])]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            stop_process(self.process)
            raise RuntimeError(f"the moto server did not start: {line!r}")
        self.endpoint = line.split()[1]
        self.port = int(self.endpoint.rsplit(":", 1)[1])

    def stop(self) -> None:
        """Stop it; killed if it is still busy (werkzeug may wait on idle connections), so that a run's
        results or error are never lost to the wait."""
        stop_process(self.process)


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return 0  # the process has ended
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """The peak resident set of a process during a block, in KiB (`.peak`): the kernel's high-water mark,
    reset at the start of the block (needs to own the process or be root), cross-checked by sampling."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        except OSError:
            pass

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid, "VmHWM"))


def environment() -> str:
    import boto3
    import fastapi
    import moto

    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
            f"fastapi {fastapi.__version__}, boto3 {boto3.__version__}, moto {moto.__version__}; "
            f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


def signed_backend(endpoint: str, prefix: str):
    """A registry with access control over moto at `endpoint`: its settings (bucket, table and signing secret
    named `<prefix>-<random>`, all made here) and a fresh (s3, dynamodb) client pair of its own."""
    import uuid

    from dockyard.auth.secrets_store import ensure_keyring
    from dockyard.config import Settings
    from dockyard.storage.aws import ensure_bucket, ensure_table, new_clients, secrets_client

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    settings = Settings(bucket=name, table=name, endpoint_url=endpoint, auth=True, signing_secret=name)
    s3, dynamodb = new_clients(settings.region, endpoint)
    ensure_bucket(s3, settings)
    ensure_table(dynamodb, settings)
    ensure_keyring(secrets_client(settings), name)
    return settings, s3, dynamodb


def start_server(moto: MotoServer, name: str, *extra: str, env: dict | None = None) -> Server:
    os.environ.update(FAKE_ENV)
    return Server("--endpoint-url", moto.endpoint, "--bucket", name, "--table", name, *extra, env=env)
