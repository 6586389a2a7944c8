"""Access keys: a random id and a high-entropy secret, shown once, stored as a salted hash.

Secrets carry 256 bits of randomness, so a keyed SHA-256 protects them as well as a slow password hash
would, at a fraction of the cost per token request. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from dockyard.auth.policies import Policy
from dockyard.resources import BOOTSTRAP_KEY_ID
from dockyard.storage.types import AccessKeyRecord

ID_PREFIX, SECRET_PREFIX = "dyk_", "dys_"
# Generated ids are `dyk_` and 20 characters; ids chosen by an operator (DOCKYARD_ADMIN_KEY_ID) may be any
# such token.
_ID = re.compile(r"[A-Za-z0-9_.-]{3,64}\Z")
# A secret chosen by an operator must be at least this long (a generated one has 43 random characters).
MIN_SECRET = 32


def new_key_id() -> str:
    return ID_PREFIX + "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(20))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def is_key_id(value: str) -> bool:
    return bool(_ID.match(value))


def check_chosen(key_id: str | None, secret: str | None) -> None:
    """Refuse an operator-chosen id or secret (DOCKYARD_ADMIN_KEY_ID / _SECRET) that could never
    authenticate, or that is easy to guess; raises ValueError saying why."""
    if key_id is not None:
        if key_id == BOOTSTRAP_KEY_ID:
            raise ValueError(f"{key_id!r} is reserved for a deployed stack's bootstrap admin key, whose "
                             "secret lives in Secrets Manager; choose another id")
        if not is_key_id(key_id):
            raise ValueError(f"{key_id[:80]!r} is not a key id: use 3 to 64 of A-Z a-z 0-9 _ . - "
                             "(no ':', which ends the id in Basic credentials)")
    if secret is not None:
        if len(secret) < MIN_SECRET:
            raise ValueError(f"the secret has {len(secret)} characters; at least {MIN_SECRET} are needed")
        if not secret.isprintable() or any(c.isspace() for c in secret):
            raise ValueError("the secret must be printable, with no spaces or control characters")


def hash_secret(secret: str, salt: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def make_record(name: str, policy: Policy, key_id: str | None = None, secret: str | None = None,
                expires_at: int | None = None) -> tuple[AccessKeyRecord, str]:
    """A new key record and its secret (the only time the secret exists outside the client)."""
    key_id, secret = key_id or new_key_id(), secret or new_secret()
    salt = secrets.token_hex(16)
    record = AccessKeyRecord(id=key_id, name=name, rules=policy.as_data(), salt=salt,
                             secret_hash=hash_secret(secret, salt), created_at=int(time.time()),
                             expires_at=expires_at)
    return record, secret


def secret_matches(record: AccessKeyRecord, secret: str) -> bool:
    return hmac.compare_digest(hash_secret(secret, record.salt), record.secret_hash)


def usable(record: AccessKeyRecord, now: float) -> bool:
    return record.revoked_at is None and (record.expires_at is None or record.expires_at > now)
