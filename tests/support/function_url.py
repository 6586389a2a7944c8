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
    """A Function URL request. Binary bodies arrive base64-encoded, as they do from AWS."""
    query = urlencode(params or {})
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
    if query:
        request["queryStringParameters"] = dict(params)
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
