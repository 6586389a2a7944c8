"""Blob downloads from CloudFront's edge (the stack's `dockyard:edgeDownloads` option): signed URLs of the
distribution in front of the blob bucket, instead of presigned S3 URLs.

The distribution's origin path is the blob prefix, so a URL's path is a blob key without `blobs/`, and no
other key of the bucket can be named through it. Each URL carries a canned policy (the URL and its expiry)
signed with the private key of the key group the distribution trusts: RSA 2048 with SHA-1, as CloudFront
requires of RSA keys, through botocore's `CloudFrontSigner` (which writes the policy and CloudFront's URL-safe
base64) and `cryptography`. CloudFront refuses any request without a valid signature.

The private key lives in Secrets Manager (PEM, PKCS #8), put there by the stack's key custom resource
(`dockyard.edge_keys`); a host reads it once, on its first blob GET. It is never logged and never leaves
the process. A URL expires the presign TTL after it was made, rounded up to a whole `WINDOW`: all URLs of one
blob within a window are the same, so its RSA signature (about a millisecond) is made once per window
and remembered.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from urllib.parse import quote

from dockyard.blocking import forbid_on_event_loop
from dockyard.resources import BLOB_PREFIX

KEY_BITS = 2048  # CloudFront takes RSA 2048 public keys
WINDOW = 60  # seconds: expiries are rounded up to a multiple of this
CACHE_MAX = 4096  # signed URLs remembered per window


def generate_key() -> tuple[str, str]:
    """A new signing key: (private key PEM, PKCS #8; public key PEM, as CloudFront's key group takes it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    return private, public_pem(key)


def load_key(private_pem: str):
    """The RSA private key of a PEM; ValueError (saying nothing of the content) if it is not an RSA 2048 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeError):
        raise ValueError("the edge signing secret does not hold a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != KEY_BITS:
        raise ValueError(f"the edge signing key must be RSA {KEY_BITS}")
    return key


def public_pem(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


class EdgeSigner:
    """Signed GET URLs for the blobs under `base_url` (the distribution's https origin), by key `key_id`."""

    def __init__(self, base_url: str, key_id: str, private_pem: str):
        from botocore.signers import CloudFrontSigner
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        key, pkcs1, sha1 = load_key(private_pem), padding.PKCS1v15(), hashes.SHA1()
        self._signer = CloudFrontSigner(key_id, lambda message: key.sign(message, pkcs1, sha1))
        self._base = base_url.rstrip("/") + "/"
        self._urls: dict[tuple[str, int], str] = {}
        self._window = 0

    def url(self, location: str, ttl: int, now: float | None = None) -> str:
        """The URL of the blob at `location` (a key under the blob prefix), valid for at least `ttl` s."""
        if not location.startswith(BLOB_PREFIX):
            raise ValueError("only blobs are served from the edge")
        expires = -(-math.ceil((time.time() if now is None else now) + ttl) // WINDOW) * WINDOW  # never early
        url = self._urls.get((location, expires))
        if url is None:
            if expires != self._window or len(self._urls) >= CACHE_MAX:
                self._urls, self._window = {}, expires  # a new window: the old URLs are not handed out again
            resource = self._base + quote(location[len(BLOB_PREFIX):], safe="/~")
            url = self._signer.generate_presigned_url(
                resource, date_less_than=datetime.fromtimestamp(expires, tz=timezone.utc))
            self._urls[(location, expires)] = url
        return url


class EdgeDownloads:
    """The signer of a host, made on first use from the key `read_key()` returns (one Secrets Manager
    read per instance, never on the event loop). A failed read is not remembered: the next blob GET tries
    again. Once the key is read, a URL needs no call: an async route makes it on the event loop."""

    def __init__(self, base_url: str, key_id: str, read_key: Callable[[], str]):
        self._base, self._key_id, self._read = base_url, key_id, read_key
        self._signer: EdgeSigner | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """True once the key is loaded: signing then makes no call."""
        return self._signer is not None

    def url(self, location: str, ttl: int) -> str:
        signer = self._signer
        if signer is None:
            forbid_on_event_loop()  # the key's read blocks: a worker thread makes it (`dockyard.blocking`)
            with self._lock:
                if self._signer is None:
                    self._signer = EdgeSigner(self._base, self._key_id, self._read())
                signer = self._signer
        return signer.url(location, ttl)


def read_key(client, secret_id: str) -> str:
    """The private key PEM kept in the edge signing secret."""
    return client.get_secret_value(SecretId=secret_id)["SecretString"]
