"""Managing access: create, list and revoke keys; set what anonymous callers may pull."""

from __future__ import annotations

import time

from dockyard.auth import keys
from dockyard.auth.policies import Policy, PolicyError, Rule
from dockyard.domain.pages import page_size, within_bytes
from dockyard.errors import Err, RegistryError
from dockyard.storage.interfaces import AccessStore
from dockyard.storage.types import AccessKeyRecord, Page

MAX_NAME = 128
# Rules of one key (or anonymous patterns): each is stored in one item, within DynamoDB's 400 KB.
MAX_RULES = 100


def describe(record: AccessKeyRecord, now: float | None = None) -> dict:
    """What the admin API shows of a key: never the secret, nor its hash."""
    now = time.time() if now is None else now
    state = "revoked" if record.revoked_at else "expired" if record.expires_at and record.expires_at <= now \
        else "active"
    return {"id": record.id, "name": record.name, "allow": [f"{p}={','.join(a)}" for p, a in record.rules],
            "created_at": record.created_at, "expires_at": record.expires_at, "last_used": record.last_used,
            "revoked_at": record.revoked_at, "state": state}


class AccessAdmin:
    def __init__(self, store: AccessStore, forget=lambda key_id=None: None):
        """`forget(key_id)` / `forget()` drops this instance's cached credentials or anonymous policy."""
        self.store, self.forget = store, forget

    def create_key(self, name: str, allow: list[str], expires_in: int | None = None,
                   key_id: str | None = None, secret: str | None = None) -> tuple[dict, str]:
        """A new key; returns (its description, its secret). The secret is never shown again."""
        if not name or len(name) > MAX_NAME:
            raise RegistryError(Err.INVALID_PARAMETER, f"a key needs a name of 1 to {MAX_NAME} characters")
        if expires_in is not None and expires_in <= 0:
            raise RegistryError(Err.INVALID_PARAMETER, "expiry must be in the future")
        try:
            keys.check_chosen(key_id, secret)
        except ValueError as exc:
            raise RegistryError(Err.INVALID_PARAMETER, str(exc)) from None
        policy = parse_rules(allow)
        expires_at = int(time.time()) + expires_in if expires_in else None
        record, secret = keys.make_record(name, policy, key_id, secret, expires_at)
        self.store.put_access_key(record)
        return describe(record), secret

    def list_keys(self, n: int | None = None, last: str | None = None) -> Page:
        """Key descriptions by id after `last`, as many as `n` asks and a page's bytes hold."""
        if n == 0:
            return Page([], None)
        if last is not None and not 0 < len(last) <= MAX_NAME:
            raise RegistryError(Err.INVALID_PARAMETER, "last must be a key id")
        now = time.time()
        page = self.store.list_access_keys(page_size(n), last)
        described, cut = within_bytes([describe(record, now) for record in page.items], lambda key: key["id"])
        return Page(described, cut or page.last)

    def get_key(self, key_id: str) -> dict:
        """One key's description (one read), or NOT_FOUND."""
        record = self.store.get_access_key(key_id) if keys.is_key_id(key_id) else None
        if record is None:
            raise RegistryError(Err.NOT_FOUND, f"no key {key_id[:64]!r}")
        return describe(record)

    def revoke_key(self, key_id: str) -> dict:
        if not self.store.revoke_access_key(key_id, int(time.time())):
            raise RegistryError(Err.NOT_FOUND, f"no key {key_id[:64]!r}")
        self.forget(key_id)
        return describe(self.store.get_access_key(key_id))

    def anonymous(self) -> list[str]:
        return [pattern for pattern, _ in self.store.get_anonymous_rules()]

    def set_anonymous(self, patterns: list[str]) -> list[str]:
        """Repositories anyone may pull without credentials (public repositories); [] makes none public."""
        policy = parse_rules([f"{pattern}=pull" for pattern in patterns]) if patterns else Policy()
        self.store.put_anonymous_rules(policy.as_data())
        self.forget()
        return patterns


def parse_rules(allow: list[str]) -> Policy:
    if not allow:
        raise RegistryError(Err.INVALID_PARAMETER, "at least one rule PATTERN=ACTIONS is needed")
    if len(allow) > MAX_RULES:
        raise RegistryError(Err.INVALID_PARAMETER, f"at most {MAX_RULES} rules")
    try:
        return Policy(tuple(Rule.parse(text) for text in allow))
    except PolicyError as exc:
        raise RegistryError(Err.INVALID_PARAMETER, str(exc)) from None
