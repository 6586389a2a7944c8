"""Who is looking at a page, and may they do this? Sign-in with an access key, the session cookie, CSRF.

- **Sign-in** checks the key's id and secret as the token endpoint does (one key read), then keeps a
  short-lived signed token from the registry's token service in a cookie (`HttpOnly; Secure;
  SameSite=Strict`, path `/ui/`). The token holds the key's rules: a page view verifies it locally, with no
  read. It is of its own kind (`use: session`), so no registry endpoint accepts it.
- **Renewal.** A page view with a token older than `RENEW_AFTER` re-reads the key (one read) and gets a new
  token with the key's current rules, so a revoked key's session ends within `RENEW_AFTER` seconds of
  activity and `SESSION_TTL` of idleness; no session outlives `MAX_SESSION`.
- **CSRF.** Every state change is a POST whose form carries the value of the `dockyard_csrf` cookie, which is
  also sealed into the session token at sign-in; a POST whose `Origin` or `Sec-Fetch-Site` says it comes
  from another site is refused before that.
- With access control off (local development), there is no sign-in: the page may do everything, as the
  API does, and CSRF protection still applies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

from dockyard.auth import keys
from dockyard.auth.policies import Policy
from dockyard.auth.service import ANONYMOUS, Principal
from dockyard.auth.tokens import SESSION, InvalidToken
from dockyard.errors import Err, RegistryError
from dockyard.registry import Registry
from dockyard.resources import BOOTSTRAP_KEY_ID
from dockyard.ui.web import PREFIX, SignInNeeded

SESSION_COOKIE = "dockyard_session"
CSRF_COOKIE = "dockyard_csrf"
COOKIE_PATH = f"{PREFIX}/"
SESSION_TTL = 900
RENEW_AFTER = 300
MAX_SESSION = 12 * 3600
MAX_COOKIE = 3800  # browsers keep cookies up to about 4 KB
MAX_FORM = 64 * 1024


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: a signed-in key, anonymous, or anyone (access control off)."""

    principal: Principal | None
    anonymous: Policy
    open: bool  # access control is off
    csrf: str
    name: str | None = None  # the key's name

    @property
    def signed_in(self) -> bool:
        return self.principal is not None

    @property
    def is_admin(self) -> bool:
        return self.open or bool(self.principal and self.principal.is_admin)

    def can(self, repository: str, action: str) -> bool:
        if self.open or (self.principal is not None and self.principal.can(repository, action)):
            return True
        return action == "pull" and self.anonymous.allows(repository, "pull")

    def require(self, repository: str, action: str) -> None:
        """Raise unless this viewer may `action` on `repository` (as the API's scope check would)."""
        if not self.can(repository, action):
            if not self.signed_in:
                raise SignInNeeded()
            raise RegistryError(Err.DENIED, f"key {self.principal.subject} may not {action} {repository}")

    def require_admin(self) -> None:
        if not self.is_admin:
            if not self.signed_in:
                raise SignInNeeded()
            raise RegistryError(Err.DENIED, f"key {self.principal.subject} is not an admin")


