"""Loopback upstream registries for the pull-through cache's tests: CNCF distribution (Debian's
`docker-registry`, filesystem storage, open or with htpasswd basic auth), with its access log, so that
tests count the requests the cache made to it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.processes import Output, free_port, stop_process, wait_for_registry

CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{auth}"""
HTPASSWD = """auth:
  htpasswd:
    realm: upstream
    path: {path}
"""
_REQUEST = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (/v2/\S*) HTTP/[\d.]+" (\d+)')


class Distribution:
    """The reference registry as a process; `requests()` reads its access log."""

    def __init__(self, workdir: Path, user: tuple[str, str] | None = None):
        self.port = free_port()
        self.host, self.url = f"127.0.0.1:{self.port}", f"http://127.0.0.1:{self.port}"
        self.user = user
        workdir.mkdir(parents=True, exist_ok=True)
        auth = ""
        if user:
            hashed = subprocess.run(["htpasswd", "-Bbn", *user], capture_output=True, text=True, check=True).stdout
            (workdir / "htpasswd").write_text(hashed)
            auth = HTPASSWD.format(path=workdir / "htpasswd")
        config = workdir / "config.yml"
        config.write_text(CONFIG.format(root=workdir / "data", port=self.port, auth=auth))
        self.log = Output()
        self.process = None
        self.config = config
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(["docker-registry", "serve", str(self.config)],
                                        stdout=self.log.file, stderr=subprocess.STDOUT)
        wait_for_registry(self.process, self.url, "docker-registry")

    def stop(self) -> None:
        stop_process(self.process)

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request so far."""
        return [(m, p, int(s)) for m, p, s in _REQUEST.findall(self.log.text())]


def uvicorn_requests(log: str) -> list[tuple[str, str, int]]:
    """(method, path, status) from a `dockyard serve --log-level info` access log."""
    return [(m, p, int(s)) for m, p, s in _REQUEST.findall(log)]


def requests_of(upstream) -> list[tuple[str, str, int]]:
    """(method, path, status) of every request an upstream answered: a `Distribution`, or a `Server`
    (`dockyard serve --log-level info`)."""
    return upstream.requests() if isinstance(upstream, Distribution) else uvicorn_requests(upstream.output())


def blob_gets(requests, repo: str | None = None) -> list[str]:
    """Blob GETs answered (a 401 challenge, answered by a retry, is not one)."""
    return [p for m, p, s in requests if m == "GET" and "/blobs/" in p and s != 401
            and (repo is None or f"/v2/{repo}/" in p)]


def manifest_requests(requests) -> list[str]:
    """Manifest GETs and HEADs answered (not counting 401 challenges)."""
    return [p for m, p, s in requests if "/manifests/" in p and s != 401]
