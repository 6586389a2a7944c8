"""OCI error codes, declared once with their HTTP status, and the one place that writes an error body.

Code below the HTTP layer raises `RegistryError(Err.X, detail)`. The handlers installed by
`install_error_handlers` turn it, and anything else that escapes a route, into the spec's body:
`{"errors": [{"code": ..., "message": ..., "detail": ...}]}`. No traceback ever reaches a client.
"""

from __future__ import annotations

import json
import logging
from enum import Enum
from typing import Any

log = logging.getLogger("dockyard")


class Err(Enum):
    """Every error the registry answers with: (OCI code, HTTP status, message)."""

    BLOB_UNKNOWN = ("BLOB_UNKNOWN", 404, "blob unknown to registry")
    BLOB_UPLOAD_INVALID = ("BLOB_UPLOAD_INVALID", 400, "blob upload invalid")
    BLOB_UPLOAD_UNKNOWN = ("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
    DIGEST_INVALID = ("DIGEST_INVALID", 400, "provided digest did not match uploaded content")
    MANIFEST_BLOB_UNKNOWN = ("MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry")
    MANIFEST_INVALID = ("MANIFEST_INVALID", 400, "manifest invalid")
    MANIFEST_UNKNOWN = ("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
    NAME_INVALID = ("NAME_INVALID", 400, "invalid repository name")
    NAME_UNKNOWN = ("NAME_UNKNOWN", 404, "repository name not known to registry")
    SIZE_INVALID = ("SIZE_INVALID", 400, "provided length did not match content length")
    UNAUTHORIZED = ("UNAUTHORIZED", 401, "authentication required")
    DENIED = ("DENIED", 403, "requested access to the resource is denied")
    UNSUPPORTED = ("UNSUPPORTED", 405, "the operation is unsupported")
    TOOMANYREQUESTS = ("TOOMANYREQUESTS", 429, "too many requests")
    # Governance refusals: clients print only the message, so it says what refused and why (a template
    # filled from the detail, which carries the same fields for programs).
    TAG_IMMUTABLE = ("DENIED", 403, "tag {tag} of {repository} is immutable (rule {rule}): it points to {digest} "
                                    "and cannot be {action}")
    # The same OCI codes where the spec asks for another status.
    INSUFFICIENT_SCOPE = ("DENIED", 401, "requested access to the resource is denied")
    RANGE_NOT_SATISFIABLE = ("BLOB_UPLOAD_INVALID", 416, "chunk does not start at the current upload offset")
    UPLOAD_BUSY = ("BLOB_UPLOAD_INVALID", 409, "another request is writing to this upload")
    MANIFEST_TOO_LARGE = ("SIZE_INVALID", 413, "manifest exceeds the size limit")
    NOT_FOUND = ("UNSUPPORTED", 404, "no such endpoint")
    INVALID_PARAMETER = ("UNSUPPORTED", 400, "invalid request parameter")
    # 5xx bodies are not constrained by the spec; this one never carries internals.
    INTERNAL = ("UNKNOWN", 500, "internal error; the request was not carried out")
    BACKEND_UNAVAILABLE = ("UNKNOWN", 503, "storage backend unavailable; retry later")
    BAD_GATEWAY = ("UNKNOWN", 502, "the registry behind this gateway failed the request")
    # The pull-through cache, when the upstream cannot give what is not cached yet.
    UPSTREAM_UNAVAILABLE = ("UNKNOWN", 503, "upstream registry unavailable and nothing is cached; retry later")
    UPSTREAM_INVALID = ("UNKNOWN", 502, "the upstream registry answered with invalid content")
    BLOB_TOO_LARGE = ("UNSUPPORTED", 501, "blob too large to cache in one request, and its upstream cannot "
                                          "be redirected to")

    @classmethod
    def matching(cls, code: str | None, status: int) -> Err | None:
        """The error with this OCI code and status (as another Dockyard answered it), if there is one."""
        return next((err for err in cls if err.code == code and err.status == status), None)

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def status(self) -> int:
        return self.value[1]

    @property
    def message(self) -> str:
        return self.value[2]


class RegistryError(Exception):
    """An error with an OCI code; `headers` are added to the response (e.g. `Range` on a 416)."""

    def __init__(self, err: Err, detail: Any = None, headers: dict[str, str] | None = None):
        super().__init__(f"{err.code}: {detail if detail is not None else err.message}")
        self.err = err
        self.detail = detail
        self.headers = headers or {}
        self.message = err.message.format_map(detail) if isinstance(detail, dict) and "{" in err.message \
            else err.message

    def body(self) -> bytes:
        entry: dict[str, Any] = {"code": self.err.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return json.dumps({"errors": [entry]}).encode()


def error_response(exc: RegistryError, method: str = "GET"):
    """The one function that writes an error response. HEAD gets the headers without a body."""
    from starlette.responses import Response

    body = exc.body()
    headers = {"Content-Length": str(len(body)), **exc.headers}
    return Response(
        content=b"" if method == "HEAD" else body,
        status_code=exc.err.status,
        headers=headers,
        media_type="application/json",
    )


def install_error_handlers(app) -> None:
    """Route every failure (ours, the framework's, unexpected ones) through `error_response`."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    def on_registry_error(request, exc: RegistryError):
        if exc.err.status >= 500:
            log.error("request failed: %s %s: %s", request.method, request.url.path, exc)
        return error_response(exc, request.method)

    def on_http_exception(request, exc: HTTPException):
        err = {404: Err.NOT_FOUND, 405: Err.UNSUPPORTED}.get(exc.status_code, Err.INVALID_PARAMETER)
        return error_response(RegistryError(err, exc.detail if exc.status_code not in (404, 405) else None),
                              request.method)

    def on_validation_error(request, exc: RequestValidationError):
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return error_response(RegistryError(Err.INVALID_PARAMETER, detail), request.method)

    def on_unexpected(request, exc: Exception):
        log.error("unhandled error: %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(RegistryError(Err.INTERNAL), request.method)

    app.add_exception_handler(RegistryError, on_registry_error)
    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
