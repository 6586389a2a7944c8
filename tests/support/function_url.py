"""Lambda Function URL events (payload format 2.0), as AWS delivers them, for driving the real handler."""

from __future__ import annotations

import base64
import time
import uuid
from urllib.parse import urlencode

URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
DOMAIN = f"{URL_ID}.lambda-url.eu-west-1.on.aws"


def event(method: str, path: str, params: dict | None = None, headers: dict | None = None,
          body: bytes = b"") -> dict:
    """A Function URL request. Binary bodies arrive base64-encoded, as they do from AWS; a parameter given
    a list is repeated in the query."""
    query = urlencode(params or {}, doseq=True)
    now = time.time()
    request = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": DOMAIN, "user-agent": "skopeo/1.9.3", "x-forwarded-proto": "https",
                    "x-forwarded-port": "443", "x-forwarded-for": "203.0.113.7",
                    "x-amzn-trace-id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                    **({"content-length": str(len(body))} if body or method in ("PUT", "POST", "PATCH") else {}),
                    **{k.lower(): v for k, v in (headers or {}).items()}},
        "requestContext": {
            "accountId": "anonymous", "apiId": URL_ID, "domainName": DOMAIN, "domainPrefix": URL_ID,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": "skopeo/1.9.3"},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body),
    }
    if query:  # AWS joins a repeated parameter's values with commas here
        request["queryStringParameters"] = {k: ",".join(v) if isinstance(v, list) else v for k, v in params.items()}
    if body:
        request["body"] = base64.b64encode(body).decode()
    return request


class LambdaContext:
    function_name = "Dockyard-Registry"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:Dockyard-Registry"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


class Response:
    """A handler result read back the way a Function URL turns it into an HTTP response."""

    def __init__(self, result: dict):
        self.status_code = result["statusCode"]
        self.headers = {k.lower(): v for k, v in result.get("headers", {}).items()}
        raw = result.get("body", "")
        self.content = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        self.base64 = result.get("isBase64Encoded", False)


def invoke(handler, method: str, path: str, **kwargs) -> Response:
    return Response(handler(event(method, path, **kwargs), LambdaContext()))


class FunctionUrlServer:
    """A loopback HTTP server that turns each request into a Function URL event for `handler`, as AWS does,
    so that real clients (skopeo, docker) can drive the real Lambda handler. Requests are handled one at a
    time, and `on_invoke(method, path, response, seconds)` is told about each, with the handler's time."""

    def __init__(self, handler, on_invoke=None):
        import http.server
        import threading
        import time as clock

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _invoke(self):
                import asyncio
                from urllib.parse import parse_qsl, urlsplit

                try:
                    asyncio.get_event_loop()
                except RuntimeError:  # Mangum runs the app on the thread's loop, as the Lambda runtime has one
                    asyncio.set_event_loop(asyncio.new_event_loop())

                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = event(self.command, url.path, headers={k: v for k, v in self.headers.items()},
                                body=body)
                request["rawQueryString"] = url.query
                if url.query:
                    request["queryStringParameters"] = {k: v for k, v in parse_qsl(url.query)}
                request["headers"].update({"host": outer.host, "x-forwarded-proto": "http",
                                           "x-forwarded-port": str(outer.port)})
                request["requestContext"]["domainName"] = outer.host
                started = clock.perf_counter()
                result = handler(request, LambdaContext())
                seconds = clock.perf_counter() - started
                response = Response(result)
                if outer.on_invoke:
                    outer.on_invoke(self.command, url.path, response, seconds)
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.content)) if self.command != "HEAD"
                                 else response.headers.get("content-length", "0"))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.content)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _invoke

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.on_invoke = on_invoke
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
