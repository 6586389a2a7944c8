"""Start the embedded moto backend in a child process and wait until it listens."""

from __future__ import annotations

import os
import subprocess
import sys

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "dockyard-local", "AWS_SECRET_ACCESS_KEY": "dockyard-local"}


class EmbeddedMoto:
    """`with EmbeddedMoto() as endpoint:` runs moto on loopback for as long as the block lasts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.process: subprocess.Popen | None = None
        self.endpoint: str | None = None

    def start(self) -> str:
        env = {**os.environ, **FAKE_CREDENTIALS}
        env.pop("AWS_CA_BUNDLE", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dockyard.local.motoserver", "--host", self.host, "--port", str(self.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the embedded moto server did not start: {line!r}")
        self.endpoint = line.split(" ", 1)[1]
        return self.endpoint

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def use_fake_credentials() -> None:
    """moto accepts any credentials; set some so that boto3 never looks for real ones."""
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
