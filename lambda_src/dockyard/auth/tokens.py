"""Short-lived signed JWTs (HS256, PyJWT) in the Docker registry token format, with key rotation by `kid`.

Verifying a token is local: the keyring is loaded once per process (from Secrets Manager), so no AWS call
is made per request.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from dockyard.auth.scopes import Access

ALGORITHM = "HS256"
ISSUER = "dockyard-token"
LEEWAY = 30  # seconds of clock skew tolerated between hosts
ACCESS, REFRESH = "access", "refresh"
SESSION = "session"  # a web page session (`dockyard.ui.session`): no registry endpoint accepts it


class InvalidToken(Exception):
    """The token is malformed, forged, expired, for another audience, or of the wrong kind."""


@dataclass(frozen=True)
class Keyring:
    """Signing keys by id; new tokens are signed with `current`, any listed key still verifies."""

    current: str
    keys: dict[str, bytes]

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        """`{"current": "k2", "k2": "<secret>", "k1": "<older secret>"}` (the format of the stack's secret)."""
        data = json.loads(text)
        current = data.pop("current", None)
        keys = {kid: value.encode() for kid, value in data.items() if isinstance(value, str) and len(value) >= 32}
        if current not in keys:
            raise ValueError("the signing secret must name its current key, of at least 32 characters")
        return cls(current, keys)

    @staticmethod
    def generate_json(kid: str = "k1") -> str:
        return json.dumps({"current": kid, kid: secrets.token_urlsafe(48)})


@dataclass(frozen=True)
class Claims:
    subject: str
    access: tuple[Access, ...]
    extra: dict
    expires: int = 0  # `exp`, in seconds since the epoch


class Tokens:
    def __init__(self, keyring: Keyring, service: str, ttl: int, refresh_ttl: int):
        self.keyring, self.service, self.ttl, self.refresh_ttl = keyring, service, ttl, refresh_ttl

    def _sign(self, claims: dict) -> str:
        import jwt  # imported on first use: PyJWT loads `cryptography` when present, 12 MB we rarely need

        kid = self.keyring.current
        return jwt.encode(claims, self.keyring.keys[kid], algorithm=ALGORITHM, headers={"kid": kid})

    def issue(self, subject: str, access: list[Access], extra: dict | None = None,
              now: float | None = None, use: str = ACCESS, ttl: int | None = None) -> tuple[str, int, int]:
        """An access token (or, with `use`, another kind); returns (token, expires_in, issued_at)."""
        issued = int(now if now is not None else time.time())
        ttl = ttl or self.ttl
        claims = {"iss": ISSUER, "sub": subject, "aud": self.service, "iat": issued, "nbf": issued,
                  "exp": issued + ttl, "jti": secrets.token_hex(12), "use": use,
                  "access": [a.claim() for a in access]}
        if extra:
            claims["dockyard"] = extra
        return self._sign(claims), ttl, issued

    def issue_refresh(self, subject: str, now: float | None = None) -> str:
        """A long-lived token that only the token endpoint accepts, to mint access tokens (docker login)."""
        issued = int(now if now is not None else time.time())
        return self._sign({"iss": ISSUER, "sub": subject, "aud": self.service, "iat": issued, "nbf": issued,
                           "exp": issued + self.refresh_ttl, "jti": secrets.token_hex(12), "use": REFRESH})

    def verify(self, token: str, use: str = ACCESS) -> Claims:
        import jwt

        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keyring.keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise InvalidToken("unknown signing key")
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.service, issuer=ISSUER,
                                leeway=LEEWAY, options={"require": ["exp", "iat", "nbf", "aud", "iss", "sub"]})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if claims.get("use") != use:
            raise InvalidToken(f"not an {use} token")
        access = tuple(Access(a["type"], a["name"], frozenset(a["actions"]))
                       for a in claims.get("access", []) if isinstance(a, dict))
        return Claims(claims["sub"], access, claims.get("dockyard") or {}, int(claims["exp"]))
