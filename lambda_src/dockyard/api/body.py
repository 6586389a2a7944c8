"""A blocking reader over a request body, for plain `def` routes (which run in a worker thread)."""

from __future__ import annotations

import anyio.from_thread
from starlette.requests import ClientDisconnect, Request

from dockyard.errors import Err, RegistryError


class RequestBody:
    """Reads the body in blocks of the size asked for: one hop to the event loop per block, not per packet."""

    def __init__(self, request: Request):
        self._stream = request.stream()
        self._buffer = bytearray()
        self._ended = False

    def read(self, size: int) -> bytes:
        if size <= 0 or (self._ended and not self._buffer):
            return b""
        return anyio.from_thread.run(self._read, size)

    async def _read(self, size: int) -> bytes:
        try:
            while len(self._buffer) < size and not self._ended:
                try:
                    self._buffer += await self._stream.__anext__()
                except StopAsyncIteration:
                    self._ended = True
        except ClientDisconnect:
            raise RegistryError(Err.BLOB_UPLOAD_INVALID, "the client disconnected before the body ended") from None
        if len(self._buffer) <= size:
            data, self._buffer = bytes(self._buffer), bytearray()
        else:
            data = bytes(memoryview(self._buffer)[:size])
            del self._buffer[:size]
        return data
