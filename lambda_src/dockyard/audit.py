"""The audit trail: one JSON line per write (push, tag move, delete), key change and denied request, and, when
reads are audited (`DOCKYARD_AUDIT_READS`, the stack's `dockyard:auditReads`), one per manifest GET: a pull.

It is written by an ASGI middleware from the route that answered (each audited route is marked with its
event), what every response already says (status, `Docker-Content-Digest`, `Location`) and the caller the
auth dependency recorded, so routes stay thin. A line names who, what, repository, digest, source IP and
result; it never holds a credential or a secret.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from urllib.parse import parse_qs

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


def audited(event: str, status: int | None = None, read: bool = False):
    """Mark a route: a successful answer to it (2xx, or exactly `status` if given: the web page's forms
    answer 303) writes the audit event; a `read` one only when reads are audited."""

    def mark(endpoint):
        endpoint.audit_event = (event, status)
        endpoint.audit_read = read
        return endpoint

    return mark


def handshake(endpoint):
    """Mark a route whose 401 without credentials starts the token flow: not a denial."""
    endpoint.audit_handshake = True
    return endpoint


def classify(endpoint, params: dict, query: str, status: int, has_credentials: bool,
             reads: bool = False) -> dict | None:
    """The audit event of a request answered by `endpoint` (the matched route, with its path `params`), or
    None for handshakes, failures and (unless `reads`) reads."""
    if status in (401, 403):
        return None if getattr(endpoint, "audit_handshake", False) and not has_credentials else {"event": "denied"}
    event, only = getattr(endpoint, "audit_event", (None, None))
    if event is None or (status != only if only is not None else not 200 <= status < 300):
        return None
    if getattr(endpoint, "audit_read", False) and not reads:
        return None
    if event == "blob.push" and "mount" in parse_qs(query):
        event = "blob.mount"
    line = {"event": event}
    for name, key in (("name", "repository"), ("reference", "reference"), ("digest", "digest"), ("key_id", "key"),
                      ("pattern", "pattern"), ("upstream", "upstream")):
        if name in params:
            line[key] = params[name]
    return line


class AuditLog:
    """ASGI middleware that writes the audit line when the response starts; `reads()` says whether pulls are
    audited too (read from the settings on first use)."""

    def __init__(self, app, reads=lambda: False):
        self.app, self.reads = app, reads

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope.setdefault("state", {})

        async def send_and_audit(message):
            if message["type"] == "http.response.start":
                try:
                    _record(scope, message, self.reads())
                except Exception:  # the audit trail must never break a response
                    logging.getLogger("dockyard").exception("audit line failed")
            await send(message)

        await self.app(scope, receive, send_and_audit)


def _record(scope: dict, message: dict, reads: bool) -> None:
    status = message["status"]
    headers = scope.get("headers", [])
    event = classify(scope.get("endpoint"), scope.get("path_params", {}),
                     scope.get("query_string", b"").decode("latin-1"), status,
                     any(k.lower() == b"authorization" for k, _ in headers), reads)
    if event is None:
        return  # most requests (reads): nothing more to decode
    request_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
    response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
    who = scope["state"].get("principal") or ("anonymous" if "principal" in scope["state"] else "unauthenticated")
    line = {"audit": 1, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **event, "who": who,
            "method": scope["method"], "path": scope["path"], "status": status,
            "result": "denied" if event["event"] == "denied" else "ok",
            "ip": (scope.get("client") or ("",))[0]}
    if "digest" not in line and response_headers.get("docker-content-digest"):
        line["digest"] = response_headers["docker-content-digest"]
    if event["event"].startswith("key.") and "key" not in line and response_headers.get("location"):
        line["key"] = response_headers["location"].rsplit("/", 1)[1]
    if request_headers.get("x-forwarded-for"):
        line["forwarded_for"] = request_headers["x-forwarded-for"]
    logger().info(json.dumps(line, sort_keys=True))
