"""CloudFront, as far as edge downloads meet it: a signed URL's check, written from CloudFront's documentation
(not from our signer), and a loopback stand-in for the distribution that applies it and then serves the
object from the bucket's blob prefix (its origin path), as origin access control lets it.

The check: the query holds exactly `Expires`, `Signature` and `Key-Pair-Id`, in that order; the key pair
is the trusted one; the time is before `Expires`; the signature, in CloudFront's URL-safe base64 (`-`, `_`
and `~` for `+`, `=` and `/`), is RSA PKCS #1 v1.5 with SHA-1 over the canned policy
`{"Statement":[{"Resource":"<url>","Condition":{"DateLessThan":{"AWS:EpochTime":<expires>}}}]}`, where
`<url>` is the URL without those three parameters.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from dockyard.resources import BLOB_PREFIX

_SAFE_B64 = re.compile(r"^[A-Za-z0-9\-_~]+$")


class Refused(Exception):
    """CloudFront would answer 403 to this URL; the reason says why."""


def canned_policy(resource: str, expires: int) -> bytes:
    return ('{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}'
            % (resource, expires)).encode()


def verify_signed_url(url: str, public_pem: str, key_id: str, now: float | None = None) -> str:
    """The URL's path if CloudFront would accept it, else `Refused`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    resource, _, query = url.partition("?")
    pairs = [pair.split("=", 1) for pair in query.split("&")] if query else []
    if [name for name, *_ in pairs] != ["Expires", "Signature", "Key-Pair-Id"] or any(len(p) != 2 for p in pairs):
        raise Refused(f"not a canned-policy signed URL: {query!r}")
    params = dict(pairs)
    if params["Key-Pair-Id"] != key_id:
        raise Refused("the key pair is not in the trusted key group")
    if not params["Expires"].isdigit() or int(params["Expires"]) <= (time.time() if now is None else now):
        raise Refused("the URL has expired")
    if not _SAFE_B64.match(params["Signature"]):
        raise Refused("the signature is not in CloudFront's URL-safe base64")
    signature = base64.b64decode(params["Signature"].translate(str.maketrans("-_~", "+=/")), validate=True)
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(signature, canned_policy(resource, int(params["Expires"])), padding.PKCS1v15(), hashes.SHA1())
    except InvalidSignature:
        raise Refused("the signature does not match the public key") from None
    return urlsplit(resource).path


class EdgeStandIn:
    """The distribution on 127.0.0.1: signed URLs checked with `public_pem`, objects read from `bucket`
    under the blob prefix with the test's own S3 client (origin access control), `Range` passed on.
    `requests` records (path, status) of every request."""

    def __init__(self, public_pem: str, key_id: str, s3, bucket: str):
        self.public_pem, self.key_id, self.s3, self.bucket = public_pem, key_id, s3, bucket
        self.requests: list[tuple[str, int]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                stand_in._serve(self, body=True)

            def do_HEAD(self):
                stand_in._serve(self, body=False)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _serve(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        try:
            path = verify_signed_url(f"http://{handler.headers['Host']}{handler.path}", self.public_pem, self.key_id)
        except Refused as refused:
            return self._answer(handler, 403, str(refused).encode(), path=handler.path)
        extra = {"Range": handler.headers["Range"]} if handler.headers.get("Range") else {}
        try:
            got = self.s3.get_object(Bucket=self.bucket, Key=BLOB_PREFIX + path.lstrip("/"), **extra)
        except self.s3.exceptions.ClientError as exc:  # S3 answers 403 to OAC for a missing key (no ListBucket)
            return self._answer(handler, 403, exc.response["Error"]["Code"].encode(), path=path)
        status = got["ResponseMetadata"]["HTTPStatusCode"]
        self.requests.append((path, status))
        handler.send_response(status)
        handler.send_header("Content-Length", str(got["ContentLength"]))
        handler.send_header("Content-Type", got.get("ContentType") or "application/octet-stream")
        if got.get("ContentRange"):
            handler.send_header("Content-Range", got["ContentRange"])
        handler.end_headers()
        if body:
            shutil.copyfileobj(got["Body"], handler.wfile, 1024 * 1024)
        got["Body"].close()

    def _answer(self, handler, status: int, text: bytes, path: str) -> None:
        self.requests.append((path, status))
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(text)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(text)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class CloudFormationStandIn:
    """The presigned response URL of a custom resource, on 127.0.0.1: `answers` holds (Content-Type, the
    JSON answer) of every PUT."""

    def __init__(self):
        self.answers: list[tuple[str | None, dict]] = []
        answers = self.answers

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answers.append((self.headers.get("Content-Type"), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response?X-Amz-Signature=x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
