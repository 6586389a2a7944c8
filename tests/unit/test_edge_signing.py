"""CloudFront signed URLs for edge downloads, checked against the public key by CloudFront's documented rules
(`tests.support.edge`), not by our signer."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

import pytest

from dockyard.storage.edge import WINDOW, EdgeDownloads, EdgeSigner, generate_key, load_key
from tests.support.edge import Refused, canned_policy, verify_signed_url

BASE, KEY_ID = "https://d111111abcdef8.cloudfront.net", "K2JCJMDEHXQW5F"
LOCATION = "blobs/sha256/ab/ab" + "0" * 62


@pytest.fixture(scope="module")
def keys():
    return generate_key()


@pytest.fixture
def signer(keys):
    return EdgeSigner(BASE, KEY_ID, keys[0])


def test_the_url_is_the_blob_path_under_the_distribution_signed_with_a_canned_policy(signer, keys):
    now = time.time()
    url = signer.url(LOCATION, 300, now=now)
    assert url.startswith(f"{BASE}/sha256/ab/ab{'0' * 62}?Expires=")  # the origin path is the blob prefix
    assert verify_signed_url(url, keys[1], KEY_ID, now=now) == "/sha256/ab/ab" + "0" * 62
    expires = int(url.split("Expires=")[1].split("&")[0])
    assert now + 300 <= expires < now + 300 + WINDOW and expires % WINDOW == 0
    signature = url.split("Signature=")[1].split("&")[0]
    assert set(signature) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~")
    assert not set(signature) & set("+/=")
    assert len(base64.b64decode(signature.translate(str.maketrans("-_~", "+=/")))) == 256  # RSA 2048


def test_a_url_never_expires_before_its_ttl_even_a_fraction_of_a_second_past_a_window(signer):
    for fraction in (0.0, 0.001, 0.36, 0.999):  # now + ttl a fraction past a whole window (the CI run that failed)
        now = 1796228160 + fraction
        expires = int(signer.url(LOCATION, 300, now=now).split("Expires=")[1].split("&")[0])
        assert now + 300 <= expires < now + 300 + WINDOW and expires % WINDOW == 0, fraction


def test_the_signature_is_rsa_sha1_over_exactly_the_canned_policy(signer, keys):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    url = signer.url(LOCATION, 60)
    resource, query = url.split("?")
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    signature = base64.b64decode(params["Signature"].translate(str.maketrans("-_~", "+=/")))
    public = load_key(keys[0]).public_key()
    public.verify(signature, canned_policy(resource, int(params["Expires"])), padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(Exception):  # the same signature over SHA-256 is not what was signed
        public.verify(signature, canned_policy(resource, int(params["Expires"])), padding.PKCS1v15(),
                      hashes.SHA256())


def test_cloudfront_would_refuse_a_changed_url_another_key_or_an_expired_one(signer, keys):
    now = time.time()
    url = signer.url(LOCATION, 300, now=now)
    with pytest.raises(Refused, match="does not match"):
        verify_signed_url(url.replace("/sha256/ab/", "/sha256/cd/"), keys[1], KEY_ID, now=now)
    with pytest.raises(Refused, match="does not match"):
        verify_signed_url(url, generate_key()[1], KEY_ID, now=now)
    with pytest.raises(Refused, match="trusted key group"):
        verify_signed_url(url, keys[1], "KOTHERKEY", now=now)
    with pytest.raises(Refused, match="expired"):
        verify_signed_url(url, keys[1], KEY_ID, now=now + 300 + WINDOW)
    expires = url.split("Expires=")[1].split("&")[0]
    with pytest.raises(Refused, match="does not match"):  # a later expiry is not signed
        verify_signed_url(url.replace(f"Expires={expires}", f"Expires={int(expires) + 3600}"), keys[1], KEY_ID,
                          now=now)


def test_only_blobs_are_signed(signer):
    for location in ("uploads/abc/tail/1", "manifests/sha256/ab/" + "a" * 64, "../blobs/x"):
        with pytest.raises(ValueError, match="only blobs"):
            signer.url(location, 60)


def test_urls_of_a_window_are_made_once_and_a_new_window_signs_again(signer):
    now = (int(time.time()) // WINDOW) * WINDOW + 1.0
    first = signer.url(LOCATION, 300, now=now)
    assert signer.url(LOCATION, 300, now=now + WINDOW - 2) == first
    later = signer.url(LOCATION, 300, now=now + WINDOW)
    assert later != first and urlsplit(later).path == urlsplit(first).path
    assert signer.url(LOCATION.replace("ab0", "ab1"), 300, now=now) != first


def test_keys_that_cloudfront_would_not_take_are_refused_without_showing_them():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    curve = ec.generate_private_key(ec.SECP256R1())
    for key in (small, curve):
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        with pytest.raises(ValueError, match="RSA 2048"):
            load_key(pem)
    with pytest.raises(ValueError, match="does not hold a PEM private key") as refused:
        load_key("not-a-key-but-a-secret-value")
    assert "secret-value" not in str(refused.value)


def test_the_key_is_read_once_and_a_failed_read_is_tried_again(keys):
    reads = []

    def read():
        reads.append(1)
        if len(reads) == 1:
            raise ConnectionError("stalled")
        return keys[0]

    downloads = EdgeDownloads(BASE, KEY_ID, read)
    assert not downloads.ready
    with pytest.raises(ConnectionError):
        downloads.url(LOCATION, 60)
    for _ in range(3):
        verify_signed_url(downloads.url(LOCATION, 60), keys[1], KEY_ID)
    assert downloads.ready and len(reads) == 2


def test_on_the_event_loop_the_key_is_never_read_but_a_loaded_key_signs(keys):
    """`dockyard.blocking`: a blob GET tries its work on the event loop first; the key's first read must
    move it to a worker thread (WouldBlock) before it takes the lock a stalled read may hold."""
    import asyncio

    from dockyard.blocking import WouldBlock, without_blocking

    reads = []
    downloads = EdgeDownloads(BASE, KEY_ID, lambda: reads.append(1) or keys[0])

    def on_loop():
        from dockyard.blocking import _ON_EVENT_LOOP

        marker = _ON_EVENT_LOOP.set(True)
        try:
            return downloads.url(LOCATION, 60)
        finally:
            _ON_EVENT_LOOP.reset(marker)

    with pytest.raises(WouldBlock):
        on_loop()
    assert reads == [] and not downloads.ready
    url = asyncio.run(without_blocking(downloads.url, LOCATION, 60))  # moved to a worker thread: read there
    verify_signed_url(url, keys[1], KEY_ID)
    assert reads == [1] and on_loop() == url  # loaded: signed on the loop, no read
