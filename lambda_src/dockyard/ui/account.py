"""Sign-in with an access key, and sign-out."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse

from dockyard.api.deps import RegistryDep
from dockyard.errors import RegistryError
from dockyard.ui import session
from dockyard.ui.deps import AnyViewer, Form, router
from dockyard.ui.web import PREFIX, render

account = router()
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def _safe_next(target: str | None) -> str:
    """Only a page of this site: never another host (`//evil`, `/\\evil`), never a scheme."""
    if target and target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return f"{PREFIX}/"


def _plain_http(request: Request) -> bool:
    """Served over plain HTTP to a host that is not loopback: the browser will drop the Secure cookie."""
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    return scheme == "http" and (request.url.hostname or "") not in LOOPBACK and request.url.hostname != "::1"


def _form_page(request: Request, viewer, next_page: str, error: str | None = None, status: int = 200,
               headers: dict | None = None):
    return render(request, "signin.html", status=status, headers=headers, next=next_page, error=error,
                  insecure=_plain_http(request), key_id="")


@account.get("/signin")
def signin_form(request: Request, viewer: AnyViewer, next: str | None = None):
    return _form_page(request, viewer, _safe_next(next))


@account.post("/signin")
def signin(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    next_page = _safe_next(form.get("next"))
    if viewer.open:
        return RedirectResponse(next_page, status_code=303)
    try:
        session.sign_in(request, registry, form.get("key_id", "").strip(), form.get("secret", "").strip())
    except RegistryError as exc:  # a wrong key, or (429) the brake on guessing its secret
        if exc.err.status not in (400, 401, 429):
            raise
        retry = {k: v for k, v in exc.headers.items() if k.lower() == "retry-after"}
        return _form_page(request, viewer, next_page, exc.detail, exc.err.status, retry)
    return RedirectResponse(next_page, status_code=303)


@account.post("/signout")
def signout(request: Request, viewer: AnyViewer, form: Form):
    session.sign_out(request)
    return RedirectResponse(f"{PREFIX}/signin", status_code=303)