def cookie(name: str, value: str, max_age: int | None) -> str:
    parts = [f"{name}={value}", f"Path={COOKIE_PATH}", "HttpOnly", "Secure", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def _set_cookie(request: Request, header: str) -> None:
    request.state.set_cookies = [*getattr(request.state, "set_cookies", []), header]


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(b"dockyard-session:" + secret.encode()).hexdigest()[:32]


def current_viewer(request: Request, registry: Registry) -> Viewer:
    """The viewer of this request, renewing its session token when due (the new cookie goes out with the
    response)."""
    csrf = request.cookies.get(CSRF_COOKIE)
    if not csrf or len(csrf) > 100:
        csrf = secrets.token_urlsafe(24)
        _set_cookie(request, cookie(CSRF_COOKIE, csrf, None))
    if not registry.settings.auth:
        viewer = Viewer(None, Policy(), True, csrf)
    else:
        principal, name = _session(request, registry)
        viewer = Viewer(principal, registry.auth.anonymous_policy(), False, csrf, name)
    request.state.viewer = viewer
    request.state.principal = viewer.principal.subject if viewer.principal else ANONYMOUS
    return viewer


def _session(request: Request, registry: Registry) -> tuple[Principal | None, str | None]:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None, None
    try:
        claims = registry.auth.tokens.verify(token, SESSION)
    except InvalidToken:
        _set_cookie(request, cookie(SESSION_COOKIE, "", 0))
        return None, None
    data = claims.extra
    now = time.time()
    if now - data.get("iat", 0) > RENEW_AFTER:
        renewed = _renew(registry, claims.subject, data, now)
        if renewed is None:
            _set_cookie(request, cookie(SESSION_COOKIE, "", 0))
            return None, None
        data = renewed
        _set_cookie(request, cookie(SESSION_COOKIE, _issue(registry, claims.subject, data, now), SESSION_TTL))
    return Principal(claims.subject, policy=Policy.from_data(data["rules"])), data.get("name")


def _renew(registry: Registry, subject: str, data: dict, now: float) -> dict | None:
    """The session's claims with the key's current rules, or None when the key (or the session) is over."""
    if now - data.get("auth_time", 0) > MAX_SESSION:
        return None
    if subject == BOOTSTRAP_KEY_ID:
        secret = registry.auth.bootstrap_admin()
        return data if secret and hmac.compare_digest(_fingerprint(secret), data.get("fp", "")) else None
    record = registry.auth.store.get_access_key(subject)
    if record is None or not keys.usable(record, now):
        return None
    return {**data, "rules": Policy.from_data(record.rules).as_data(), "name": record.name}


def _issue(registry: Registry, subject: str, data: dict, now: float) -> str:
    token, _, _ = registry.auth.tokens.issue(subject, [], {**data, "iat": int(now)}, now=now, use=SESSION,
                                             ttl=SESSION_TTL)
    return token


def sign_in(request: Request, registry: Registry, key_id: str, secret: str) -> None:
    """Check the key and start a session (cookies set on the response), or raise UNAUTHORIZED."""
    principal = registry.auth.key_principal(key_id, secret, cached=False) if key_id and secret else None
    if principal is None or principal.policy is None:
        raise RegistryError(Err.UNAUTHORIZED, "unknown, revoked or expired key, or wrong secret")
    record = registry.auth.store.get_access_key(key_id) if key_id != BOOTSTRAP_KEY_ID else None
    csrf = secrets.token_urlsafe(24)  # a new one: a value planted before sign-in is worth nothing after
    now = time.time()
    data = {"rules": principal.policy.as_data(), "name": record.name if record else "bootstrap admin",
            "csrf": csrf, "auth_time": int(now)}
    if key_id == BOOTSTRAP_KEY_ID:
        data["fp"] = _fingerprint(secret)
    token = _issue(registry, key_id, data, now)
    if len(token) > MAX_COOKIE:
        raise RegistryError(Err.INVALID_PARAMETER, "this key has too many rules to sign in to the web page")
    _set_cookie(request, cookie(CSRF_COOKIE, csrf, None))
    _set_cookie(request, cookie(SESSION_COOKIE, token, SESSION_TTL))


def sign_out(request: Request) -> None:
    _set_cookie(request, cookie(SESSION_COOKIE, "", 0))
    _set_cookie(request, cookie(CSRF_COOKIE, "", 0))


# --- state changes -------------------------------------------------------------------------------------


def own_origins(request: Request, registry: Registry) -> set[str]:
    """The origins a form of this site is posted from: the registry's public URL (a custom domain or CDN in
    front), and the host this request was sent to (which no other site can choose)."""
    from dockyard.api.public import public_base

    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    return {public_base(request, registry.settings), f"{scheme}://{request.headers.get('host') or request.url.netloc}"}


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form (the last value of each field)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise RegistryError(Err.INVALID_PARAMETER, "the form is too large")
    return {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def check_state_change(request: Request, registry: Registry, form: dict[str, str], viewer: Viewer | None) -> None:
    """Refuse a POST that another site could have made: wrong origin, or no matching CSRF token."""
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    if (origin is not None and origin not in own_origins(request, registry)) or site not in (None, "same-origin"):
        raise RegistryError(Err.DENIED, "this form was sent from another site")
    sent, cookie_value = form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
    if not sent or not cookie_value or not hmac.compare_digest(sent, cookie_value):
        raise RegistryError(Err.DENIED, "this form has expired or was not made by this page; reload it and "
                                        "try again")
    if viewer is not None and viewer.signed_in:
        sealed = _sealed_csrf(request, registry)
        if not sealed or not hmac.compare_digest(sealed, sent):
            raise RegistryError(Err.DENIED, "this form does not belong to the signed-in session")


def _sealed_csrf(request: Request, registry: Registry) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    try:
        return registry.auth.tokens.verify(token, SESSION).extra.get("csrf") if token else None
    except InvalidToken:
        return None
