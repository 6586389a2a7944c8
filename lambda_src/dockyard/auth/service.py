"""Who is calling, and may they do this? Credentials in, a principal out; scopes checked per route.

- Bearer tokens are verified locally (no AWS call), once per token and instance: a verified token is
  remembered until it expires (or the keyring is re-read), so a pull's many requests verify it once.
- Basic credentials (an access key id and secret), on registry endpoints and the token endpoint alike, cost
  one DynamoDB read, then are cached for a minute per warm instance, so a client sending them on every
  request, or asking for a token per pull, costs nothing more. A revocation takes effect at once on the
  instance that made it, and on every other within that minute; the tokens a key got before live out their
  `token_ttl` (5 minutes) in any case, as the token flow has it. A wrong secret is never cached.
- The token endpoint grants the intersection of what was asked and what the key's policy allows.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase

from dockyard.auth import keys
from dockyard.auth.header import Authorization
from dockyard.auth.policies import ADMIN, Policy
from dockyard.auth.scopes import CATALOG, REGISTRY, REPOSITORY, Access, parse_scope
from dockyard.auth.throttle import Throttle
from dockyard.auth.tokens import ACCESS, REFRESH, InvalidToken, Tokens
from dockyard.blocking import forbid_on_event_loop
from dockyard.errors import Err, RegistryError
from dockyard.resources import BOOTSTRAP_KEY_ID
from dockyard.storage.interfaces import AccessStore

ANONYMOUS = "anonymous"
CACHE_SECONDS = 60  # how long a verified key (or the anonymous policy) is trusted without a new read
TOUCH_EVERY = 3600  # last-used time is written at most this often per key
BOOTSTRAP_SECONDS = 300  # how long the bootstrap admin secret is trusted without a new read
KEYRING_SECONDS = 900  # the signing keyring is re-read this often, to pick up a new current key
KEYRING_RETRY_SECONDS = 30  # an unknown key id re-reads the keyring at most this often
VERIFIED_TOKENS = 1000  # verified tokens remembered per instance, each until it expires
ADMIN_SCOPE = Access(REGISTRY, "admin", frozenset({"*"}))


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a key (with its policy) or a token (with what it grants)."""

    subject: str
    policy: Policy | None = None
    grants: tuple[Access, ...] | None = None
    pull_patterns: tuple[str, ...] = ()

    def can(self, repository: str, action: str) -> bool:
        if self.policy is not None:
            return self.policy.allows(repository, action)
        return any(a.type == REPOSITORY and a.name == repository and (action in a.actions or "*" in a.actions)
                   for a in self.grants or ())

    @property
    def is_admin(self) -> bool:
        if self.policy is not None:
            return self.policy.is_admin
        return any(a.type == REGISTRY and a.name == ADMIN_SCOPE.name for a in self.grants or ())


