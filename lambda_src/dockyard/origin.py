"""The front door's proof: behind CloudFront, every request must carry the origin header that only the
distribution adds, so that the public Function URL cannot be used to go around CloudFront (its WAF, its
throttling, its logs).

The header's value lives in Secrets Manager (the stack puts it into the distribution with a CloudFormation
dynamic reference, so it is in no template, no code and no log); it is read on the first request, and
again (at most once a minute) when a request's header does not match, so that a new value reaches warm
instances. It is compared in constant time. A request without it gets `403 DENIED`, whatever its path.
"""

from __future__ import annotations

import hmac
import threading
import time

from dockyard.errors import Err, RegistryError, error_response
from dockyard.resources import ORIGIN_HEADER

_HEADER = ORIGIN_HEADER.lower().encode("latin-1")
REFRESH_SECONDS = 60


class OriginCheck:
    """ASGI middleware; `settings()` gives the settings, read on first use. No secret configured: no check."""

    def __init__(self, app, settings):
        self.app, self.settings = app, settings
        self._expected: bytes | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.settings().origin_secret:
            return await self.app(scope, receive, send)
        sent = next((v for k, v in scope.get("headers", []) if k == _HEADER), None)
        if sent is None or not self._matches(sent):
            refusal = RegistryError(Err.DENIED, "requests must come through the registry's front door")
            return await error_response(refusal, scope["method"])(scope, receive, send)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != _HEADER]  # no route ever sees it
        return await self.app(scope, receive, send)

    def _matches(self, sent: bytes) -> bool:
        if self._expected is not None and hmac.compare_digest(sent, self._expected):
            return True
        with self._lock:
            if self._expected is None or time.monotonic() - self._read_at > REFRESH_SECONDS:
                self._expected, self._read_at = self._read(), time.monotonic()
        return hmac.compare_digest(sent, self._expected)

    def _read(self) -> bytes:
        from dockyard.storage.aws import secrets_client

        settings = self.settings()
        return secrets_client(settings).get_secret_value(SecretId=settings.origin_secret)["SecretString"] \
            .encode("latin-1")
