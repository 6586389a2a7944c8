"""The pull-through cache's upstreams: their configuration (admin), and which upstream a repository name
routes to. The configuration is one query, cached per instance for `CONFIG_SECONDS`, and read only where a
pull misses, a cached tag is due for revalidation, or a push names a cache prefix: a pull from an ordinary
repository never reads it.

Names:
- prefix mode: `NAME/<repo>` reads `<repo>` from upstream NAME, and is cached as `NAME/<repo>`;
- Docker Hub conventions (an upstream on Docker Hub, or the mirror): a one-word `<repo>` is `library/<repo>`
  (`hub/alpine` is cached as `hub/library/alpine`), and `docker.io` names Docker Hub's registry;
- mirror mode (`--docker-hub-mirror`, one upstream at most): an unprefixed name that no local repository
  holds (`library/nginx`) reads through that upstream, cached as `NAME/library/nginx`.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from dockyard.blocking import forbid_on_event_loop
from dockyard.errors import Err, RegistryError
from dockyard.storage.interfaces import CredentialStore, UpstreamStore
from dockyard.storage.types import ConditionFailed, UpstreamRecord
from dockyard.upstream.client import Credentials, UpstreamClient
from dockyard.upstream.source import UpstreamSource

CONFIG_SECONDS = 30
DOCKER_HUB = "https://registry-1.docker.io"
DOCKER_HUB_NAMES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*\Z")
MAX_NAME = 64
# Upstreams a registry holds at most: every instance reads them all (one Query, cached), and lists them whole.
MAX_UPSTREAMS = 50


@dataclass(frozen=True)
class Upstream:
    record: UpstreamRecord
    source: UpstreamSource

    @property
    def docker_hub(self) -> bool:
        return self.record.mirror or (urlsplit(self.record.url).hostname or "") in DOCKER_HUB_NAMES


@dataclass(frozen=True)
class Route:
    """Where a repository name's content comes from (`upstream`, `remote`) and is cached (`local`)."""

    upstream: Upstream
    remote: str
    local: str
    mirrored: bool = False  # an unprefixed name: only if no local repository holds it


def describe(record: UpstreamRecord) -> dict:
    """What the admin API shows of an upstream: never its password, nor where the secret is kept."""
    return {"name": record.name, "url": record.url, "docker_hub_mirror": record.mirror,
            "username": record.username, "credentials": record.secret_id is not None,
            "created_at": record.created_at}


