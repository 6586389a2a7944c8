"""Helpers shared by the benchmarks: a moto server process, `dockyard serve` processes, RSS sampling."""

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

from tests.support.processes import Server, free_port  # noqa: E402

FAKE_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


class MotoServer:
    """`moto_server` in its own process on loopback, so its memory is not counted against the registry."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **FAKE_ENV}
        env.pop("AWS_CA_BUNDLE", None)
        self.process = subprocess.Popen([sys.executable, "-m", "dockyard.local.motoserver", "--port",
                                         str(self.port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=env, text=True)
        assert self.process.stdout.readline().startswith("READY")

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


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
    """Samples a process's resident set every 20 ms; `.peak` in KiB (VmHWM is read too, as a cross-check)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

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
            f"{platform.machine()}, {os.cpu_count()} CPUs")


def start_server(moto: MotoServer, name: str, *extra: str) -> Server:
    os.environ.update(FAKE_ENV)
    return Server("--endpoint-url", moto.endpoint, "--bucket", name, "--table", name, *extra)