class Auth:
    def __init__(self, store: AccessStore, tokens_factory, bootstrap_factory=None):
        """`tokens_factory()` builds the token service (reading the keyring) on first use;
        `bootstrap_factory()` returns the bootstrap admin key's secret, or None."""
        self.store = store
        self._tokens_factory, self._bootstrap_factory = tokens_factory, bootstrap_factory
        self._lock = threading.Lock()
        self._tokens: Tokens | None = None
        self._tokens_loaded = 0.0
        self._forced_reload = 0.0
        self._bootstrap: tuple[float, str | None] | None = None
        self._keys: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._refreshable: dict[str, tuple[float, Policy]] = {}  # key id -> (until, its policy), for refreshes
        self._anonymous: tuple[float, Policy] | None = None
        self.throttle = Throttle()
        self._verified: dict[str, tuple[float, Principal]] = {}

    @property
    def tokens(self) -> Tokens:
        """The token service; its keyring is re-read every KEYRING_SECONDS to follow a rotation."""
        if self._tokens is None or time.time() - self._tokens_loaded > KEYRING_SECONDS:
            self._reload_tokens()
        return self._tokens

    def _reload_tokens(self, forced: bool = False) -> None:
        forbid_on_event_loop()  # neither the lock nor Secrets Manager is waited for on the event loop
        if forced:
            self._forced_reload = time.time()
        with self._lock:
            self._tokens = self._tokens_factory()
            self._tokens_loaded = time.time()
            self._verified = {}  # a key gone from the keyring no longer vouches for its tokens

    def _verify(self, token: str, use: str = ACCESS):
        """Verify a token; a key id we do not know yet (a rotation elsewhere) triggers one early re-read."""
        try:
            return self.tokens.verify(token, use)
        except InvalidToken as exc:
            if "unknown signing key" not in str(exc) or time.time() - self._forced_reload < KEYRING_RETRY_SECONDS:
                raise
            self._reload_tokens(forced=True)
            return self.tokens.verify(token, use)

    # --- authentication -------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The caller behind an Authorization header; None when there is none. Bad credentials raise 401."""
        credentials = Authorization.parse(authorization)
        if credentials is None:
            return None
        if credentials.scheme == "bearer":
            return self._bearer(credentials.value)
        if credentials.scheme == "basic":
            principal = self.key_principal(*credentials.basic())
            if principal is None:
                raise RegistryError(Err.UNAUTHORIZED, "unknown, revoked or expired key, or wrong secret")
            return principal
        raise RegistryError(Err.UNAUTHORIZED, f"unsupported authorization scheme {credentials.scheme[:20]!r}")

    def _bearer(self, token: str) -> Principal:
        """The principal of an access token; verified on first sight, then remembered until it expires."""
        verified = self._verified.get(token)
        if verified is not None and verified[0] > time.time() and self._tokens is not None \
                and time.time() - self._tokens_loaded <= KEYRING_SECONDS:
            return verified[1]
        try:
            claims = self._verify(token)
        except InvalidToken as exc:
            raise RegistryError(Err.UNAUTHORIZED, f"invalid token: {exc}") from None
        principal = Principal(claims.subject, grants=claims.access, pull_patterns=tuple(claims.extra.get("pull", ())))
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified = {}
        self._verified[token] = (claims.expires, principal)
        return principal

    def key_principal(self, key_id: str, secret: str, cached: bool = True) -> Principal | None:
        """The principal of a valid key; with `cached`, remembered for a minute per (id, secret) pair (never past
        the key's expiry)."""
        now = time.time()
        cache_key = (key_id, hashlib.sha256(secret.encode()).hexdigest())
        hit = self._keys.get(cache_key) if cached else None
        if hit and hit[0] > now:
            return hit[1]
        self.throttle.check(key_id)  # 429 while this key id is closed by failures, before any read
        verified = self._verify_key(key_id, secret, now)
        if verified is None:
            self.throttle.failed(key_id)
            return None
        principal, expires_at = verified
        self.throttle.succeeded(key_id)
        if len(self._keys) > 1000:
            self._keys.clear()
        self._keys[cache_key] = (_trusted_until(now, expires_at), principal)
        return principal

    def _verify_key(self, key_id: str, secret: str, now: float) -> tuple[Principal, int | None] | None:
        """The key's principal and when the key expires (None: never), if the secret is its own."""
        if key_id == BOOTSTRAP_KEY_ID:
            bootstrap = self.bootstrap_admin()
            return (Principal(key_id, policy=ADMIN), None) \
                if bootstrap and hmac.compare_digest(secret.encode(), bootstrap.encode()) else None
        if not keys.is_key_id(key_id):
            return None
        record = self.store.get_access_key(key_id)
        if record is None or not keys.usable(record, now) or not keys.secret_matches(record, secret):
            return None
        if record.last_used is None or record.last_used < now - TOUCH_EVERY:
            self.store.touch_access_key(key_id, int(now), int(now) - TOUCH_EVERY)  # at most hourly: a write
        return Principal(key_id, policy=Policy.from_data(record.rules)), record.expires_at

    def bootstrap_admin(self) -> str | None:
        """The secret of the deployment's bootstrap admin key, or None. Read only when that key is
        presented, and again after BOOTSTRAP_SECONDS, so that emptying the secret disables the key."""
        now = time.time()
        if self._bootstrap is None or self._bootstrap[0] <= now:
            secret = self._bootstrap_factory() if self._bootstrap_factory else None
            self._bootstrap = (now + BOOTSTRAP_SECONDS, secret)
        return self._bootstrap[1]

    def forget(self, key_id: str | None = None) -> None:
        """Drop what this instance cached: a key's verified credentials (after a revocation), or (None) the
        anonymous policy (after a change). Other instances follow within CACHE_SECONDS."""
        if key_id is None:
            self._anonymous = None
        else:
            for cache_key in [k for k in self._keys if k[0] == key_id]:
                self._keys.pop(cache_key, None)
            self._refreshable.pop(key_id, None)

    def anonymous_policy(self) -> Policy:
        now = time.time()
        if self._anonymous is None or self._anonymous[0] <= now:
            rules = [(pattern, ["pull"]) for pattern, actions in self.store.get_anonymous_rules() if "pull" in actions]
            self._anonymous = (now + CACHE_SECONDS, Policy.from_data(rules))
        return self._anonymous[1]

    # --- authorization --------------------------------------------------------------------------------

    def authorize(self, principal: Principal | None, repository: str, action: str) -> None:
        """Raise unless the principal may do `action` on `repository`. What anonymous rules make public, a key
        holder may pull too, with Basic credentials as with a token (whose grants already include it)."""
        if principal is None:
            raise RegistryError(Err.UNAUTHORIZED, f"{action} on {repository} needs credentials")
        if principal.can(repository, action):
            return
        if principal.grants is not None:
            # A token without this scope: the client may ask the token endpoint for a better one.
            raise RegistryError(Err.INSUFFICIENT_SCOPE, f"the token does not grant {action} on {repository}")
        if action == "pull" and self.anonymous_policy().allows(repository, "pull"):
            return
        raise RegistryError(Err.DENIED, f"{principal.subject} may not {action} {repository}")

    def authorize_catalog(self, principal: Principal | None) -> None:
        """The catalog takes a token granted `registry:catalog:*` (anonymous ones too), or Basic credentials."""
        if principal is None:
            raise RegistryError(Err.UNAUTHORIZED, "the catalog needs credentials or a token")
        if principal.grants is not None and not any(a.type == REGISTRY and a.name == CATALOG
                                                    for a in principal.grants):
            raise RegistryError(Err.INSUFFICIENT_SCOPE, "the token does not grant registry:catalog:*")

    def catalog_filter(self, principal: Principal | None):
        """Which repositories the caller's catalog shows: those it may pull (None: all, auth off)."""
        if principal is None:
            return None
        if principal.policy is None:
            patterns = principal.pull_patterns
            return lambda repository: any(fnmatchcase(repository, pattern) for pattern in patterns)
        policy, public = principal.policy, self.anonymous_policy()
        return lambda repository: policy.allows(repository, "pull") or public.allows(repository, "pull")

    def could_grant(self, subject: str, repository: str, action: str) -> bool:
        """Would the token endpoint grant `action` on `repository` to this token's subject now? One read of
        its key; used only when a token lacks a scope the client may not know it needs (a mount's source)."""
        if subject == ANONYMOUS:
            policy = Policy()
        elif subject == BOOTSTRAP_KEY_ID:
            policy = ADMIN
        else:
            record = self.store.get_access_key(subject) if keys.is_key_id(subject) else None
            if record is None or not keys.usable(record, time.time()):
                return False
            policy = Policy.from_data(record.rules)
        return action in policy.actions_on(repository) | self.anonymous_policy().actions_on(repository)

    # --- the token endpoint ---------------------------------------------------------------------------

    def issue_token(self, key: tuple[str, str] | None, refresh_token: str | None, scopes: list[str],
                    offline: bool) -> dict:
        """The token endpoint's answer for a key's (id, secret), a refresh token, or nobody (anonymous)."""
        if refresh_token:
            subject, policy = self._refresh(refresh_token)
        elif key:
            principal = self.key_principal(*key)
            if principal is None:
                raise RegistryError(Err.UNAUTHORIZED, "unknown, revoked or expired key, or wrong secret")
            subject, policy = principal.subject, principal.policy
        else:
            subject, policy = ANONYMOUS, self.anonymous_policy()
        granted, extra = [], {}
        for scope in scopes:
            for access in parse_scope(scope):
                allowed = self._grant(access, policy, subject)
                if allowed is not None:
                    granted.append(allowed)
                    if access.type == REGISTRY and access.name == CATALOG:
                        # The catalog lists what the caller may pull: its own, and what anyone may.
                        extra["pull"] = sorted({*policy.pull_patterns(), *self.anonymous_policy().pull_patterns()})
        token, expires_in, issued_at = self.tokens.issue(subject, granted, extra or None)
        answer = {"token": token, "access_token": token, "expires_in": expires_in,
                  "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued_at))}
        if offline and subject not in (ANONYMOUS, BOOTSTRAP_KEY_ID):
            # The bootstrap admin gets none: its secret can be rotated, and a refresh token would outlive it.
            answer["refresh_token"] = refresh_token or self.tokens.issue_refresh(subject)
        return answer

    def _grant(self, access: Access, policy: Policy, subject: str) -> Access | None:
        if access.type == REPOSITORY:
            # What anyone may pull, a key holder may pull too.
            allowed = policy.actions_on(access.name) | self.anonymous_policy().actions_on(access.name)
            wanted = allowed if "*" in access.actions else access.actions & allowed
            return Access(REPOSITORY, access.name, frozenset(wanted)) if wanted else None
        if access.type == REGISTRY and access.name == CATALOG:
            return Access(REGISTRY, CATALOG, frozenset({"*"}))
        if access.type == REGISTRY and access.name == ADMIN_SCOPE.name and policy.is_admin:
            return ADMIN_SCOPE
        return None

    def _refresh(self, refresh_token: str) -> tuple[str, Policy]:
        """A refresh token is only as good as its key is now: its key is read (then trusted for a minute per
        instance, never past its expiry, as a key's secret is), so a revocation or expiry applies to it too."""
        try:
            subject = self._verify(refresh_token, use=REFRESH).subject
        except InvalidToken as exc:
            raise RegistryError(Err.UNAUTHORIZED, f"invalid refresh token: {exc}") from None
        now = time.time()
        hit = self._refreshable.get(subject)
        if hit is not None and hit[0] > now:
            return subject, hit[1]
        record = self.store.get_access_key(subject)
        if record is None or not keys.usable(record, now):
            raise RegistryError(Err.UNAUTHORIZED, "the key behind this refresh token is revoked or expired")
        policy = Policy.from_data(record.rules)
        if len(self._refreshable) > 1000:
            self._refreshable.clear()
        self._refreshable[subject] = (_trusted_until(now, record.expires_at), policy)
        return subject, policy


def _trusted_until(now: float, expires_at: int | None) -> float:
    """Until when a key verified at `now` is trusted without a new read: CACHE_SECONDS, never past its expiry."""
    return min(now + CACHE_SECONDS, expires_at) if expires_at else now + CACHE_SECONDS
