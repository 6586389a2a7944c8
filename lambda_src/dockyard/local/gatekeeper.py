"""Access control for the embedded moto: only the registry's own credentials get in.

moto checks SigV4 header signatures against its IAM users once `INITIAL_NO_AUTH_ACTION_COUNT` is 0 (a
wrong secret is `SignatureDoesNotMatch`, an unknown key `InvalidAccessKeyId`). It does not check presigned
URLs (it fails on them with a 500), and its `/moto-api/` endpoints (a dump of every backend, a reset,
turning authentication off) take no credentials at all. This WSGI middleware closes both:

- `/moto-api/...` is refused;
- a presigned request (`X-Amz-Signature` in the query) is verified here, with botocore's own SigV4 code,
  against the one generated key: signature over the method, path, query and signed headers, and expiry.
  A valid one is then signed again with that key in headers, the form moto checks, and passed on;
- a request with neither an `Authorization` header nor a presigned query is refused.
"""

from __future__ import annotations

import calendar
import hmac
import time

SIGNATURE = "X-Amz-Signature"
AUTH_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
               SIGNATURE, "X-Amz-Security-Token")
CLOCK_SKEW = 300  # seconds a presigned URL's date may lie in the future


class Refused(Exception):
    pass


def _header(environ: dict, name: str) -> str | None:
    key = name.upper().replace("-", "_")
    return environ.get(key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{key}")


def _raw_target(environ: dict) -> tuple[str, list[str]]:
    """The path as it arrived (percent-encoded) and the raw `key=value` pairs of the query."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path = raw.split("?", 1)[0]
    query = environ.get("QUERY_STRING", "")
    return path, [pair for pair in query.split("&") if pair]


def _unsigned_payload_auth():
    from botocore.auth import S3SigV4Auth

    class UnsignedPayload(S3SigV4Auth):
        """Header SigV4 with `X-Amz-Content-SHA256: UNSIGNED-PAYLOAD`, as a presigned URL has it."""

        def _should_sha256_sign_payload(self, request) -> bool:
            return False

    return UnsignedPayload


class Gatekeeper:
    def __init__(self, app, access_key: str, secret_key: str):
        from botocore.credentials import Credentials

        self.app, self.access_key = app, access_key
        self._resigner = _unsigned_payload_auth()
        self.credentials = Credentials(access_key, secret_key)

    def __call__(self, environ, start_response):
        try:
            if environ.get("PATH_INFO", "").startswith("/moto-api"):
                raise Refused("the moto API is closed")
            path, pairs = _raw_target(environ)
            if any(pair.split("=", 1)[0] == SIGNATURE for pair in pairs):
                self._admit_presigned(environ, path, pairs)
            elif not environ.get("HTTP_AUTHORIZATION"):
                raise Refused("credentials are required")
        except Refused as exc:
            body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                    f"<Message>{exc}</Message></Error>").encode()
            start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)

    def _admit_presigned(self, environ: dict, path: str, pairs: list[str]) -> None:
        from urllib.parse import unquote

        from botocore.auth import S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest

        params = {key: unquote(value) for key, _, value in (pair.partition("=") for pair in pairs)}
        try:
            access_key, _, region, service, _ = params["X-Amz-Credential"].split("/")
            stamp, expires = params["X-Amz-Date"], int(params["X-Amz-Expires"])
            signed = params["X-Amz-SignedHeaders"].split(";")
            issued = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
        except (KeyError, ValueError):
            raise Refused("malformed presigned URL") from None
        if access_key != self.access_key:
            raise Refused("unknown access key")
        now = time.time()
        if not issued - CLOCK_SKEW <= now <= issued + expires:
            raise Refused("the presigned URL has expired")
        host = environ.get("HTTP_HOST", "")
        headers = {name: _header(environ, name) or "" for name in signed if name != "host"}
        unsigned = "&".join(pair for pair in pairs if pair.split("=", 1)[0] != SIGNATURE)
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=f"http://{host}{path}?{unsigned}",
                             headers={"host": host, **headers})
        request.context["timestamp"] = stamp
        auth = S3SigV4QueryAuth(self.credentials, service, region, expires=expires)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        if not hmac.compare_digest(expected, params[SIGNATURE]):
            raise Refused("the presigned URL's signature does not match")

        # Valid: the same request, signed in headers (what moto verifies), without the query's auth params.
        query = "&".join(pair for pair in pairs if pair.split("=", 1)[0] not in AUTH_PARAMS)
        target = f"{path}?{query}" if query else path
        resigned = AWSRequest(method=environ["REQUEST_METHOD"], url=f"http://{host}{target}", headers={"host": host})
        self._resigner(self.credentials, service, region).add_auth(resigned)
        environ["QUERY_STRING"] = query
        environ["RAW_URI"] = environ["REQUEST_URI"] = target
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
            environ["HTTP_" + name.upper().replace("-", "_")] = resigned.headers[name]
