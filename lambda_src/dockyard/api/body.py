"""A reader over a request body: blocking for plain `def` routes (which run in a worker thread), or awaited
(`read_async`) in async ones."""

from __future__ import annotations

import anyio
import anyio.from_thread
from starlette.requests import ClientDisconnect, Request

from dockyard.config import Settings
from dockyard.errors import Err, RegistryError


class RequestBody:
    """Reads the body in blocks of the size asked for: one hop to the event loop per block, not per packet.

    A body that stops arriving (a client that sent fewer bytes than its Content-Length, and waits) fails
    after `Settings.body_timeout` seconds without a byte, with 408 and `Connection: close`, instead of
    holding a worker thread for as long as the client keeps the connection open."""

    def __init__(self, request: Request):
        self._stream = request.stream()
        self._buffer = bytearray()
        self._ended = False
        self._received = 0
        self._declared = request.headers.get("content-length")
        settings = getattr(request.app.state, "settings", None)  # the gateway's app has none: the default
        self._timeout = settings().body_timeout if settings else Settings.body_timeout

    def read(self, size: int) -> bytes:
        return b"" if self._nothing(size) else anyio.from_thread.run(self.read_async, size)

    def _nothing(self, size: int) -> bool:
        return size <= 0 or (self._ended and not self._buffer)

    async def read_async(self, size: int) -> bytes:
        if self._nothing(size):
            return b""
        try:
            while len(self._buffer) < size and not self._ended:
                try:
                    with anyio.fail_after(self._timeout):
                        chunk = await self._stream.__anext__()
                except StopAsyncIteration:
                    self._ended = True
                else:
                    self._received += len(chunk)
                    self._buffer += chunk
        except ClientDisconnect:
            raise RegistryError(Err.BLOB_UPLOAD_INVALID, "the client disconnected before the body ended") from None
        except TimeoutError:
            of = f" of the {self._declared} declared" if self._declared else ""
            raise RegistryError(Err.BODY_TIMEOUT, f"no byte arrived for {self._timeout:g} s after {self._received}"
                                                  f"{of}", headers={"Connection": "close"}) from None
        if len(self._buffer) <= size:
            data, self._buffer = bytes(self._buffer), bytearray()
        else:
            data = bytes(memoryview(self._buffer)[:size])
            del self._buffer[:size]
        return data
