"""An HTTP client for one registry: the Docker token flow, and retries with backoff for transient failures."""

from __future__ import annotations

import base64
import random
import re
import threading
import time
from collections.abc import Callable

import httpx

from dockyard.client.credentials import Credentials

RETRIES = 5
TRANSIENT = {429, 500, 502, 503, 504}
_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """A registry answer the client cannot get past; carries the response."""

    def __init__(self, message: str, response: httpx.Response | None = None):
        super().__init__(message)
        self.response = response

    @property
    def code(self) -> str | None:
        try:
            return self.response.json()["errors"][0]["code"]
        except (AttributeError, ValueError, KeyError, IndexError, TypeError):
            return None

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None


def reason(response: httpx.Response) -> str:
    """Why the registry said no, from the spec's error body, else the challenge's `error` (a HEAD answer
    has no body), else the status phrase."""
    try:
        error = response.json()["errors"][0]
        return f"{error.get('code', '')}: {error.get('detail') or error.get('message', '')}".strip(": ")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    challenge = dict(_PARAM.findall(response.headers.get("www-authenticate", "")))
    if challenge.get("error"):
        return challenge["error"].replace("_", " ")
    return response.reason_phrase or response.text[:300]


def base_url(host: str, insecure: bool = False) -> str:
    """`http://` for loopback (or when asked), `https://` otherwise."""
    bare = host.split("/")[0].rsplit(":", 1)[0].strip("[]")
    local = bare in ("localhost", "::1") or bare.startswith("127.")
    return ("http://" if insecure or local else "https://") + host


def backoff(attempt: int) -> None:
    time.sleep(min(8.0, 0.25 * 2 ** attempt) * random.uniform(0.5, 1.0))


class RegistryClient:
    """Requests to one registry; a 401 challenge is answered with a token for its scope, once.

    With `authorization` (a header value someone else obtained, e.g. the gateway's client's), that header is
    sent as is and a 401 is returned to the caller instead of being answered.
    """

    def __init__(self, base: str, credentials: Credentials | None = None, timeout: float = 300,
                 http: httpx.Client | None = None, authorization: str | None = None):
        self.base = base.rstrip("/")
        self.credentials, self.authorization = credentials, authorization
        self.http = http or httpx.Client(timeout=httpx.Timeout(timeout, connect=30), follow_redirects=False,
                                         limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, scope: str, ok: tuple[int, ...] = (200, 201, 202, 204),
                allow: tuple[int, ...] = (), body: Callable[[], object] | None = None,
                headers: dict | None = None, **kwargs) -> httpx.Response:
        """Send with the token for `scope`; retry transient failures. `body()` makes a fresh body per try.
        Statuses in `allow` are returned too (e.g. 404 for a HEAD); others raise RegistryError."""
        url = path if path.startswith("http") else self.base + path
        challenged = False
        for attempt in range(RETRIES):
            sent = dict(headers or {})
            if self.authorization:
                sent["Authorization"] = self.authorization
            elif scope in self._tokens:
                sent["Authorization"] = f"Bearer {self._tokens[scope]}"
            try:
                response = self.http.request(method, url, headers=sent, content=body() if body else None, **kwargs)
            except httpx.TransportError as exc:
                if attempt == RETRIES - 1:
                    raise RegistryError(f"{method} {path}: {exc}") from exc
                backoff(attempt)
                continue
            if response.status_code == 401 and not challenged and not self.authorization:
                challenged = True
                self._authenticate(response, scope)
                continue
            if response.status_code in TRANSIENT and attempt < RETRIES - 1:
                backoff(attempt)
                continue
            if response.status_code in ok or response.status_code in allow:
                return response
            raise RegistryError(f"{method} {path}: {response.status_code} {reason(response)}", response)
        raise RegistryError(f"{method} {path}: gave up after {RETRIES} tries")

    def _authenticate(self, response: httpx.Response, scope: str) -> None:
        challenge = response.headers.get("www-authenticate", "")
        if not challenge.lower().startswith("bearer"):
            raise RegistryError(f"the registry asks for {challenge[:40]!r} authentication", response)
        params = dict(_PARAM.findall(challenge))
        realm = params.get("realm")
        if not realm:
            raise RegistryError("the registry's challenge names no token realm", response)
        query = {"service": params.get("service", ""), "scope": scope}
        creds = self.credentials
        if creds and creds.identity_token:
            answer = self.http.post(realm, data={"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                                                 "service": query["service"], "scope": scope, "client_id": "dockyard"})
        else:
            headers = {}
            if creds:
                pair = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            answer = self.http.get(realm, params=query, headers=headers)
        if answer.status_code != 200:
            raise RegistryError(f"token request refused: {answer.status_code} {reason(answer)}", answer)
        data = answer.json()
        with self._lock:
            self._tokens[scope] = data.get("token") or data.get("access_token")