def normalize_url(url: str) -> str:
    """`docker.io` (and its aliases) is Docker Hub's registry; a bare host gets `https://`."""
    text = url.strip().rstrip("/")
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistryError(Err.INVALID_PARAMETER, "the upstream URL must be http(s)://host[:port]")
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise RegistryError(Err.INVALID_PARAMETER, "the upstream URL must be just scheme://host[:port] "
                                                   "(credentials go in username and password)")
    if parts.hostname in DOCKER_HUB_NAMES:
        return DOCKER_HUB
    return f"{parts.scheme}://{parts.netloc}"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Upstreams:
    def __init__(self, store: UpstreamStore, credentials: CredentialStore, timeout: float = 30):
        self.store, self.credentials, self.timeout = store, credentials, timeout
        self._lock = threading.Lock()
        self._loaded: tuple[float, dict[str, UpstreamRecord]] | None = None
        self._sources: dict[tuple[str, str, int], UpstreamSource] = {}

    # --- routing ------------------------------------------------------------------------------------------

    def _config(self) -> dict[str, UpstreamRecord]:
        loaded = self._loaded
        if loaded is None or loaded[0] <= time.monotonic():
            forbid_on_event_loop()  # neither the lock nor the read is waited for on the event loop
            with self._lock:
                if self._loaded is None or self._loaded[0] <= time.monotonic():
                    records = {r.name: r for r in self.store.list_upstreams()}
                    self._loaded = (time.monotonic() + CONFIG_SECONDS, records)
                loaded = self._loaded
        return loaded[1]

    def forget(self) -> None:
        """Read the configuration again at the next use (after a change made here)."""
        self._loaded = None

    def is_cache(self, name: str) -> bool:
        """Whether `name` is under an upstream's prefix (no push may land there)."""
        return name.split("/", 1)[0] in self._config() and "/" in name

    def route(self, name: str) -> Route | None:
        config = self._config()
        if not config:
            return None
        first, _, rest = name.partition("/")
        if rest and first in config:
            upstream = self._upstream(config[first])
            remote = _hub_name(rest) if upstream.docker_hub else rest
            return Route(upstream, remote, f"{first}/{remote}")
        mirror = next((r for r in config.values() if r.mirror), None)
        if mirror is None:
            return None
        remote = _hub_name(name)
        return Route(self._upstream(mirror), remote, f"{mirror.name}/{remote}", mirrored=True)

    def _upstream(self, record: UpstreamRecord) -> Upstream:
        cache_key = (record.name, record.url, record.created_at)
        source = self._sources.get(cache_key)
        if source is None:
            credentials = Credentials(*self.credentials.get_credentials(record.secret_id)) \
                if record.secret_id else None
            source = UpstreamSource(UpstreamClient(record.url, credentials, read_timeout=self.timeout))
            with self._lock:
                self._sources = {k: v for k, v in self._sources.items() if k[0] != record.name}
                self._sources[cache_key] = source
        return Upstream(record, source)

    # --- administration -----------------------------------------------------------------------------------

    def add(self, name: str, url: str, username: str | None = None, password: str | None = None,
            mirror: bool = False) -> dict:
        """Add an upstream, or replace the one of that name (and its credentials)."""
        if not _NAME.match(name or "") or len(name) > MAX_NAME:
            raise RegistryError(Err.INVALID_PARAMETER, "an upstream name is one lowercase name component "
                                                       f"(a-z, 0-9, '.', '_', '-'), at most {MAX_NAME} characters")
        url = normalize_url(url)
        names = {r.name for r in self.store.list_upstreams()}
        if name not in names and len(names) >= MAX_UPSTREAMS:
            raise RegistryError(Err.INVALID_PARAMETER, f"a registry has at most {MAX_UPSTREAMS} upstreams; "
                                                       "remove one first")
        if bool(username) != bool(password):
            raise RegistryError(Err.INVALID_PARAMETER, "username and password go together")
        parts = urlsplit(url)
        if password and parts.scheme != "https" and not _loopback(parts.hostname or ""):
            raise RegistryError(Err.INVALID_PARAMETER, "credentials are sent over https only")
        secret_id = self.credentials.put_credentials(name, username, password) if password else None
        record = UpstreamRecord(name=name, url=url, mirror=mirror, username=username or None,
                                secret_id=secret_id, created_at=time.time_ns() // 1000)
        try:
            previous = self.store.put_upstream(record)
        except ConditionFailed:
            if secret_id:
                self.credentials.delete_credentials(secret_id)
            raise RegistryError(Err.INVALID_PARAMETER, "another upstream is the Docker Hub mirror already "
                                                       "(or this one changed meanwhile); remove it first") from None
        except BaseException:
            if secret_id:
                self.credentials.delete_credentials(secret_id)
            raise
        if previous is not None and previous.secret_id and previous.secret_id != secret_id:
            self.credentials.delete_credentials(previous.secret_id)
        self.forget()
        return describe(record)

    def list(self) -> list[dict]:
        return [describe(r) for r in self.store.list_upstreams()]

    def remove(self, name: str) -> dict:
        """Remove an upstream. What it cached stays, as ordinary content (GC and retention apply)."""
        record = self.store.delete_upstream(name)
        if record is None:
            raise RegistryError(Err.NOT_FOUND, f"no upstream {name[:64]!r}")
        if record.secret_id:
            self.credentials.delete_credentials(record.secret_id)
        self.forget()
        return describe(record)


def _hub_name(name: str) -> str:
    return name if "/" in name else f"library/{name}"
