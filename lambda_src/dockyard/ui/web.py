"""What every page shares: the templates, the static files under content-hashed names, the security
headers, and HTML answers for errors. Nothing here runs for the registry API: the headers are set by the
pages' own route class, not by a middleware, and Jinja2 is imported on the first page view."""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from pathlib import Path
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dockyard.errors import Err, RegistryError, unexpected

log = logging.getLogger("dockyard")
HERE = Path(__file__).parent
PREFIX = "/ui"

# The page's own origin for everything; no inline script or style, no framing, no referrer leaves.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    # Not no-referrer: under it, browsers send `Origin: null` with same-origin form posts.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
MAX_PAGE = 4_000_000  # characters of a page; Lambda answers at most 6 MB
PAGE_CACHE = "no-store"  # pages show what one key may see
ASSET_CACHE = "public, max-age=31536000, immutable"  # names change with their content
CONTENT_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}


class SignInNeeded(Exception):
    """The page needs a signed-in key: answered with a redirect to the sign-in form."""


# --- static files ----------------------------------------------------------------------------------------


@functools.cache
def assets() -> dict[str, tuple[Path, str]]:
    """Each static file under its content-hashed name (`app.1a2b3c4d5e6f.css`), computed once per process."""
    found = {}
    for path in sorted((HERE / "static").iterdir()):
        if path.suffix in CONTENT_TYPES:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            found[f"{path.stem}.{digest}{path.suffix}"] = (path, CONTENT_TYPES[path.suffix])
    return found


@functools.cache
def _hashed_names() -> dict[str, str]:
    return {path.name: name for name, (path, _) in assets().items()}


def static_url(name: str) -> str:
    return f"{PREFIX}/static/{_hashed_names()[name]}"


def asset_response(name: str) -> Response:
    found = assets().get(name)
    if found is None:
        raise RegistryError(Err.NOT_FOUND, "no such file")
    path, content_type = found
    return Response(path.read_bytes(), media_type=content_type, headers={"Cache-Control": ASSET_CACHE})


def registry_host(request, registry) -> str:
    """The host name clients pull from (`docker pull HOST/REPO:TAG`): the registry's own public URL's."""
    from dockyard.api.public import public_base

    return public_base(request, registry.settings).split("://", 1)[-1].rstrip("/")


# --- templates -----------------------------------------------------------------------------------------


def human_size(value) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(value)


def ago(value, now: float | None = None) -> str:
    """`3 minutes ago` for an epoch time; `—` when unknown."""
    if not value:
        return "—"
    seconds = int((now or time.time()) - int(value))
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = seconds // length
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def usd(value) -> str:
    """Dollars: cents from a dollar, four places below (a repository's month is often a fraction of a cent)."""
    if value == 0:
        return "$0"
    if value < 0.0001:
        return "< $0.0001"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def iso(value) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(value))) if value else ""


def short(digest) -> str:
    text = str(digest)
    algorithm, _, encoded = text.partition(":")
    return f"{algorithm}:{encoded[:12]}" if encoded else text[:19]


@functools.cache
def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(static=static_url, prefix=PREFIX)
    from dockyard.domain.durations import text as duration

    env.filters.update(size=human_size, ago=ago, iso=iso, short=short, duration=duration, usd=usd,
                       path=lambda value: quote(str(value), safe="/:@"))
    return env


def render(request, template: str, status: int = 200, headers: dict | None = None, capped: bool = True,
           **context) -> HTMLResponse:
    viewer = getattr(request.state, "viewer", None)
    html = environment().get_template(template).render(request=request, viewer=viewer, **context)
    if capped and len(html) > MAX_PAGE:  # pages cap what they show well below this: a safety net
        raise RegistryError(Err.MANIFEST_TOO_LARGE, f"this page would be {len(html) / 1e6:.1f} MB; read it with the "
                                                "registry API instead")
    return HTMLResponse(html, status_code=status, headers=headers)


# --- errors and headers --------------------------------------------------------------------------------

ERROR_TITLES = {400: "That request is not valid", 401: "Sign-in needed", 403: "Not allowed",
                404: "Not found", 413: "Too large to show", 405: "Not available on this registry", 409: "Conflict",
                429: "Too many requests", 500: "Something went wrong", 503: "The registry is unavailable"}


def error_page(request, exc: RegistryError) -> Response:
    status = exc.err.status
    detail = exc.detail if isinstance(exc.detail, str) else None
    if status >= 500:
        detail = exc.err.message  # never internals
    return render(request, "error.html", status=status, capped=False, title=ERROR_TITLES.get(status, "Error"),
                  message=exc.message, detail=detail, code=exc.err.code,
                  headers={k: v for k, v in exc.headers.items() if k.lower() == "retry-after"})


def secure(request, response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", PAGE_CACHE)
    if request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    for cookie in getattr(request.state, "set_cookies", ()):
        response.headers.append("Set-Cookie", cookie)
    return response


class PageRoute(APIRoute):
    """The pages' route class: every answer, errors included, is HTML with the security headers."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def run(request):
            try:
                response = await handler(request)
            except SignInNeeded:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"{PREFIX}/signin?next={quote(target, safe='')}", status_code=303)
            except RegistryError as exc:
                if exc.err.status >= 500:
                    log.error("page failed: %s %s: %s", request.method, request.url.path, exc)
                response = error_page(request, exc)
            except RequestValidationError:
                response = error_page(request, RegistryError(Err.INVALID_PARAMETER, "a parameter is not valid"))
            except Exception as exc:  # a readable page, never a traceback: 503 when the backend did not answer
                error = unexpected(exc)
                if error.err is Err.BACKEND_UNAVAILABLE:
                    log.warning("page: backend unavailable: %s %s: %s", request.method, request.url.path,
                                type(exc).__name__)
                else:
                    log.error("page failed: %s %s", request.method, request.url.path, exc_info=exc)
                response = error_page(request, error)
            return secure(request, response)

        return run
