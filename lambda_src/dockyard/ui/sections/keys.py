"""Access keys: list, create (the secret is shown once, on the answer to the form), revoke."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse

from dockyard.audit import audited
from dockyard.api.deps import RegistryDep
from dockyard.ui.deps import AnyViewer, Form
from dockyard.ui.sections import Section, attempt
from dockyard.ui.web import PREFIX, registry_host, render

SECTION = Section("keys", "Access keys", "Create, list and revoke the keys that clients and people sign in with.")
EXPIRIES = {"": None, "1d": 86400, "30d": 30 * 86400, "90d": 90 * 86400, "365d": 365 * 86400}
KEYS_PAGE = 100  # keys per page, by id (one query)
routes = SECTION.routes


def _page(request, registry, status: int = 200, after: str | None = None, **context):
    page = registry.access.list_keys(KEYS_PAGE, after)
    keys = sorted(page.items, key=lambda k: (k["state"] != "active", -(k["created_at"] or 0)))
    context.setdefault("form", {"name": "", "allow": "", "expires": "90d"})
    return render(request, "admin/keys.html", status=status, keys=keys, expiries=list(EXPIRIES), section=SECTION,
                  after=after, more=page.last, **context)


@routes.get(SECTION.path)
def list_keys(request: Request, registry: RegistryDep, viewer: AnyViewer, revoked: str | None = None,
              after: str | None = None):
    viewer.require_admin()
    return _page(request, registry, after=after, revoked=revoked)


@routes.post(SECTION.path)
@audited("key.create", status=201)
def create_key(request: Request, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    allow = [line.strip() for line in form.get("allow", "").splitlines() if line.strip()]
    created, refused = attempt(lambda: registry.access.create_key(form.get("name", "").strip(), allow,
                                                                  EXPIRIES.get(form.get("expires", ""), None)))
    if refused:
        return _page(request, registry, 400, error=refused.detail, form=form)
    key, secret = created
    # The secret is on this answer only (never in a URL), and the answer is not stored by the browser.
    return render(request, "admin/key_created.html", status=201, key=key, secret=secret, section=SECTION,
                  host=registry_host(request, registry), headers={"Location": f"/dockyard/v1/keys/{key['id']}"})


@routes.get(SECTION.path + "/{key_id}/revoke")
def confirm_revoke(request: Request, key_id: str, registry: RegistryDep, viewer: AnyViewer):
    viewer.require_admin()
    return render(request, "admin/revoke.html", key=registry.access.get_key(key_id), section=SECTION)


@routes.post(SECTION.path + "/{key_id}/revoke")
@audited("key.revoke", status=303)
def revoke_key(request: Request, key_id: str, registry: RegistryDep, viewer: AnyViewer, form: Form):
    viewer.require_admin()
    key = registry.access.revoke_key(key_id)
    return RedirectResponse(f"{PREFIX}{SECTION.path}?revoked={key['id']}", status_code=303)
