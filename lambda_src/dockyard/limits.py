"""The Lambda payload cap, enforced where the app runs without it (`dockyard serve --lambda-limits`).

A Function URL refuses a request whose payload exceeds 6 MB before the function runs, with a 413 and an
AWS message (not an OCI error body). This middleware answers the same way, so that every push path can be
tested locally against the real constraint. A request body is refused from its Content-Length, or, for a
chunked body, as soon as it grows past the limit.
"""

from __future__ import annotations

import json

from dockyard.resources import LAMBDA_PAYLOAD_LIMIT

MESSAGE = json.dumps({"Message": f"Request must be smaller than {LAMBDA_PAYLOAD_LIMIT} bytes for the "
                                 "InvokeFunction operation"}).encode()


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware; `limit()` gives the largest body in bytes (None: no limit), read on first use."""

    def __init__(self, app, limit):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        limit = self.limit() if scope["type"] == "http" else None
        if limit is None:
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _drain(receive)
            return await _refuse(send)
        received = 0
        refused = ended = False

        async def counting_receive():
            nonlocal received, refused, ended
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                ended = not message.get("more_body", False)
                if received > limit:
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)
            elif message["type"] == "http.response.start":
                if not ended:
                    await _drain(receive)
                await _refuse(send)

        await self.app(scope, counting_receive, guarded_send)


async def _drain(receive) -> None:
    """Read the rest of a refused body, as the front door does, so that the client sees the 413 instead of
    a connection reset in the middle of its upload."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _refuse(send) -> None:
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(MESSAGE)).encode()),
        (b"x-amzn-errortype", b"RequestEntityTooLargeException")]})
    await send({"type": "http.response.body", "body": MESSAGE})
