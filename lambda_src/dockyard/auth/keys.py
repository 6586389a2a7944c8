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
from dockyard.storage.types import AccessKeyRecord

ID_PREFIX, SECRET_PREFIX = "dyk_", "dys_"
# Generated ids are `dyk_` and 20 characters; ids chosen by an operator (DOCKYARD_ADMIN_KEY_ID) may be any
# such token.
_ID = re.compile(r"[A-Za-z0-9_.-]{3,64}\Z")


def new_key_id() -> str:
    return ID_PREFIX + "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(20))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def is_key_id(value: str) -> bool:
    return bool(_ID.match(value))


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
