"""An HTTP client for one upstream registry, on urllib3 (already in the function's bundle, via botocore).

- Authentication: Basic credentials where the upstream asks for Basic, or the Docker token flow where it
  answers `401` with `WWW-Authenticate: Bearer realm=...,service=...,scope=...` (tokens cached per scope
  until they expire). Credentials go to the upstream's own host and to the token realm it names, and to no
  other host: a redirect elsewhere (a CDN, presigned S3) is followed without them.
- Faults are bounded: connect and read timeouts; a refused connection, a timeout, a 5xx or a 429 raise
  `Unavailable`, which the cache answers with stale content where it has some.
- Nothing here logs a credential, a token or an Authorization header.
- Every request names us (`USER_AGENT`), so that an upstream's operators can tell a cache from a client.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

from dockyard import __version__
from dockyard.domain import mediatypes as mt

MANIFEST_ACCEPT = ", ".join([mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST])
_PARAM = re.compile(r'(\w+)="([^"]*)"')
MAX_REDIRECTS = 5
TOKEN_MARGIN = 10  # a token is renewed this many seconds before it expires
USER_AGENT = f"dockyard/{__version__} (pull-through cache)"


class UpstreamError(Exception):
    """The upstream answered, but not with what was asked (e.g. 404, 401 with our credentials)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Unavailable(UpstreamError):
    """The upstream could not be reached, timed out, failed (5xx) or is rate limiting us (429)."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def __repr__(self) -> str:  # never shown, not even in a traceback's locals
        return f"Credentials(username={self.username!r}, password=***)"


_pool_lock = threading.Lock()
_pools: dict[tuple, object] = {}


def _pool(connect: float, read: float):
    """One urllib3 pool manager per process (per timeout pair), made on first use."""
    import urllib3

    with _pool_lock:
        key = (connect, read)
        if key not in _pools:
            _pools[key] = urllib3.PoolManager(num_pools=16, maxsize=16, retries=False,
                                              timeout=urllib3.Timeout(connect=connect, read=read))
        return _pools[key]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class UpstreamClient:
    def __init__(self, url: str, credentials: Credentials | None = None, connect_timeout: float = 5,
                 read_timeout: float = 30):
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.timeouts = (connect_timeout, read_timeout)
        self._tokens: dict[str, tuple[float, str]] = {}
        self._basic = False  # the upstream asked for Basic credentials
        self._challenged = False  # the upstream asked for credentials or a token at all
        self._lock = threading.Lock()

    @property
    def needs_credentials(self) -> bool:
        """Whether this upstream challenged us (a client could not follow a plain URL to it)."""
        return self._challenged

    # --- requests -----------------------------------------------------------------------------------

    def request(self, method: str, path: str, scope: str, headers: dict | None = None, stream: bool = False,
                follow: bool = True):
        """Send `method path` with the right credentials for `scope`, answering one challenge; follows
        redirects (without credentials to other hosts) unless `follow` is off. Returns the urllib3 response
        (its body unread when `stream`); raises `Unavailable` or, for other failures, `UpstreamError`."""
        for attempt in (0, 1):
            response = self._send(method, self.url + path, scope, headers or {}, stream, follow)
            if response.status != 401 or attempt == 1:
                break
            challenge = response.headers.get("www-authenticate", "")
            _drain(response)
            self._answer(challenge, scope)
        if response.status == 429 or response.status >= 500:
            _drain(response)
            raise Unavailable(response.status, f"upstream answered {response.status}")
        if response.status == 401:
            _drain(response)
            raise UpstreamError(401, "upstream refused our credentials")
        return response

    def _send(self, method: str, url: str, scope: str, headers: dict, stream: bool, follow: bool):
        import urllib3

        home = _origin(self.url)
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers)
            if _origin(url) == home:
                auth = self._authorization(scope)
                if auth:
                    sent["Authorization"] = auth
            response = self._once(urllib3, method, url, sent, stream)
            if follow and response.status in (301, 302, 303, 307, 308) and response.headers.get("location"):
                _drain(response)
                url = urljoin(url, response.headers["location"])
                continue
            return response
        raise UpstreamError(502, "upstream redirected too many times")

    def _once(self, urllib3, method: str, url: str, headers: dict, stream: bool):
        """One request; a GET or HEAD whose pooled connection the upstream had closed meanwhile (a
        `ProtocolError` before any answer) is sent once more on a new one. Timeouts are not retried."""
        for attempt in (0, 1):
            try:
                return _pool(*self.timeouts).request(method, url, headers={"User-Agent": USER_AGENT, **headers},
                                                     preload_content=not stream, redirect=False)
            except urllib3.exceptions.ProtocolError as exc:
                if attempt or method not in ("GET", "HEAD"):
                    raise Unavailable(0, f"upstream unreachable: {type(exc).__name__}") from None
            except urllib3.exceptions.HTTPError as exc:
                raise Unavailable(0, f"upstream unreachable: {type(exc).__name__}") from None

    # --- authentication -----------------------------------------------------------------------------

    def _authorization(self, scope: str) -> str | None:
        token = self._tokens.get(scope)
        if token and token[0] > time.time():
            return f"Bearer {token[1]}"
        if self._basic and self.credentials:
            return self.credentials.basic()
        return None

    def _answer(self, challenge: str, scope: str) -> None:
        self._challenged = True
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            if not self.credentials:
                raise UpstreamError(401, "upstream needs credentials and none are configured")
            self._basic = True
            return
        if scheme != "bearer":
            raise UpstreamError(401, f"upstream asks for unsupported authentication {scheme[:20]!r}")
        params = dict(_PARAM.findall(challenge))
        realm = params.get("realm")
        if not realm or urlsplit(realm).scheme not in ("http", "https"):
            raise UpstreamError(401, "upstream's token challenge names no usable realm")
        query = {"scope": scope}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"User-Agent": USER_AGENT}
        if self.credentials:
            headers["Authorization"] = self.credentials.basic()
        import urllib3

        try:
            answer = _pool(*self.timeouts).request("GET", f"{realm}{'&' if '?' in realm else '?'}{urlencode(query)}",
                                                   headers=headers, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise Unavailable(0, f"token realm unreachable: {type(exc).__name__}") from None
        if answer.status == 429 or answer.status >= 500:
            raise Unavailable(answer.status, f"token realm answered {answer.status}")
        if answer.status != 200:
            raise UpstreamError(401, f"token realm refused: {answer.status}")
        try:
            data = json.loads(answer.data)
            token = data.get("token") or data.get("access_token")
            lifetime = int(data.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            raise UpstreamError(502, "token realm answered no token") from None
        if not isinstance(token, str) or not token:
            raise UpstreamError(502, "token realm answered no token")
        with self._lock:
            if len(self._tokens) > 1000:
                self._tokens.clear()
            self._tokens[scope] = (time.time() + max(lifetime - TOKEN_MARGIN, 5), token)


def _drain(response) -> None:
    try:
        response.drain_conn()
    except Exception:  # noqa: BLE001 - a broken connection is simply not reused
        pass
    response.release_conn()
