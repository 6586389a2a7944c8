"""Token signing and validation: expiry and clock skew, audience, algorithm, tampering, rotation."""

import base64
import json
import time

import jwt
import pytest

from dockyard.auth.scopes import Access
from dockyard.auth.tokens import ISSUER, LEEWAY, REFRESH, InvalidToken, Keyring, Tokens

KEYRING = Keyring("k1", {"k1": b"a" * 48})
PULL = [Access("repository", "team/app", frozenset({"pull"}))]


def tokens(keyring=KEYRING, service="dockyard", ttl=300) -> Tokens:
    return Tokens(keyring, service, ttl, 3600)


def test_issue_then_verify():
    token, expires_in, issued_at = tokens().issue("dyk_x", PULL, {"pull": ["team/*"]})
    claims = tokens().verify(token)
    assert (claims.subject, claims.access, claims.extra) == ("dyk_x", tuple(PULL), {"pull": ["team/*"]})
    assert expires_in == 300 and abs(issued_at - time.time()) < 5
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and header["kid"] == "k1"


def test_expired_token_is_refused():
    token, _, _ = tokens(ttl=60).issue("dyk_x", PULL, now=time.time() - 60 - LEEWAY - 5)
    with pytest.raises(InvalidToken, match="expired"):
        tokens().verify(token)


def test_clock_skew_within_the_leeway_is_tolerated():
    expired_just_now, _, _ = tokens(ttl=60).issue("dyk_x", PULL, now=time.time() - 60 - LEEWAY / 2)
    assert tokens().verify(expired_just_now).subject == "dyk_x"
    from_the_future, _, _ = tokens().issue("dyk_x", PULL, now=time.time() + LEEWAY / 2)
    assert tokens().verify(from_the_future).subject == "dyk_x"


def test_token_from_the_far_future_is_refused():
    token, _, _ = tokens().issue("dyk_x", PULL, now=time.time() + LEEWAY + 60)
    with pytest.raises(InvalidToken):
        tokens().verify(token)


def test_wrong_audience_is_refused():
    token, _, _ = tokens(service="another-registry").issue("dyk_x", PULL)
    with pytest.raises(InvalidToken, match="(?i)audience"):
        tokens().verify(token)


def test_none_algorithm_is_refused():
    claims = {"iss": ISSUER, "sub": "dyk_x", "aud": "dockyard", "iat": int(time.time()), "nbf": int(time.time()),
              "exp": int(time.time()) + 300, "use": "access", "access": [a.claim() for a in PULL]}

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{part(claims)}."
    with pytest.raises(InvalidToken):
        tokens().verify(unsigned)


def test_tampered_claims_are_refused():
    token, _, _ = tokens().issue("dyk_x", PULL)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["access"][0]["actions"] = ["pull", "push", "delete"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        tokens().verify(f"{header}.{forged}.{signature}")


def test_token_signed_with_another_key_is_refused():
    other = Keyring("k1", {"k1": b"b" * 48})
    token, _, _ = tokens(other).issue("dyk_x", PULL)
    with pytest.raises(InvalidToken):
        tokens().verify(token)


def test_rotation_old_kid_still_verifies_new_one_signs():
    old_token, _, _ = tokens().issue("dyk_x", PULL)
    rotated = Keyring("k2", {"k2": b"c" * 48, "k1": b"a" * 48})
    new_token, _, _ = tokens(rotated).issue("dyk_x", PULL)
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    assert tokens(rotated).verify(old_token).subject == "dyk_x"
    with pytest.raises(InvalidToken, match="unknown signing key"):
        tokens().verify(new_token)  # a host that does not know k2 yet


def test_refresh_and_access_tokens_are_not_interchangeable():
    refresh = tokens().issue_refresh("dyk_x")
    access, _, _ = tokens().issue("dyk_x", PULL)
    assert tokens().verify(refresh, use=REFRESH).subject == "dyk_x"
    with pytest.raises(InvalidToken):
        tokens().verify(refresh)
    with pytest.raises(InvalidToken):
        tokens().verify(access, use=REFRESH)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x"])
def test_garbage_is_refused(garbage):
    with pytest.raises(InvalidToken):
        tokens().verify(garbage)


def test_keyring_format():
    keyring = Keyring.from_json(Keyring.generate_json("k7"))
    assert keyring.current == "k7" and len(keyring.keys["k7"]) >= 32
    with pytest.raises(ValueError):
        Keyring.from_json('{"current": "k1", "k1": "short"}')
    with pytest.raises(ValueError):
        Keyring.from_json('{"k1": "' + "x" * 40 + '"}')


class CountingTokens(Tokens):
    verified = 0

    def verify(self, token, use="access"):
        CountingTokens.verified += 1
        return super().verify(token, use)


def _auth(keyrings: list):
    """An Auth whose keyring comes from `keyrings` (the last one each time it is read)."""
    from dockyard.auth.service import Auth

    return Auth(None, tokens_factory=lambda: CountingTokens(keyrings[-1], "dockyard", 300, 3600))


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch):
    from dockyard.errors import RegistryError

    auth = _auth([KEYRING])
    token, _, _ = tokens().issue("dyk_x", PULL)
    CountingTokens.verified = 0
    first = auth.authenticate(f"Bearer {token}")
    assert auth.authenticate(f"Bearer {token}") == first and first.can("team/app", "pull")
    assert CountingTokens.verified == 1
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(RegistryError):
        auth.authenticate(f"Bearer {tampered}")  # another string: verified, and refused
    assert CountingTokens.verified == 2
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 301)  # past its expiry: verified again (PyJWT's clock decides)
    auth.authenticate(f"Bearer {token}")
    assert CountingTokens.verified == 3


def test_a_keyring_reread_forgets_verified_tokens(monkeypatch):
    """A key removed from the keyring stops vouching for its tokens at the next re-read, as without the cache."""
    from dockyard.auth.service import KEYRING_SECONDS
    from dockyard.errors import RegistryError

    keyrings = [Keyring("k1", {"k1": b"a" * 48})]
    auth = _auth(keyrings)
    token, _, _ = tokens(ttl=3 * KEYRING_SECONDS).issue("dyk_x", PULL)
    auth.authenticate(f"Bearer {token}")
    keyrings.append(Keyring("k2", {"k2": b"b" * 48}))  # k1 withdrawn
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + KEYRING_SECONDS + 1)
    with pytest.raises(RegistryError, match="unknown signing key"):
        auth.authenticate(f"Bearer {token}")
