"""SigV4 signatures with a cached signing key: what the hand-written signers share (`presign`, a presigned
S3 GET; `dynamo.getitem`, a DynamoDB GetItem). Each builds its canonical request; this signs it."""

from __future__ import annotations

import hashlib
import hmac
import time

ALGORITHM = "AWS4-HMAC-SHA256"


def timestamp(now: float | None = None) -> str:
    """The request's time as SigV4 writes it (`X-Amz-Date`)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


class Signer:
    """Signs for one region and service."""

    def __init__(self, region: str, service: str):
        self.region, self.service = region, service
        self._keys: dict[tuple[str, str], bytes] = {}

    def scope(self, stamp: str) -> str:
        return f"{stamp[:8]}/{self.region}/{self.service}/aws4_request"

    def signature(self, secret: str, stamp: str, canonical: str) -> str:
        """The hex signature of a canonical request made at `stamp`."""
        to_sign = f"{ALGORITHM}\n{stamp}\n{self.scope(stamp)}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        return hmac.new(self._key(secret, stamp[:8]), to_sign.encode(), hashlib.sha256).hexdigest()

    def _key(self, secret: str, date: str) -> bytes:
        """HMAC chain of secret, date, region and service: the same for every request of a day."""
        key = self._keys.get((secret, date))
        if key is None:
            key = ("AWS4" + secret).encode()
            for part in (date, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, date): key}  # one day's key (a rotation replaces it)
        return key
