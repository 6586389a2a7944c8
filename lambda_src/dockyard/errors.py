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

from dockyard.domain.sizes import human_size

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
    QUOTA_EXCEEDED = ("DENIED", 403, "quota exceeded in namespace {namespace}: {used:size} of {limit:size} used, "
                                     "and blob {digest} of {repository} needs {size:size} more")
    # The same OCI codes where the spec asks for another status.
    INSUFFICIENT_SCOPE = ("DENIED", 401, "requested access to the resource is denied")
    RANGE_NOT_SATISFIABLE = ("BLOB_UPLOAD_INVALID", 416, "chunk does not start at the current upload offset")
    UPLOAD_BUSY = ("BLOB_UPLOAD_INVALID", 409, "another request is writing to this upload")
    # A DELETE that would leave a tag that resolves but no longer pulls (see dockyard.maintenance).
    REFERENCED = ("DENIED", 409, "the content is still referenced by a manifest of the repository")
    GC_BUSY = ("DENIED", 409, "a garbage collection run is in progress")
    MANIFEST_TOO_LARGE = ("SIZE_INVALID", 413, "manifest exceeds the size limit")
    TOO_MANY_TAGS = ("UNSUPPORTED", 414, "too many tag parameters in one push")
    TAG_LIMIT = ("DENIED", 403, "the manifest has as many tags as it can hold")
    NOT_FOUND = ("UNSUPPORTED", 404, "no such endpoint")
    INVALID_PARAMETER = ("UNSUPPORTED", 400, "invalid request parameter")
    BAD_HTTP = ("UNSUPPORTED", 400, "malformed HTTP request")
    BODY_TIMEOUT = ("SIZE_INVALID", 408, "the request body stopped arriving before its declared length")
    RANGE_INVALID = ("SIZE_INVALID", 416, "the requested range is not satisfiable")
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
        self.message = err.message.format_map({k: _Field(v) for k, v in detail.items()}) \
            if isinstance(detail, dict) and "{" in err.message else err.message

    def body(self) -> bytes:
        entry: dict[str, Any] = {"code": self.err.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return json.dumps({"errors": [entry]}).encode()


class _Field:
    """A detail value in a message template; `{name:size}` writes a byte count for people (`50.0 MiB`)."""

    def __init__(self, value):
        self.value = value

    def __format__(self, spec: str) -> str:
        return human_size(self.value) if spec == "size" else format(self.value, spec)


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


# Answers from AWS that mean "not now" rather than "no": after botocore's own retry, a 503.
_UNAVAILABLE_CODES = frozenset({"ThrottlingException", "Throttling", "ProvisionedThroughputExceededException",
                                "RequestLimitExceeded", "SlowDown", "ServiceUnavailable", "RequestTimeout",
                                "InternalError", "InternalServerError", "InternalFailure"})


def unexpected(exc: BaseException) -> RegistryError:
    """What an exception that no route handled becomes: 503 when the backend did not answer in time (or
    said to come back later), else 500. Neither carries internals."""
    import botocore.exceptions as boto  # only on this path: no import cost for requests that succeed

    if isinstance(exc, (boto.ConnectionError, boto.HTTPClientError)):  # timeouts, refused, reset
        return RegistryError(Err.BACKEND_UNAVAILABLE, headers={"Retry-After": "1"})
    if isinstance(exc, boto.ClientError):
        error, meta = exc.response.get("Error", {}), exc.response.get("ResponseMetadata", {})
        if error.get("Code") in _UNAVAILABLE_CODES or meta.get("HTTPStatusCode", 0) >= 500:
            return RegistryError(Err.BACKEND_UNAVAILABLE, headers={"Retry-After": "1"})
    return RegistryError(Err.INTERNAL)


class ErrorBoundary:
    """The innermost middleware: an exception no handler took is answered here, as JSON, and not raised
    further. Raised further, the server would log it and then close the connection under a client that
    was already sending its next request on it (keep-alive); answered here, the connection stays usable.
    Only a response already started when the failure came cannot be mended: then the connection closes."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if started:
                raise
            error = unexpected(exc)
            if error.err is Err.BACKEND_UNAVAILABLE:
                log.warning("backend unavailable: %s %s: %s: %s", scope["method"], scope["path"],
                            type(exc).__name__, str(exc)[:300])
            else:
                log.error("unhandled error: %s %s", scope["method"], scope["path"], exc_info=exc)
            await error_response(error, scope["method"])(scope, receive, send)


def install_error_handlers(app) -> None:
    """Route every failure (ours, the framework's, unexpected ones) through `error_response`. The handlers
    are coroutines: a plain function would be run in a worker thread, behind requests stuck on a backend."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def on_registry_error(request, exc: RegistryError):
        if exc.err.status >= 500:
            log.error("request failed: %s %s: %s", request.method, request.url.path, exc)
        return error_response(exc, request.method)

    async def on_http_exception(request, exc: HTTPException):
        err = {404: Err.NOT_FOUND, 405: Err.UNSUPPORTED}.get(exc.status_code, Err.INVALID_PARAMETER)
        return error_response(RegistryError(err, exc.detail if exc.status_code not in (404, 405) else None),
                              request.method)

    async def on_validation_error(request, exc: RequestValidationError):
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return error_response(RegistryError(Err.INVALID_PARAMETER, detail), request.method)

    app.add_exception_handler(RegistryError, on_registry_error)
    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_middleware(ErrorBoundary)  # the first middleware added is the innermost
