"""The audit trail: one JSON line per write (push, tag move, delete), key change and denied request.

It is written by an ASGI middleware from what every response already says (method, path, status,
`Docker-Content-Digest`, `Location`) and the caller the auth dependency recorded, so routes stay thin. A
line names who, what, repository, digest, source IP and result; it never holds a credential or a secret.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from urllib.parse import parse_qs, unquote

# Greedy, as the router matches: `/v2/a/manifests/b/manifests/c` is repository `a/manifests/b`.
_REPO_PATH = re.compile(r"/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<rest>uploads(?:/[^/]*)?|[^/]+)\Z")
_DIRECT_PATH = re.compile(r"/dockyard/v1/direct/(?P<name>.+)/blobs/[^/]+/complete\Z")
_KEY_PATH = re.compile(r"/dockyard/v1/(?P<what>keys|anonymous)(?:/(?P<id>[^/]+))?\Z")

_logger: logging.Logger | None = None


def logger() -> logging.Logger:
    """A logger of its own, writing plain JSON lines to stdout whatever the app's log level."""
    global _logger
    if _logger is None:
        log = logging.getLogger("dockyard.audit")
        if not log.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        _logger = log
    return _logger


def classify(method: str, path: str, query: str, status: int, has_credentials: bool) -> dict | None:
    """The audit event a request makes, or None for reads and successful handshakes."""
    if status in (401, 403):
        if path.rstrip("/") == "/v2" and not has_credentials:
            return None  # the first step of every token flow, not a refusal
        return {"event": "denied"}
    if not 200 <= status < 300 or method in ("GET", "HEAD"):
        return None
    match = _REPO_PATH.match(path)
    if match:
        name, kind, rest = match["name"], match["kind"], match["rest"]
        if kind == "manifests":
            event = {"PUT": "manifest.push", "DELETE": "manifest.delete"}.get(method)
            return event and {"event": event, "repository": name, "reference": unquote(rest)}
        if rest.startswith("uploads"):
            if method in ("PATCH", "DELETE") or status != 201:
                return None  # a chunk, a session opened or cancelled: the blob is audited when it lands
            mounted = "mount" in parse_qs(query)
            return {"event": "blob.mount" if mounted else "blob.push", "repository": name}
        return {"event": "blob.delete", "repository": name, "digest": unquote(rest)} if method == "DELETE" else None
    match = _DIRECT_PATH.match(path)
    if match and method == "POST":
        return {"event": "blob.push", "repository": match["name"]}
    match = _KEY_PATH.match(path)
    if match:
        what = {("POST", "keys"): "key.create", ("DELETE", "keys"): "key.revoke",
                ("PUT", "anonymous"): "anonymous.set"}.get((method, match["what"]))
        return what and {"event": what}
    return None


class AuditLog:
    """ASGI middleware that writes the audit line when the response starts."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope.setdefault("state", {})

        async def send_and_audit(message):
            if message["type"] == "http.response.start":
                try:
                    _record(scope, message)
                except Exception:  # the audit trail must never break a response
                    logging.getLogger("dockyard").exception("audit line failed")
            await send(message)

        await self.app(scope, receive, send_and_audit)


def _record(scope: dict, message: dict) -> None:
    request_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    status = message["status"]
    event = classify(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), status,
                     "authorization" in request_headers)
    if event is None:
        return
    response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
    who = scope["state"].get("principal") or ("anonymous" if "principal" in scope["state"] else "unauthenticated")
    line = {"audit": 1, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **event, "who": who,
            "method": scope["method"], "path": scope["path"], "status": status,
            "result": "denied" if event["event"] == "denied" else "ok",
            "ip": (scope.get("client") or ("",))[0]}
    if "digest" not in line and response_headers.get("docker-content-digest"):
        line["digest"] = response_headers["docker-content-digest"]
    if event["event"].startswith("key.") and response_headers.get("location"):
        line["key"] = response_headers["location"].rsplit("/", 1)[1]
    if request_headers.get("x-forwarded-for"):
        line["forwarded_for"] = request_headers["x-forwarded-for"]
    logger().info(json.dumps(line, sort_keys=True))
