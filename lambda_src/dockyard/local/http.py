"""uvicorn's HTTP/1.1 protocol (h11), answering what never reaches the app as the app would.

- A request the HTTP parser refuses (a raw non-ASCII path, a malformed `Content-Length`) gets the spec's
  JSON error body (`400`, `Connection: close`) instead of uvicorn's plain text.
- A TLS handshake on this plain-HTTP port is what skopeo, podman and containerd send first to any
  registry: they read the HTTP answer as "not TLS" and fall back to plain HTTP. It gets the same 400 (the
  bytes those clients recognise) and one clear log line per process, instead of "Invalid HTTP request
  received." once per connection.

Used by `dockyard serve` and `dockyard gateway` (`uvicorn.run(..., http=PROTOCOL)`).
"""

from __future__ import annotations

import logging
import threading

from uvicorn.protocols.http.h11_impl import H11Protocol

from dockyard.errors import Err, RegistryError

PROTOCOL = "dockyard.local.http:RegistryH11Protocol"
TLS_HANDSHAKE = b"\x16\x03"  # a TLS record of type handshake, protocol version 3.x
log = logging.getLogger("dockyard")
_tls_logged = threading.Event()


class _QuietInvalidRequest(logging.Filter):
    """uvicorn warns "Invalid HTTP request received." before it answers; our answer says more."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Invalid HTTP request received."


class RegistryH11Protocol(H11Protocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not any(isinstance(f, _QuietInvalidRequest) for f in self.logger.filters):
            self.logger.addFilter(_QuietInvalidRequest())
        self._first_data = True

    def data_received(self, data: bytes) -> None:
        if self._first_data:
            self._first_data = False
            if data.startswith(TLS_HANDSHAKE):
                if not _tls_logged.is_set():
                    _tls_logged.set()
                    log.info("a client tried TLS on this plain-HTTP port (%s); skopeo, podman and containerd "
                             "probe HTTPS first, then fall back to HTTP when allowed (--tls-verify=false). "
                             "Further TLS probes are not logged.", _peer(self.client))
                self._answer(RegistryError(Err.BAD_HTTP, "this port speaks plain HTTP, not TLS"))
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn when h11 refuses the request."""
        log.info("malformed HTTP request from %s refused", _peer(self.client))
        self._answer(RegistryError(Err.BAD_HTTP, "the request is not valid HTTP/1.1 (request line, "
                                                 "target or headers)"))

    def _answer(self, error: RegistryError) -> None:
        body = error.body()
        head = (f"HTTP/1.1 {error.err.status} Bad Request\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\ndocker-distribution-api-version: registry/2.0\r\n"
                "connection: close\r\n\r\n").encode()
        self.transport.write(head + body)
        self.transport.close()


def _peer(client) -> str:
    return f"{client[0]}:{client[1]}" if client else "unknown peer"
