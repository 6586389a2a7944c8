"""The registry's own public URL, for the token realm. Never what a client writes, unless configured so.

In order:
1. the configured public URL (a custom domain in front; `dockyard serve --public-url`);
2. on Lambda, the Function URL's (or API's) own domain, from the event's `requestContext.domainName`;
3. where forwarded headers are trusted (`--trust-forwarded`, `DOCKYARD_TRUST_FORWARDED`: behind a proxy that
   sets them), `X-Forwarded-Proto` and `X-Forwarded-Host` (else `Host`), if they are well formed;
4. the address the server listens on.
"""

from __future__ import annotations

import re

from starlette.requests import Request

from dockyard.config import Settings

# A host name or an IP address (IPv6 in brackets), with an optional port: nothing that could end a quoted
# parameter of `WWW-Authenticate` or a URL.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z")


def public_base(request: Request, settings: Settings) -> str:
    """`scheme://host[:port]` at which clients reach this registry."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    event = request.scope.get("aws.event")
    if event is not None:
        domain = (event.get("requestContext") or {}).get("domainName") or ""
        if _HOST.match(domain):
            return f"https://{domain}"
    if settings.trust_forwarded:
        scheme = (request.headers.get("x-forwarded-proto") or request.url.scheme).split(",")[0].strip().lower()
        host = (request.headers.get("x-forwarded-host") or request.headers.get("host") or "").split(",")[0].strip()
        if scheme in ("http", "https") and _HOST.match(host):
            return f"{scheme}://{host}"
    return _listening(request)


def _listening(request: Request) -> str:
    scheme = request.scope.get("scheme", "http")
    host, port = request.scope.get("server") or ("localhost", None)
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
